package io.jipam.etcd;

import java.util.function.LongSupplier;

/**
 * One etcd lease a store puts keys on, replaced by a newly granted one once it is older than
 * {@code renewAfterNanos} (measured from before the grant was sent, so etcd's copy lives at least
 * {@code ttl - renewAfter} past the last use). Never kept alive: keys on it vanish at most its TTL
 * after their lease was granted (later only when etcd changes leader, which renews every lease).
 * Thread-safe; a grant is one round trip, bounded by the caller's deadline.
 */
final class LeaseSlot {
  private final EtcdClient etcd;
  private final long ttlSeconds;
  private final long renewAfterNanos;
  private final LongSupplier nanoTime;
  private long id;
  private long grantedAt;
  private boolean valid;

  LeaseSlot(EtcdClient etcd, long ttlSeconds, long renewAfterNanos, LongSupplier nanoTime) {
    this.etcd = etcd;
    this.ttlSeconds = ttlSeconds;
    this.renewAfterNanos = renewAfterNanos;
    this.nanoTime = nanoTime;
  }

  /** The lease to put keys on now, granting a new one when the current one is too old. */
  synchronized long id(long deadline) {
    long now = nanoTime.getAsLong();
    if (!valid || now - grantedAt > renewAfterNanos) {
      id = etcd.grantLease(ttlSeconds, deadline, "granting a lease of " + ttlSeconds + " s");
      grantedAt = now;
      valid = true;
    }
    return id;
  }

  /** Forgets the lease (etcd said it does not exist): the next use grants a new one. */
  synchronized void drop() {
    valid = false;
  }
}
