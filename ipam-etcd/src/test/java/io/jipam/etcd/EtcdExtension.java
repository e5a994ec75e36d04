package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives tests a real etcd: inject an {@link Etcd} parameter. One
 * single-member cluster is shared by every test of the run and stopped when the run ends: from
 * {@code ETCD_ENDPOINTS} when set; else started from the {@code etcd} binary on PATH; else, when a
 * Docker engine answers, a Testcontainers etcd; else the test fails, saying what to install. Tests
 * that need their own multi-member cluster call {@link Etcd#cluster} themselves (binary only).
 *
 * <p>This project's machines have the binary and no Docker engine, so the Testcontainers branch is
 * not exercised here.
 */
public final class EtcdExtension implements ParameterResolver {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(EtcdExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext c) {
    return p.getParameter().getType() == Etcd.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext c) {
    return shared(c);
  }

  static Etcd shared(ExtensionContext c) {
    return c.getRoot().getStore(NS).getOrComputeIfAbsent("shared", k -> new Holder(), Holder.class).cluster;
  }

  /** Closed by JUnit when the root context closes: the end of the run. */
  private static final class Holder implements ExtensionContext.Store.CloseableResource, AutoCloseable {
    final Etcd cluster;

    Holder() {
      Etcd c = fromEnvironment();
      if (c == null && Etcd.binary() == null) {
        c = fromTestcontainers();
      }
      if (c == null) {
        try {
          c = Etcd.single();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException("cannot start etcd: " + e.getMessage(), e);
        }
      }
      this.cluster = c;
    }

    @Override
    public void close() {
      cluster.close();
    }
  }

  /** The cluster from ETCD_ENDPOINTS, or null when that is not set. */
  private static Etcd fromEnvironment() {
    String env = System.getenv("ETCD_ENDPOINTS");
    if (env == null || env.isBlank()) {
      return null;
    }
    return Etcd.external(java.util.List.of(env.trim().split("\\s*,\\s*")), null);
  }

  /**
   * A single-member cluster in a container (Testcontainers), or null when no Docker engine answers.
   * For machines without an etcd binary; this project's own machines have none (no engine) and
   * use the binary.
   */
  private static Etcd fromTestcontainers() {
    if (!org.testcontainers.DockerClientFactory.instance().isDockerAvailable()) {
      return null;
    }
    org.testcontainers.containers.GenericContainer<?> container =
        new org.testcontainers.containers.GenericContainer<>(
            org.testcontainers.utility.DockerImageName.parse("quay.io/coreos/etcd:v3.5.17"))
            .withCommand("etcd", "--listen-client-urls", "http://0.0.0.0:2379",
                "--advertise-client-urls", "http://0.0.0.0:2379")
            .withExposedPorts(2379)
            .waitingFor(org.testcontainers.containers.wait.strategy.Wait.forHttp("/health").forPort(2379));
    container.start();
    return Etcd.external(
        java.util.List.of("http://" + container.getHost() + ":" + container.getMappedPort(2379)), container);
  }
}
