package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A test's stores on a key prefix of its own in a shared etcd: opened through it, closed by {@link
 * #close} (an {@code @AfterEach}, so on failure too), after which the prefix's invariants are
 * checked ({@link EtcdInvariants}).
 */
final class PrefixedStores implements AutoCloseable {
  private final Etcd etcd;
  final String prefix = "/jipam-test-" + UUID.randomUUID();
  private final List<AutoCloseable> opened = new ArrayList<>();

  PrefixedStores(Etcd etcd) {
    this.etcd = etcd;
  }

  /** The shared etcd's endpoints. */
  java.util.List<String> etcdEndpoints() {
    return etcd.endpoints();
  }

  /** The node's store config on this prefix, with a 10 s timeout (shared machines). */
  EtcdStoreConfig config(String node) {
    return EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix).withTimeout(Duration.ofSeconds(10));
  }

  /** A store of {@code config}, closed with the others. */
  EtcdStore open(EtcdStoreConfig config) {
    return keep(EtcdStores.open(config));
  }

  /** {@code c}, closed with the stores. */
  <T extends AutoCloseable> T keep(T c) {
    opened.add(c);
    return c;
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : opened) {
      c.close();
    }
    EtcdInvariants.check(etcd.endpoints(), prefix);
  }
}
