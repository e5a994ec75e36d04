package io.jipam.etcd;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives tests a real etcd: inject an {@link EtcdCluster} parameter. One
 * single-member cluster is shared by every test of the run and stopped when the run ends: from
 * {@code ETCD_ENDPOINTS} when set; else started from the {@code etcd} binary on PATH; else, when a
 * Docker engine answers, a Testcontainers etcd; else the test fails, saying what to install. Tests
 * that need their own multi-member cluster call {@link EtcdCluster#start} themselves (binary only).
 *
 * <p>This project's machines have the binary and no Docker engine, so the Testcontainers branch is
 * not exercised here.
 */
public final class EtcdExtension implements ParameterResolver {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(EtcdExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext c) {
    return p.getParameter().getType() == EtcdCluster.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext c) {
    return shared(c);
  }

  static EtcdCluster shared(ExtensionContext c) {
    return c.getRoot().getStore(NS).getOrComputeIfAbsent("shared", k -> new Holder(), Holder.class).cluster;
  }

  /** Closed by JUnit when the root context closes: the end of the run. */
  private static final class Holder implements ExtensionContext.Store.CloseableResource, AutoCloseable {
    final EtcdCluster cluster;

    Holder() {
      EtcdCluster c = EtcdCluster.fromEnvironment();
      if (c == null && EtcdCluster.findEtcd() == null) {
        c = EtcdCluster.fromTestcontainers();
      }
      if (c == null) {
        try {
          c = EtcdCluster.start(1);
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new IllegalStateException("cannot start etcd: " + e.getMessage(), e);
        }
      }
      this.cluster = c;
    }

    @Override
    public void close() {
      cluster.close();
    }
  }
}
