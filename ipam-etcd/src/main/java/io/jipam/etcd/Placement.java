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
    // list the existing blocks BEFORE re-reading the affinities: a block another store of this
    // node claims after the listing is not in it, so claiming it fails its guard and is read
    existingIds(set);
    if (!affinityRefreshed && refreshAffinities()) {
      // another store of this node (another plugin process) claimed a block since we loaded
      got = fromOwnBlocks(add, set);
    }
    return got != null ? got : claimOrBorrow(add, set);
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
      long[] allowed = layout.allowed(set, b.net);
      if (b.nextFree(allowed, order) >= 0) {
        b = plan.mutable(e.getValue(), set, b.net);
        int offset = b.nextFree(allowed, order);
        if (offset >= 0) {
          return plan.take(add, b, set, offset);
        }
      }
    }
    return null;
  }

  private Allocation claimOrBorrow(Change.Add add, int set) {
    AllocationOrder order = add.pool.order();
    String name = add.pool.name();
    // a block nobody has claimed yet
    Set<String> existing = existingIds(set);
    int wanted = plan.conflicts == 0 ? 1 : CLAIM_SPREAD;
    List<IpAddress> unclaimed = new ArrayList<>(wanted);
    int seen = 0;
    for (IpAddress net : layout.candidates(set)) {
      if (++seen > MAX_CANDIDATES || unclaimed.size() == wanted) {
        break;
      }
      String id = layout.blockId(set, net);
      Block known = plan.peek(ctx.keys().block(name, set, id));
      if (known != null ? known.exists() : existing.contains(id)) {
        continue;
      }
      if (!BlockLayout.isEmpty(layout.allowed(set, net))) {
        unclaimed.add(net);
      }
    }
    if (!unclaimed.isEmpty()) {
      int pick = Math.floorMod(ctx.node().hashCode() * 31 + plan.conflicts * 7919, unclaimed.size());
      IpAddress net = unclaimed.get(pick);
      Block b = plan.mutable(ctx.keys().block(name, set, layout.blockId(set, net)), set, net);
      plan.claim(b, set);
      return plan.take(add, b, set, b.nextFree(layout.allowed(set, net), order));
    }
    // a block without owner, then (unless strict) another node's block
    readAll(set);
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
        long[] allowed = layout.allowed(set, p.net);
        if (!eligible || p.nextFree(allowed, order) < 0) {
          continue;
        }
        Block b = plan.mutable(p.key, set, p.net);
        if (pass == 0) {
          b.owner = ctx.node();
          plan.setAffinity(set, b.net, b.key, true);
        }
        return plan.take(add, b, set, b.nextFree(allowed, order));
      }
    }
    return null;
  }

  private Set<String> existingIds(int set) {
    Set<String> ids = existingIds.get(set);
    if (ids == null) {
      ids = new HashSet<>();
      String prefix = ctx.keys().blocksPrefix(cache.pool.name(), set);
      for (KeyValue kv : ctx.etcd().range(prefix, true, plan.deadline, "listing blocks")) {
        ids.add(ctx.keys().parseBlock(cache.pool.name(), EtcdClient.text(kv.getKey())).id());
      }
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
