package io.jipam.etcd;

import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.stub.StreamObserver;
import java.util.function.LongSupplier;

/**
 * One etcd lease a store puts keys on, in one of two ways:
 *
 * <ul>
 *   <li><b>rotated</b>: replaced by a newly granted one once a fraction of its TTL has passed
 *       (measured from before the grant was sent, so etcd's copy lives at least the rest of its TTL
 *       past the last use); never kept alive, so keys on it vanish at most its TTL after the grant
 *       (later only when etcd changes leader, which renews every lease). DEL markers use this.
 *   <li><b>kept alive</b>: granted at the first use and kept alive by the client (a renewal
 *       about every third of its TTL, which etcd's leader answers without a raft write) until
 *       {@link #retire}d, dropped, closed, or unused for {@link #IDLE_NANOS} (then revoked: an
 *       idle store costs etcd nothing); then it is no longer renewed and etcd ends it at most its
 *       TTL after the last renewal (retire also revokes it, best effort). Tickets use this.
 * </ul>
 *
 * The TTL is the one etcd gave, which may exceed the one asked for (etcd's least lease TTL).
 * Thread-safe; a grant is one round trip, bounded by the caller's deadline.
 */
final class LeaseSlot implements AutoCloseable {
  /** How a slot's lease lives. */
  enum Renewal {
    /** Kept alive by etcd's keep-alive stream until retired. */
    KEPT_ALIVE,
    /** Never renewed: a new lease is granted once the old one is old enough. */
    ROTATED
  }

  private final EtcdClient etcd;
  private final LongSupplier ttlToAsk;
  private final double renewFraction;
  private final boolean keptAlive;
  private final LongSupplier clock;
  private long id;
  private long ttlSeconds;
  private long grantedAt;
  private boolean valid;
  /** When etcd last renewed the kept-alive lease (nanoTime). */
  private volatile long renewedAt;
  /** When the lease was last handed out (nanoTime): an idle store's lease is let go. */
  private volatile long usedAt;
  /** A kept-alive lease not handed out for this long is revoked instead of renewed. */
  static final long IDLE_NANOS = 30_000_000_000L;
  private CloseableClient keeper;
  /** Grants so far: what the store costs etcd's lease table. */
  private long grants;

  /**
   * @param ttlToAsk the TTL (seconds) to ask for at each grant
   * @param renewFraction rotated: the part of the TTL after which a new lease is granted; kept
   *     alive: the part of the TTL without a renewal after which the lease is given up
   * @param renewal whether the lease is kept alive until retired or rotated
   */
  LeaseSlot(EtcdClient etcd, LongSupplier ttlToAsk, double renewFraction, Renewal renewal, LongSupplier clock) {
    this.etcd = etcd;
    this.ttlToAsk = ttlToAsk;
    this.renewFraction = renewFraction;
    this.keptAlive = renewal == Renewal.KEPT_ALIVE;
    this.clock = clock;
  }

  /** The lease to put keys on now, granting a new one when there is none or it is too old. */
  synchronized long id(long deadline) {
    long now = clock.getAsLong();
    long since = now - (keptAlive ? renewedAt : grantedAt);
    if (!valid || since > (long) (ttlSeconds * renewFraction * 1e9)) {
      stopKeeping();
      long ask = ttlToAsk.getAsLong();
      EtcdClient.Lease lease = etcd.grantLease(ask, deadline, "granting a lease of " + ask + " s");
      id = lease.id();
      ttlSeconds = Math.max(ask, lease.ttlSeconds());
      grantedAt = now;
      renewedAt = now;
      valid = true;
      grants++;
      if (keptAlive) {
        keep(id);
      }
    }
    usedAt = now;
    return id;
  }

  private void keep(long leaseId) {
    keeper = etcd.keepAlive(leaseId, new StreamObserver<>() {
      @Override
      public void onNext(LeaseKeepAliveResponse r) {
        long now = clock.getAsLong();
        if (r.getTTL() <= 0) {
          lost(leaseId);
        } else if (now - usedAt > IDLE_NANOS) {
          // idle: no keep-alives for a store that writes nothing; its next write grants anew
          lost(leaseId);
          etcd.revokeLater(leaseId);
        } else {
          renewedAt = now;
        }
      }

      @Override
      public void onError(Throwable t) {
        lost(leaseId);
      }

      @Override
      public void onCompleted() {
        lost(leaseId);
      }
    });
  }

  /**
   * The keep-alive stream ended or failed for {@code leaseId}, or etcd no longer has it: the lease
   * is given up, and no longer renewed. jetcd would go on renewing it (it restarts a failed stream
   * after 500 ms and keeps every lease it was asked to) until the next use closed the keeper, and
   * {@link #retire} of a lease given up did nothing: a ticket retired after a stream blip was kept
   * alive for up to {@link #IDLE_NANOS}.
   */
  private synchronized void lost(long leaseId) {
    if (id == leaseId) {
      valid = false;
      stopKeeping();
    }
  }

  /** Whether the slot holds a lease it still uses (tests). */
  synchronized boolean holdsLease() {
    return valid;
  }

  /** The TTL of the last lease granted, or what would be asked for when there is none yet. */
  synchronized long ttlSeconds() {
    return ttlSeconds > 0 ? ttlSeconds : ttlToAsk.getAsLong();
  }

  synchronized long grants() {
    return grants;
  }

  /** Forgets the lease (etcd said it does not exist): the next use grants a new one. */
  synchronized void drop() {
    stopKeeping();
    valid = false;
  }

  /**
   * Stops renewing {@code leaseId} if it is this slot's last lease, and revokes it (best effort),
   * whether or not it was given up already: what was sent on it can apply at most until etcd ends
   * it, its TTL after the last renewal.
   */
  synchronized void retire(long leaseId) {
    if (id == leaseId && grants > 0) {
      stopKeeping();
      valid = false;
      etcd.revokeLater(leaseId);
    }
  }

  private void stopKeeping() {
    if (keeper != null) {
      keeper.close();
      keeper = null;
    }
  }

  @Override
  public synchronized void close() {
    if (valid && keptAlive) {
      retire(id);
    }
    stopKeeping();
  }
}
