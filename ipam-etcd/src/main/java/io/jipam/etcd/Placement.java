package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where a free address comes from, per range set: this node's blocks in address order; else a
 * block nobody has claimed yet (the first in address order; see below), claimed in the same
 * transaction; else
 * a block without owner (orphaned by a reclaim), claimed; else, unless strict affinity, a free
 * address in another node's block (borrowed); else none. Inside a block the pool's order decides
 * (round-robin from the block's cursor, or lowest free).
 *
 * <p>Claims spread out under contention: fresh nodes starting together all want the same first
 * unclaimed block, one wins each round and the rest fail their guard, so N nodes would take N
 * rounds. Once a batch's transaction has been refused, its next plans claim one of the first
 * {@value #CLAIM_SPREAD} unclaimed blocks, chosen by the node's name and the number of refusals,
 * instead of the first: racing nodes then mostly pick different blocks. An uncontended node keeps
 * claiming in address order.
 *
 * <p>One instance per {@link TxnPlan}; it remembers what it listed so that one plan lists each set
 * once. Confined to the pool's commit task.
 */
final class Placement {
  private static final int MAX_CANDIDATES = 1 << 16;
  static final int CLAIM_SPREAD = 32;
  /** Candidate blocks checked per read from the claim hint, and reads before listing every block. */
  static final int HINT_CHUNK = 64;
  private static final int MAX_HINT_CHUNKS = 4;

  private final StoreContext ctx;
  private final PoolCache cache;
  private final TxnPlan plan;
  private final BlockLayout layout;
  private final Map<Integer, Set<String>> existingIds = new HashMap<>();
  private final Set<Integer> allRead = new HashSet<>();
  private boolean affinityRefreshed;

  Placement(StoreContext ctx, PoolCache cache, TxnPlan plan) {
    this.ctx = ctx;
    this.cache = cache;
    this.plan = plan;
    this.layout = cache.layout();
  }

  /**
   * Takes what a snapshot of every block says (see {@link TxnPlan#snapshot}): the block ids that
   * exist, every set read, the node's blocks known.
   */
  void adoptSnapshot(Map<Integer, Set<String>> ids) {
    existingIds.clear();
    existingIds.putAll(ids);
    allRead.addAll(ids.keySet());
    affinityRefreshed = true;
  }

  /** A free address of the set for the change, written into the plan; null when there is none. */
  Allocation allocateFree(Change.Add add, int set) {
    Allocation got = fromOwnBlocks(add, set);
    if (got != null) {
      return got;
    }
    // find unclaimed blocks BEFORE re-reading the affinities: a block another store of this node
    // claims after that is taken for unclaimed, so claiming it fails its guard and is read
    Long until = cache.nothingToClaimUntil.get(set);
    boolean believed = plan.conflicts == 0 && until != null && ctx.now() - until < 0;
    List<IpAddress> unclaimed = believed ? List.of() : unclaimed(set, plan.conflicts == 0 ? 1 : CLAIM_SPREAD);
    if (!affinityRefreshed && refreshAffinities()) {
      // another store of this node (another plugin process) claimed a block since we loaded
      got = fromOwnBlocks(add, set);
    }
    got = got != null ? got : claimOrBorrow(add, set, unclaimed);
    if (got == null && believed) {
      // nothing free in any block: before answering Exhausted, look for a block to claim again
      cache.nothingToClaimUntil.remove(set);
      got = claimOrBorrow(add, set, unclaimed(set, 1));
    }
    return got;
  }

  /**
   * Up to {@code wanted} blocks of the set that do not exist yet and have an address an ADD may
   * take, first in address order from the set's claim hint (the block claimed last), checking their
   * keys {@value #HINT_CHUNK} at a time (a few KB whatever the pool's size); when there is no hint
   * or nothing unclaimed near it, from the listing of every block key of the set.
   *
   * <p>With other pools of the network over this one's ranges, a block not claimed here may be
   * all theirs (a sub-pool renamed while its pods run): such blocks are passed over, the other
   * pools' blocks read {@value #HINT_CHUNK} candidates at a time, so a range is exhausted only when
   * no block of it has a free address, however many of the first ones the other pools hold.
   */
  private List<IpAddress> unclaimed(int set, int wanted) {
    if (!existingIds.containsKey(set)) {
      List<IpAddress> near = nearHint(set, wanted);
      if (!near.isEmpty()) {
        return near;
      }
    }
    Set<String> existing = existingIds(set);
    List<IpAddress> out = new ArrayList<>(wanted);
    List<IpAddress> chunk = new ArrayList<>(HINT_CHUNK);
    int seen = 0;
    boolean complete = true;
    for (IpAddress net : layout.candidates(set)) {
      if (++seen > MAX_CANDIDATES) {
        complete = false;
        break;
      }
      String id = layout.blockId(set, net);
      Block known = plan.peek(ctx.keys().block(cache.pool.name(), set, id));
      if (!(known != null ? known.exists() : existing.contains(id)) && !BlockLayout.isEmpty(layout.allowed(set, net))) {
        chunk.add(net);
        if (chunk.size() == HINT_CHUNK) {
          keepUsable(set, chunk, out, wanted);
          chunk.clear();
          if (out.size() >= wanted) {
            return out;
          }
        }
      }
    }
    keepUsable(set, chunk, out, wanted);
    if (out.isEmpty() && complete) {
      cache.nothingToClaimUntil.put(set, ctx.now() + PoolCache.NOTHING_TO_CLAIM_NANOS);
    }
    return out;
  }

  /**
   * Adds the blocks of {@code nets} (not claimed in this pool) that have an address an ADD may
   * take, other pools of the network counted, up to {@code wanted} in all; the other pools' blocks
   * they need are read in one request.
   */
  private void keepUsable(int set, List<IpAddress> nets, List<IpAddress> out, int wanted) {
    plan.prefetchAllowed(set, nets);
    for (IpAddress net : nets) {
      if (out.size() >= wanted) {
        return;
      }
      if (!BlockLayout.isEmpty(plan.allowed(set, net))) {
        out.add(net);
      }
    }
  }

  private List<IpAddress> nearHint(int set, int wanted) {
    String pool = cache.pool.name();
    KeyValue hint = ctx.etcd().getAll(List.of(ctx.keys().claimHint(pool, set)), plan.deadline, "reading the claim hint")
        .get(0);
    IpAddress from = hint == null ? null : layout.netOf(set, EtcdClient.text(hint.getValue()));
    List<IpAddress> out = new ArrayList<>(wanted);
    if (from == null) {
      return out;
    }
    List<IpAddress> chunk = new ArrayList<>(HINT_CHUNK);
    int chunks = 0;
    int seen = 0;
    for (IpAddress net : layout.candidatesAfter(set, from)) {
      if (++seen > MAX_CANDIDATES) {
        break; // blocks cached as existing or fully excluded all the way: list the set instead
      }
      Block known = plan.peek(ctx.keys().block(pool, set, layout.blockId(set, net)));
      if (known == null && !BlockLayout.isEmpty(layout.allowed(set, net))) {
        chunk.add(net);
      }
      if (chunk.size() == HINT_CHUNK) {
        absent(set, chunk, out, wanted);
        chunk.clear();
        if (out.size() >= wanted || ++chunks == MAX_HINT_CHUNKS) {
          return out;
        }
      }
    }
    absent(set, chunk, out, wanted);
    return out;
  }

  /**
   * Adds the blocks of {@code nets} whose keys do not exist and that have an address an ADD may
   * take ({@link #keepUsable}), up to {@code wanted} in all.
   */
  private void absent(int set, List<IpAddress> nets, List<IpAddress> out, int wanted) {
    List<String> keys = new ArrayList<>();
    for (IpAddress net : nets) {
      keys.add(ctx.keys().block(cache.pool.name(), set, layout.blockId(set, net)));
    }
    List<KeyValue> got = ctx.etcd().getAll(keys, plan.deadline, "checking blocks to claim");
    List<IpAddress> absent = new ArrayList<>();
    for (int i = 0; i < got.size(); i++) {
      if (got.get(i) == null) {
        absent.add(nets.get(i));
      } else {
        cache.cache(ctx.blocks().decode(layout, keys.get(i), got.get(i)));
      }
    }
    keepUsable(set, absent, out, wanted);
  }

  /**
   * Re-reads this node's affinity keys and loads blocks claimed by other stores of the node;
   * true when there were any.
   */
  private boolean refreshAffinities() {
    affinityRefreshed = true;
    List<String> missing = new ArrayList<>();
    for (Keys.BlockRef ref : cache.ownedBlocks(plan.deadline)) {
      IpAddress net = layout.netOf(ref.set(), ref.id());
      String key = ctx.keys().block(cache.pool.name(), ref.set(), ref.id());
      if (!plan.own(ref.set()).containsKey(net) && !plan.isRead(key)) {
        missing.add(key);
      }
    }
    if (missing.isEmpty()) {
      return false;
    }
    List<KeyValue> got = ctx.etcd().getAll(missing, plan.deadline, "reading blocks of " + ctx.node());
    boolean found = false;
    for (int i = 0; i < got.size(); i++) {
      if (got.get(i) == null) {
        continue;
      }
      Block b = ctx.blocks().decode(layout, missing.get(i), got.get(i));
      cache.cache(b);
      if (b.owner.equals(ctx.node())) {
        plan.own(b.set).put(b.net, b.key);
        found = true;
      }
    }
    return found;
  }

  private Allocation fromOwnBlocks(Change.Add add, int set) {
    AllocationOrder order = add.pool.order();
    for (Map.Entry<IpAddress, String> e : plan.own(set).entrySet()) {
      Block b = plan.peek(e.getValue());
      if (b == null || !b.exists()) {
        continue;
      }
      long[] allowed = plan.allowed(set, b.net);
      if (b.nextFree(allowed, order, plan.now) >= 0) {
        b = plan.mutable(e.getValue(), set, b.net);
        int offset = b.nextFree(allowed, order, plan.now);
        if (offset >= 0) {
          return plan.take(add, b, set, offset);
        }
      }
    }
    return null;
  }

  private Allocation claimOrBorrow(Change.Add add, int set, List<IpAddress> found) {
    AllocationOrder order = add.pool.order();
    String name = add.pool.name();
    // a block nobody has claimed yet (as far as the search found; the claim's guard checks)
    List<IpAddress> unclaimed = new ArrayList<>();
    for (IpAddress net : found) {
      Block known = plan.peek(ctx.keys().block(name, set, layout.blockId(set, net)));
      if (known == null || !known.exists()) {
        unclaimed.add(net);
      }
    }
    int start = plan.conflicts == 0 ? 0 : Math.floorMod(ctx.node().hashCode() * 31 + plan.conflicts * 7919,
        Math.max(1, unclaimed.size()));
    for (int k = 0; k < unclaimed.size(); k++) {
      IpAddress net = unclaimed.get((start + k) % unclaimed.size());
      // the block's fresh copy: nothing allocated, no claims; only other pools may hold all of it
      long[] allowed = plan.allowed(set, net);
      int offset = Block.absent("", set, net, layout.hostBits(set)).nextFree(allowed, order, plan.now);
      if (offset < 0) {
        continue;
      }
      Block b = plan.mutable(ctx.keys().block(name, set, layout.blockId(set, net)), set, net);
      plan.claim(b, set, true);
      return plan.take(add, b, set, b.nextFree(allowed, order, plan.now));
    }
    // a block without owner, then (unless strict) another node's block: first from the copies a
    // warm store keeps (the transaction's guard on the block's revision refuses a stale one, and
    // the plan that follows a refusal reads them all), then from every block read now
    if (plan.conflicts == 0 && !allRead.contains(set)) {
      Allocation got = fromExisting(add, set);
      if (got != null) {
        return got;
      }
    }
    readAll(set);
    return fromExisting(add, set);
  }

  /**
   * A free address in a block of the set that exists, as far as the copies know: one without owner
   * (claimed for this node), then, unless strict affinity, another node's (borrowed); null when
   * none has one.
   */
  private Allocation fromExisting(Change.Add add, int set) {
    AllocationOrder order = add.pool.order();
    List<Block> all = new ArrayList<>();
    for (Block b : cache.blocks.values()) {
      if (b.set == set) {
        Block p = plan.peek(b.key);
        if (p.exists()) {
          all.add(p);
        }
      }
    }
    all.sort(Comparator.comparing((Block b) -> b.net));
    for (int pass = 0; pass < 2; pass++) {
      if (pass == 1 && ctx.config().strictAffinity()) {
        break;
      }
      for (Block p : all) {
        boolean eligible = pass == 0 ? p.owner.isEmpty() : !p.owner.equals(ctx.node()) && !p.owner.isEmpty();
        if (!eligible) {
          continue;
        }
        long[] allowed = plan.allowed(set, p.net);
        if (p.nextFree(allowed, order, plan.now) < 0) {
          continue;
        }
        Block b = plan.mutable(p.key, set, p.net);
        if (pass == 0) {
          b.owner = ctx.node();
          plan.takeAffinity(set, b.net, b.key);
        }
        return plan.take(add, b, set, b.nextFree(allowed, order, plan.now));
      }
    }
    return null;
  }

  /**
   * The last resort ({@link io.jipam.core.store.AddressPolicy}): of the addresses cooling in the
   * blocks within this node's reach (its own, ones without owner, and unless strict affinity other
   * nodes'), the one whose cool-down ends first; null when none. Called on a plan holding a
   * snapshot of every block, so "nothing else is free" holds at one revision.
   */
  Allocation coolest(Change.Add add, int set) {
    Block best = null;
    int bestOffset = -1;
    java.time.Instant bestUntil = null;
    for (Block cached : cache.blocks.values()) {
      Block p = plan.peek(cached.key);
      if (p == null || p.set != set || !p.exists() || p.claims.isEmpty()
          || ctx.config().strictAffinity() && !p.owner.isEmpty() && !p.owner.equals(ctx.node())) {
        continue;
      }
      long[] allowed = plan.allowed(set, p.net);
      for (Map.Entry<Integer, io.jipam.core.store.Claim> e : p.claims.entrySet()) {
        io.jipam.core.store.Claim c = e.getValue();
        int offset = e.getKey();
        if (c.kind() == io.jipam.core.store.Claim.Kind.COOLING && !c.expiredAt(plan.now) && !p.isUsed(offset)
            && BlockLayout.isSet(allowed, offset) && (bestUntil == null || c.until().isBefore(bestUntil))) {
          best = p;
          bestOffset = offset;
          bestUntil = c.until();
        }
      }
    }
    if (best == null) {
      return null;
    }
    return plan.take(add, plan.mutable(best.key, set, best.net), set, bestOffset);
  }

  /**
   * Addresses of range set {@code set}, in the blocks read, that no attachment holds and an
   * unexpired hold or reservation keeps: for an exhausted ADD's message only.
   */
  long claimedAway(int set) {
    long n = 0;
    for (Block cached : cache.blocks.values()) {
      Block p = plan.peek(cached.key);
      if (p == null || p.set != set || !p.exists() || p.claims.isEmpty()
          || ctx.config().strictAffinity() && !p.owner.isEmpty() && !p.owner.equals(ctx.node())) {
        continue; // another node's block under strict affinity: its claims are not why this ADD failed
      }
      long[] allowed = layout.allowed(set, p.net);
      for (Map.Entry<Integer, io.jipam.core.store.Claim> e : p.claims.entrySet()) {
        io.jipam.core.store.Claim c = e.getValue();
        int offset = e.getKey();
        if (c.kind() != io.jipam.core.store.Claim.Kind.COOLING && !c.expiredAt(plan.now) && !p.isUsed(offset)
            && BlockLayout.isSet(allowed, offset)) {
          n++;
        }
      }
    }
    return n;
  }

  private Set<String> existingIds(int set) {
    Set<String> ids = existingIds.get(set);
    if (ids == null) {
      ids = new HashSet<>();
      String prefix = ctx.keys().blocksPrefix(cache.pool.name(), set);
      Set<String> found = ids;
      ctx.etcd().walk(prefix, PoolViews.WALK_PAGE, Fetch.KEYS, plan.deadline, "listing blocks",
          kv -> found.add(ctx.keys().parseBlock(cache.pool.name(), EtcdClient.text(kv.getKey())).id()));
      existingIds.put(set, ids);
    }
    return ids;
  }

  private void readAll(int set) {
    if (!allRead.add(set)) {
      return;
    }
    Set<String> present = new HashSet<>();
    for (Block b : cache.readBlocks(set, plan.deadline)) {
      present.add(b.key);
      if (!plan.isRead(b.key)) {
        cache.cache(b);
      }
    }
    for (Block b : new ArrayList<>(cache.blocks.values())) {
      if (b.set == set && b.exists() && !present.contains(b.key) && !plan.isRead(b.key)) {
        cache.cache(Block.absent(b.key, b.set, b.net, b.hostBits));
      }
    }
  }
}
