package io.jipam.etcd;

import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.op.Op;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one {@link TxnPlan} does with claims ({@link io.jipam.core.store.AddressPolicy}'s rules):
 * which reserved or held address an ADD gets, what a released address becomes, and the index
 * records that change with them: the pod hold indexes the plan read (guarded at their revision,
 * rewritten when a hold is made or taken) and the guard on the pool's reservations record. The
 * claims themselves are in the plan's working copies of blocks; every change here goes through the
 * plan's undo log. Confined to the pool's commit task.
 */
final class ClaimPlan {
  /** The most claims a block keeps (its record stays around 100 KB whatever the block's size). */
  static final int MAX_CLAIMS = 1024;

  private final PoolCache cache;
  private final BlockLayout layout;
  private final TxnPlan plan;
  private final StoreContext ctx;
  /** Hold indexes the plan read (guarded at their revision) and their working entries. */
  private final Map<PodRef, List<ClaimIndex.Entry>> holdWork = new LinkedHashMap<>();
  private final Set<PodRef> holdDirty = new LinkedHashSet<>();
  /** Whether the transaction is guarded on the pool's reservations record (it has an ADD of a known pod). */
  private boolean reservationsGuarded;
  private long holdLeaseId;
  /** The hold length of the holds this plan makes (the lease their index goes on outlives them). */
  private java.time.Duration holdLength = java.time.Duration.ZERO;

  ClaimPlan(StoreContext ctx, PoolCache cache, TxnPlan plan) {
    this.ctx = ctx;
    this.cache = cache;
    this.layout = cache.layout();
    this.plan = plan;
  }

  /** Keys the transaction guards for claims. */
  int guards() {
    return holdWork.size() + (reservationsGuarded ? 1 : 0);
  }

  /** Keys the transaction writes for claims (the blocks aside). */
  int writes() {
    return holdDirty.size();
  }

  boolean isClean() {
    return holdDirty.isEmpty();
  }

  /** An unallocated address of the set reserved for the pod by name, else for its namespace. */
  Allocation reserved(Change.Add add, int set) {
    PodRef pod = add.request.pod();
    if (!pod.isKnown() || cache.reservations.entries().isEmpty()) {
      return null;
    }
    for (int pass = 0; pass < 2; pass++) {
      for (ClaimIndex.Entry e : cache.reservations.entries()) {
        boolean named = !e.pod().name().isEmpty();
        if (e.set() != set || named != (pass == 0) || !cache.fits(e)
            || !Claim.reservation(e.address(), e.pod()).admits(pod)) {
          continue;
        }
        Allocation got = takeClaimed(add, set, e.address(), Claim.Kind.RESERVATION, pod);
        if (got != null) {
          return got;
        }
      }
    }
    return null;
  }

  /**
   * An address of the set held for the pod (its hold ends), from the pod's hold index: first one
   * the requesting interface released (a pod with two interfaces on the network gets each one's
   * address back on it), else any.
   */
  Allocation heldFor(Change.Add add, int set) {
    PodRef pod = add.request.pod();
    if (!PoolCache.sticky(add.pool, pod)) {
      return null;
    }
    for (String ifname : new String[] {add.attachment.ifname(), null}) {
      for (ClaimIndex.Entry e : holds(pod)) {
        if (e.set() == set && e.until().isAfter(plan.now) && cache.fits(e)) {
          Allocation got = takeClaimed(add, set, e.address(), Claim.Kind.HOLD, pod, ifname);
          if (got != null) {
            dropHold(add.pool, pod, e.address());
            return got;
          }
        }
      }
    }
    return null;
  }

  private Allocation takeClaimed(Change.Add add, int set, IpAddress address, Claim.Kind kind, PodRef pod) {
    return takeClaimed(add, set, address, kind, pod, null);
  }

  /**
   * Takes the address when its block has it unallocated under a live claim of that kind admitting
   * the pod (and, with {@code ifname}, made by that interface's release).
   */
  private Allocation takeClaimed(Change.Add add, int set, IpAddress address, Claim.Kind kind, PodRef pod,
      String ifname) {
    IpAddress net = layout.blockNet(set, address);
    String key = plan.blockKey(set, net);
    Block b = plan.read(key);
    int offset = layout.offsetIn(set, net, address);
    if (b == null || !b.exists() || b.isUsed(offset)) {
      return null;
    }
    Claim c = b.liveClaim(offset, plan.now);
    if (c == null || c.kind() != kind || !c.admits(pod)
        || ifname != null && (c.releasedBy() == null || !ifname.equals(c.releasedBy().ifname()))
        || plan.heldElsewhere(address)) {
      return null; // (held in another pool of the network: a claim made before that pool took it)
    }
    return plan.take(add, plan.mutable(key, set, net), set, offset);
  }

  /** Guards the transaction on the pool's reservations record as cached. */
  void guardReservations() {
    if (!reservationsGuarded) {
      reservationsGuarded = true;
      plan.onUndo(() -> reservationsGuarded = false);
    }
  }

  /** The pod's hold entries as planned, guarding on its hold index (read by the prefetch, else now). */
  private List<ClaimIndex.Entry> holds(PodRef pod) {
    List<ClaimIndex.Entry> work = holdWork.get(pod);
    if (work != null) {
      return work;
    }
    if (!cache.holds.containsKey(pod)) {
      cache.readHolds(List.of(pod), plan.deadline);
    }
    work = new ArrayList<>(cache.holds.get(pod).entries());
    holdWork.put(pod, work);
    plan.onUndo(() -> holdWork.remove(pod));
    return work;
  }

  private void setHolds(PodRef pod, List<ClaimIndex.Entry> entries) {
    List<ClaimIndex.Entry> before = holds(pod);
    boolean wasDirty = holdDirty.contains(pod);
    plan.onUndo(() -> {
      holdWork.put(pod, before);
      if (!wasDirty) {
        holdDirty.remove(pod);
      }
    });
    List<ClaimIndex.Entry> live = new ArrayList<>();
    for (ClaimIndex.Entry e : entries) {
      if (e.until().isAfter(plan.now) && cache.fits(e)) {
        live.add(e);
      }
    }
    holdWork.put(pod, live);
    holdDirty.add(pod);
  }

  void dropHold(Pool pool, PodRef pod, IpAddress address) {
    if (!PoolCache.sticky(pool, pod)) {
      return; // an index the plan does not read: its entry is ignored once the block says otherwise
    }
    holdLength = pool.policy().sticky().hold(); // the rest of the index goes on a lease outliving it
    List<ClaimIndex.Entry> next = new ArrayList<>(holds(pod));
    next.removeIf(e -> e.address().equals(address));
    setHolds(pod, next);
  }

  /**
   * What a released address becomes ({@link AddressPolicy}): reserved stays reserved; else a hold
   * for a sticky pod while the block's holds are under the bound; else cooling with a reuse delay;
   * else free. Beyond {@value #MAX_CLAIMS} claims a block takes no more holds or cool-downs.
   */
  void afterRelease(AddressPolicy policy, PodRef pod, Attachment att, Block b, int set, int offset) {
    if (b.liveClaim(offset, plan.now) != null) {
      return; // a reservation: it stays
    }
    b.claims.remove(offset);
    IpAddress address = b.addressAt(offset);
    if (PoolCache.sticky(policy, pod)) {
      holdLength = policy.sticky().hold();
      long bound = policy.sticky().maxHeld(BlockLayout.count(layout.allowed(set, b.net)));
      if (b.liveClaims(Claim.Kind.HOLD, plan.now) < bound && b.claims.size() < MAX_CLAIMS) {
        java.time.Instant until = plan.now.plus(policy.sticky().hold());
        b.claims.put(offset, Claim.hold(address, pod, until, att));
        List<ClaimIndex.Entry> next = new ArrayList<>(holds(pod));
        next.removeIf(e -> e.address().equals(address));
        next.add(new ClaimIndex.Entry(set, address, until, null));
        setHolds(pod, next);
        return;
      }
      ClaimDesk.log("network " + cache.pool.name() + ": no hold of " + address + " for pod " + pod + ": block "
          + layout.blockId(set, b.net) + " holds its maximum of " + bound + " addresses (sticky.maxHeldPercent "
          + policy.sticky().maxHeldPercent() + " of the block); earlier releases keep theirs");
    }
    if (!policy.reuseDelay().isZero() && b.claims.size() < MAX_CLAIMS) {
      b.claims.put(offset, Claim.cooling(address, pod, plan.now.plus(policy.reuseDelay()), att));
    }
  }

  /**
   * Gets the lease hold indexes go on, when the plan puts any: one outliving every hold the
   * indexes list, also those made under a longer {@code holdSeconds} than the policy's now (an
   * index on the shorter lease vanished while its holds ran on, and the pod lost its address).
   */
  void takeLease(CommitTickets tickets) {
    holdLeaseId = 0;
    java.time.Duration longest = holdLength;
    boolean any = false;
    for (PodRef pod : holdDirty) {
      for (ClaimIndex.Entry e : holdWork.get(pod)) {
        any = true;
        java.time.Duration left = java.time.Duration.between(plan.now, e.until());
        if (left.compareTo(longest) > 0) {
          longest = left;
        }
      }
    }
    if (any) {
      holdLeaseId = tickets.holdLease(longest == holdLength ? holdLength : leaseLength(longest), plan.deadline);
    }
  }

  /** A hold length rounded up to a power of two seconds (at least a minute): a few leases, not one per hold. */
  static java.time.Duration leaseLength(java.time.Duration left) {
    long seconds = 60;
    while (seconds < left.toSeconds() + 1 && seconds < Long.MAX_VALUE / 2) {
      seconds *= 2;
    }
    return java.time.Duration.ofSeconds(seconds);
  }

  /** The guards, in the order {@link #refresh} reads them back. */
  void addGuards(List<TxnPart.Guard> guards) {
    String pool = cache.pool.name();
    for (PodRef pod : holdWork.keySet()) {
      guards.add(new TxnPart.Guard(ctx.keys().holds(pool, pod), cache.holds.get(pod).modRev()));
    }
    if (reservationsGuarded) {
      guards.add(new TxnPart.Guard(ctx.keys().reservations(pool), cache.reservations.modRev()));
    }
  }

  void addWrites(List<Op> then) {
    String pool = cache.pool.name();
    for (PodRef pod : holdDirty) {
      List<ClaimIndex.Entry> entries = holdWork.get(pod);
      String key = ctx.keys().holds(pool, pod);
      if (!entries.isEmpty()) {
        then.add(plan.put(key, ClaimIndex.encodeHolds(entries), holdLeaseId));
      } else if (cache.holds.get(pod).modRev() != 0L) {
        then.add(plan.delete(key));
      }
    }
  }

  /** After a successful commit: the indexes as written become the cache. */
  void apply(long revision) {
    for (PodRef pod : holdDirty) {
      List<ClaimIndex.Entry> entries = holdWork.get(pod);
      cache.holds.put(pod, entries.isEmpty() ? ClaimIndex.Read.ABSENT : new ClaimIndex.Read(entries, revision));
    }
  }

  /** After a failed guard: the else branch's reads from {@code i} on; returns the index after them. */
  int refresh(List<GetResponse> reads, int i) {
    String pool = cache.pool.name();
    for (PodRef pod : holdWork.keySet()) {
      GetResponse g = reads.get(i++);
      cache.holds.put(pod, ClaimIndex.holds(ctx.keys().holds(pool, pod), g.getKvs().isEmpty() ? null : g.getKvs().get(0)));
    }
    if (reservationsGuarded) {
      GetResponse g = reads.get(i++);
      cache.reservations = ClaimIndex.reservations(ctx.keys().reservations(pool),
          g.getKvs().isEmpty() ? null : g.getKvs().get(0));
    }
    return i;
  }
}
