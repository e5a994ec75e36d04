package io.jipam.etcd;

import java.util.function.LongSupplier;

/**
 * What the parts of one store instance share: its config, its etcd client, the key layout, the
 * block codec and the clocks: {@code clock} (nanoseconds, monotonic) for deadlines, {@code wall}
 * for the times stored in etcd (a node's seen record, a fence) and judged against them (a quiet
 * period). Immutable; the client is thread-safe.
 *
 * @param scoped true for a store that acts for its node only ({@link EtcdNodeStores#forNode}): an
 *     attachment whose handle another node made is refused (PERMISSION_DENIED) to ADD, DEL and
 *     find; false for a store that may touch every node's attachments (an operator's, or a node's
 *     own store on etcd, as before node identity)
 */
record StoreContext(EtcdStoreConfig config, EtcdClient etcd, Keys keys, BlockCodec blocks, LongSupplier clock,
    java.time.Clock wall, boolean scoped) {

  /** When this store may not touch {@code handle}: the refusal to answer with; else null. */
  io.jipam.core.IpamException denial(Handle handle, io.jipam.core.store.Attachment attachment) {
    if (!scoped || handle == null || handle.node().equals(node())) {
      return null;
    }
    return new io.jipam.core.IpamException(io.jipam.core.ErrorCode.PERMISSION_DENIED, "node " + node()
        + " may not act on " + attachment + ": node " + handle.node() + " made that attachment");
  }

  String node() {
    return config.node();
  }

  long timeoutNanos() {
    return config.timeout().toNanos();
  }

  long now() {
    return clock.getAsLong();
  }

  /** The wall-clock time now, by the store's wall clock. */
  java.time.Instant wallNow() {
    return wall.instant();
  }
}
