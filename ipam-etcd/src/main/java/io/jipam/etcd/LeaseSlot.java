package io.jipam.etcd;

import java.util.function.LongSupplier;

/**
 * One etcd lease a store puts keys on, replaced by a newly granted one once a fraction of its TTL
 * has passed (measured from before the grant was sent, so etcd's copy lives at least the rest of
 * its TTL past the last use). Never kept alive: keys on it vanish at most its TTL after the grant
 * (later only when etcd changes leader, which renews every lease). The TTL is the one etcd gave,
 * which may exceed the one asked for (etcd's least lease TTL). Thread-safe; a grant is one round
 * trip, bounded by the caller's deadline.
 */
final class LeaseSlot {
  private final EtcdClient etcd;
  private final LongSupplier ttlToAsk;
  private final double renewFraction;
  private final LongSupplier clock;
  private long id;
  private long ttlSeconds;
  private long grantedAt;
  private boolean valid;

  /**
   * @param ttlToAsk the TTL (seconds) to ask for at each grant
   * @param renewFraction the part of the TTL after which a new lease is granted
   */
  LeaseSlot(EtcdClient etcd, LongSupplier ttlToAsk, double renewFraction, LongSupplier clock) {
    this.etcd = etcd;
    this.ttlToAsk = ttlToAsk;
    this.renewFraction = renewFraction;
    this.clock = clock;
  }

  /** The lease to put keys on now, granting a new one when the current one is too old. */
  synchronized long id(long deadline) {
    long now = clock.getAsLong();
    if (!valid || now - grantedAt > (long) (ttlSeconds * renewFraction * 1e9)) {
      long ask = ttlToAsk.getAsLong();
      EtcdClient.Lease lease = etcd.grantLease(ask, deadline, "granting a lease of " + ask + " s");
      id = lease.id();
      ttlSeconds = Math.max(ask, lease.ttlSeconds());
      grantedAt = now;
      valid = true;
    }
    return id;
  }

  /** The TTL of the last lease granted, or what would be asked for when there is none yet. */
  synchronized long ttlSeconds() {
    return ttlSeconds > 0 ? ttlSeconds : ttlToAsk.getAsLong();
  }

  /** Forgets the lease (etcd said it does not exist): the next use grants a new one. */
  synchronized void drop() {
    valid = false;
  }
}
