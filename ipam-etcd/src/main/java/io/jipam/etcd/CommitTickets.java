package io.jipam.etcd;

import java.util.concurrent.ThreadLocalRandom;

/**
 * What every writing transaction of one store carries besides its changes: the store's ticket on
 * a short lease (a transaction that reaches etcd after that lease ended fails as a whole), the
 * lease its DEL markers go on, and now and then the node's seen record.
 *
 * <p>The ticket's lease lasts the store's timeout rounded up to seconds, at least 2 s (etcd's least
 * lease with default settings; etcd may grant more), and is replaced after 40 % of that. A marker's lease lasts six
 * times the ticket's, at least {@value #MIN_MARKER_TTL_SECONDS} s, and takes new markers for half
 * of that: every marker outlives, by far, any transaction planned before it (which fails once its
 * ticket's lease ended), and markers do not pile up for long. Thread-safe.
 */
final class CommitTickets {
  /** Least lifetime of a DEL marker's lease. */
  static final long MIN_MARKER_TTL_SECONDS = 30;
  /** A store records that its node is alive (nodes/<node>) at most this often. */
  static final long SEEN_EVERY_MILLIS = 5_000;

  private final StoreContext ctx;
  private final String ticketKey;
  private final LeaseSlot ticketLease;
  private final LeaseSlot markerLease;
  /** When this store last wrote its node's seen record (nanoTime), or Long.MIN_VALUE. */
  private volatile long seenWrittenAt = Long.MIN_VALUE;

  CommitTickets(StoreContext ctx) {
    this.ctx = ctx;
    this.ticketKey = ctx.keys().ticket(ctx.node(), Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1));
    long ticketTtl = Math.max(2, (ctx.config().timeout().toMillis() + 999) / 1000);
    this.ticketLease = new LeaseSlot(ctx.etcd(), () -> ticketTtl, 0.4, ctx.clock());
    // six times the ticket's TTL as etcd granted it (etcd may raise a TTL to its least one)
    this.markerLease = new LeaseSlot(ctx.etcd(),
        () -> Math.max(MIN_MARKER_TTL_SECONDS, 6 * ticketLease.ttlSeconds()), 0.5, ctx.clock());
  }

  String ticketKey() {
    return ticketKey;
  }

  long ticketTtlSeconds() {
    return ticketLease.ttlSeconds();
  }

  long ticketLease(long deadline) {
    return ticketLease.id(deadline);
  }

  /** Take the ticket's lease first: the marker's TTL follows the ticket's as etcd granted it. */
  long markerLease(long deadline) {
    return markerLease.id(deadline);
  }

  /** etcd no longer has a lease we hold: grant new ones. */
  void dropLeases() {
    ticketLease.drop();
    markerLease.drop();
  }

  /** True when the next writing transaction should carry the seen record. */
  boolean seenDue(long now) {
    long at = seenWrittenAt;
    return at == Long.MIN_VALUE || now - at > SEEN_EVERY_MILLIS * 1_000_000L;
  }

  void seenWritten(long at) {
    seenWrittenAt = at;
  }
}
