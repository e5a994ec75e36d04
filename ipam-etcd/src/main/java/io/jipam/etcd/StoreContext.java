package io.jipam.etcd;

import java.util.function.LongSupplier;

/**
 * What the parts of one store instance share: its config, its etcd client, the key layout, the
 * block codec and the clock. Immutable; the client is thread-safe.
 */
record StoreContext(EtcdStoreConfig config, EtcdClient etcd, Keys keys, BlockCodec blocks, LongSupplier clock) {

  String node() {
    return config.node();
  }

  long timeoutNanos() {
    return config.timeout().toNanos();
  }

  long now() {
    return clock.getAsLong();
  }
}
