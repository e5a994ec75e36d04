package io.jipam.etcd;

import java.util.concurrent.ThreadLocalRandom;

/**
 * What every writing transaction of one store carries besides its changes: the store's ticket on
 * a short kept-alive lease (a transaction that reaches etcd after that lease ended fails as a
 * whole), the lease its DEL markers go on, and now and then the node's seen record.
 *
 * <p>The ticket's lease has a TTL of the store's timeout rounded up to seconds, at least 2 s
 * (etcd's least lease with default settings; etcd may grant more). It is granted once and kept
 * alive for the life of the store, and retired (no longer renewed, revoked) as soon as a
 * transaction sent on it has an unknown outcome (the store's call failed without knowing whether
 * it applied), or when etcd or the store ends it; the next transaction gets a new one. So a
 * transaction sent on it applies, if ever, before etcd ends the lease: within the TTL after the
 * last renewal, which came at the latest when the store retired it, at the latest at the call's
 * deadline: within timeout + TTL of being sent (or TTL after the store's process died). A marker's
 * lease lasts six times the ticket's TTL, at least {@value #MIN_MARKER_TTL_SECONDS} s, and takes
 * new markers for half of that (at least three TTLs, more than timeout + TTL): every marker
 * outlives any transaction planned before it, and markers do not pile up for long. Thread-safe.
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
  /** Leases of hold indexes, by hold length in seconds (see {@link #holdLease}). */
  private final java.util.concurrent.ConcurrentHashMap<Long, LeaseSlot> holdLeases =
      new java.util.concurrent.ConcurrentHashMap<>();
  /** When this store last wrote its node's seen record (nanoTime), or Long.MIN_VALUE. */
  private volatile long seenWrittenAt = Long.MIN_VALUE;

  CommitTickets(StoreContext ctx) {
    this.ctx = ctx;
    this.ticketKey = ctx.keys().ticket(ctx.node(), Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1));
    long ticketTtl = Math.max(2, (ctx.config().timeout().toMillis() + 999) / 1000);
    this.ticketLease = new LeaseSlot(ctx.etcd(), () -> ticketTtl, 0.5, LeaseSlot.Renewal.KEPT_ALIVE, ctx.clock());
    // six times the ticket's TTL as etcd granted it (etcd may raise a TTL to its least one)
    this.markerLease = new LeaseSlot(ctx.etcd(),
        () -> Math.max(MIN_MARKER_TTL_SECONDS, 6 * ticketLease.ttlSeconds()), 0.5, LeaseSlot.Renewal.ROTATED,
        ctx.clock());
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

  /**
   * The lease a hold index of a pool holding addresses for {@code hold} goes on: a rotated lease
   * with a TTL of the hold plus a margin (half the hold, at least 60 s), replaced once the margin
   * has passed, so it outlives every hold put on it; an index of holds long expired vanishes with
   * it (a pod that never comes back leaves no key behind).
   */
  long holdLease(java.time.Duration hold, long deadline) {
    long seconds = Math.max(1, hold.toSeconds());
    long margin = Math.max(60, seconds / 2);
    return holdLeases.computeIfAbsent(seconds, s -> new LeaseSlot(ctx.etcd(), () -> s + margin,
        (double) margin / (s + margin) * 0.9, LeaseSlot.Renewal.ROTATED, ctx.clock())).id(deadline);
  }

  /**
   * A transaction sent on {@code leaseId} has an unknown outcome: stop renewing that lease, so that
   * it cannot apply later than the lease's TTL from now.
   */
  void retireTicket(long leaseId) {
    ticketLease.retire(leaseId);
  }

  /** Ticket lease grants so far. */
  long ticketGrants() {
    return ticketLease.grants();
  }

  /** The store closes: the ticket's lease is revoked (best effort). */
  void close() {
    ticketLease.close();
    markerLease.close();
    holdLeases.values().forEach(LeaseSlot::close);
  }

  /** etcd no longer has a lease we hold: grant new ones. */
  void dropLeases() {
    ticketLease.drop();
    markerLease.drop();
    holdLeases.values().forEach(LeaseSlot::drop);
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
