package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.Op;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * Takes back what a gone node held ({@link EtcdStore#reclaimNode}): refuses a node that looks
 * alive unless forced, fences it, releases its handles through the store's own DELs (with the
 * address rules the caller gives, {@link ReclaimPolicy#applyRules}: holds for sticky pods, within
 * the bound, and cool-downs, as the pods' own DELs would make them), and gives its
 * blocks back (empty ones deleted, others orphaned), counting what it did. "Looks alive" is judged
 * by the store's wall clock ({@link StoreContext#wallNow}), which tests inject. Thread-safe.
 */
final class NodeReclaimer {
  /** Runs an etcd read or write, retrying transient failures until the deadline. */
  interface Retrying {
    <T> T run(long deadline, Supplier<T> call);
  }

  private final StoreContext ctx;
  private final PoolViews views;
  private final Retrying retrying;
  /** Releases attachments of a pool through the store's commit queue. */
  private final BiFunction<Pool, List<Attachment>, List<Allocation>> release;
  /** Tells the store's pool caches that blocks changed under them. */
  private final Runnable invalidateCaches;

  NodeReclaimer(StoreContext ctx, PoolViews views, Retrying retrying, BiFunction<Pool, List<Attachment>, List<Allocation>> release,
      Runnable invalidateCaches) {
    this.ctx = ctx;
    this.views = views;
    this.retrying = retrying;
    this.release = release;
    this.invalidateCaches = invalidateCaches;
  }

  ReclaimReport reclaim(String gone, ReclaimPolicy policy) {
    long deadline = ctx.now() + ctx.timeoutNanos() * 4;
    // 1. refuse a node that looks alive, else fence it: one transaction, guarded on the seen record
    Fenced fenced = retrying.run(deadline, () -> fence(gone, policy, deadline));
    // 2. the node allocates nothing more: list and release what it holds
    Map<String, BlockLayout> pools = retrying.run(deadline, () -> pools(deadline));
    Map<String, List<Allocation>> released = new TreeMap<>();
    for (BlockLayout layout : pools.values()) {
      // etcd keeps ranges, not rules: the caller's rules make a sticky pod's release a hold, as its DEL would
      Pool pool = policy.applyRules(layout.pool());
      List<Attachment> theirs = new ArrayList<>(retrying.run(deadline, () -> handles(gone, pool, deadline)).keySet());
      List<Allocation> done = release.apply(pool, theirs);
      if (!done.isEmpty()) {
        released.put(pool.name(), done);
      }
    }
    // 3. give the node's blocks back: delete the empty ones, orphan the rest
    int[] counts = retrying.run(deadline, () -> returnBlocks(gone, pools, deadline));
    invalidateCaches.run();
    return new ReclaimReport(gone, fenced.lastSeen(), fenced.looksAlive(), released, counts[0], counts[1],
        counts[2]);
  }

  ReclaimPreview preview(String node, ReclaimPolicy policy) {
    long deadline = ctx.now() + ctx.timeoutNanos() * 4;
    String recordKey = ctx.keys().nodeRecord(node);
    List<KeyValue> got = retrying.run(deadline,
        () -> ctx.etcd().getAll(List.of(recordKey, ctx.keys().fence(node)), deadline, "reading node " + node));
    Instant lastSeen = got.get(0) == null ? null : NodeRecords.seen(recordKey, EtcdClient.text(got.get(0).getValue()));
    boolean looksAlive = lastSeen != null
        && Duration.between(lastSeen, ctx.wallNow()).compareTo(policy.quietPeriod()) < 0;
    Map<String, List<Allocation>> held = new TreeMap<>();
    for (BlockLayout layout : retrying.run(deadline, () -> pools(deadline)).values()) {
      List<Allocation> theirs = new ArrayList<>();
      for (Handle h : retrying.run(deadline, () -> handles(node, layout.pool(), deadline)).values()) {
        theirs.addAll(h.allocations());
      }
      if (!theirs.isEmpty()) {
        theirs.sort(java.util.Comparator.comparing(Allocation::address));
        held.put(layout.pool().name(), theirs);
      }
    }
    return new ReclaimPreview(node, lastSeen, looksAlive, got.get(1) != null, held);
  }

  /** Every pool defined in etcd, by name (order round-robin: the order is not stored). */
  List<Pool> definedPools(long deadline) {
    List<Pool> out = new java.util.ArrayList<>();
    pools(deadline).values().forEach(l -> out.add(l.pool()));
    return out;
  }

  private Map<String, BlockLayout> pools(long deadline) {
    // a pool still in the previous layout is refused, not left out
    for (KeyValue kv : ctx.etcd().range(ctx.keys().previousPoolsPrefix(), Fetch.VALUES, deadline, "listing pools")) {
      if (LayoutVersion.isPreviousDefinition(EtcdClient.text(kv.getValue()))) {
        String key = EtcdClient.text(kv.getKey());
        throw LayoutVersion.previousLayout(ctx.keys(), key.substring(ctx.keys().previousPoolsPrefix().length()));
      }
    }
    Map<String, BlockLayout> out = new TreeMap<>();
    for (KeyValue kv : ctx.etcd().range(ctx.keys().poolsPrefix(), Fetch.VALUES, deadline, "listing pools")) {
      String name = ctx.keys().parsePool(EtcdClient.text(kv.getKey()));
      out.put(name, BlockLayout.parse(name, EtcdClient.text(kv.getValue()), AllocationOrder.ROUND_ROBIN));
    }
    return out;
  }

  /** The handles of {@code pool} that {@code node} made, by attachment, in key order: the node's keys only. */
  private Map<Attachment, Handle> handles(String node, Pool pool, long deadline) {
    return views.handlesOf(node, pool.name(), deadline);
  }

  boolean liftFence(String fenced, long deadline) {
    String key = ctx.keys().fence(fenced);
    return retrying.run(deadline, () -> ctx.etcd().txn(List.of(), List.of(EtcdClient.delete(key)), List.of(),
        deadline, "lifting the fence of " + fenced).getDeleteResponses().get(0).getDeleted() > 0);
  }

  /** A fenced node: when it was last seen, and whether that was within the quiet period. */
  private record Fenced(Instant lastSeen, boolean looksAlive) {}

  /**
   * Reads the node's seen record and fence; refuses a node seen within the quiet period (unless
   * forced); writes the fence guarded on the seen record's revision, so a node that records a
   * commit in between is judged again. A node fenced already is not judged: the reclaim goes on.
   */
  private Fenced fence(String gone, ReclaimPolicy policy, long deadline) {
    String recordKey = ctx.keys().nodeRecord(gone);
    String fenceKey = ctx.keys().fence(gone);
    for (int attempt = 0; ; attempt++) {
      List<KeyValue> got = ctx.etcd().getAll(List.of(recordKey, fenceKey), deadline, "reading node " + gone);
      KeyValue record = got.get(0);
      Instant lastSeen = record == null ? null : NodeRecords.seen(recordKey, EtcdClient.text(record.getValue()));
      Duration since = lastSeen == null ? null : Duration.between(lastSeen, ctx.wallNow());
      boolean looksAlive = since != null && since.compareTo(policy.quietPeriod()) < 0;
      if (got.get(1) != null) {
        return new Fenced(lastSeen, looksAlive);
      }
      if (looksAlive && !policy.force()) {
        throw new IpamException(ErrorCode.NOT_AVAILABLE, "reclaim of node " + gone + " refused: a store of it"
            + " committed " + since.toMillis() / 1000 + " s ago (at " + lastSeen + "), within the quiet period of "
            + policy.quietPeriod().toSeconds() + " s, so it looks alive and its pods may still use their addresses."
            + " Nothing was changed. Reclaim it once it is gone, or force it if you know it is");
      }
      TxnResponse r = ctx.etcd().txn(
          List.of(EtcdClient.modRev(recordKey, record == null ? 0 : record.getModRevision())),
          List.of(EtcdClient.put(fenceKey, NodeRecords.fence(ctx.node(), ctx.wallNow()))), List.of(), deadline,
          "fencing node " + gone);
      if (r.isSucceeded()) {
        return new Fenced(lastSeen, looksAlive);
      }
      if (attempt > 20) {
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "node " + gone + " keeps committing; not fenced");
      }
    }
  }

  /** Deletes the node's affinities and empty blocks, orphans its other blocks: {deleted, orphaned, affinities}. */
  private int[] returnBlocks(String gone, Map<String, BlockLayout> pools, long deadline) {
    int[] counts = new int[3];
    for (KeyValue kv : ctx.etcd().range(ctx.keys().affinityPrefix(gone), Fetch.KEYS, deadline, "listing affinities")) {
      String affinityKey = EtcdClient.text(kv.getKey());
      Keys.BlockRef ref = ctx.keys().parseAffinity(gone, affinityKey);
      BlockLayout layout = pools.get(ref.pool());
      String blockKey = layout == null ? null : ctx.keys().block(ref.pool(), ref.set(), ref.id());
      for (int attempt = 0; ; attempt++) {
        List<Cmp> cmps = new ArrayList<>();
        List<Op> then = new ArrayList<>();
        then.add(EtcdClient.delete(affinityKey));
        int change = -1;
        if (blockKey != null) {
          KeyValue got = ctx.etcd().getAll(List.of(blockKey), deadline, "reading block " + blockKey).get(0);
          if (got != null) {
            Block b = ctx.blocks().decode(layout, blockKey, got);
            cmps.add(EtcdClient.modRev(blockKey, b.modRev));
            if (b.owner.equals(gone)) {
              // a block with live claims (holds, reservations, cool-downs) stays, without owner
              if (b.used.isEmpty() && !b.hasLiveClaims(ctx.wallNow())) {
                then.add(EtcdClient.delete(blockKey));
                change = 0;
              } else {
                b.owner = "";
                then.add(EtcdClient.put(blockKey, BlockCodec.encode(b)));
                change = 1;
              }
            }
          }
        }
        if (ctx.etcd().txn(cmps, then, List.of(), deadline, "releasing block of " + gone).isSucceeded()) {
          if (change >= 0) {
            counts[change]++;
          }
          counts[2]++;
          break;
        }
        if (attempt > 20) {
          throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "block " + blockKey + " keeps changing");
        }
      }
    }
    return counts;
  }
}
