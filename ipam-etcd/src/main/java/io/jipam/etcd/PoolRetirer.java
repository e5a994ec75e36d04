package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.Op;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.RetireOutcome;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Retiring an emptied pool ({@link io.jipam.core.store.capability.RetirePools}): one transaction
 * that deletes the pool's definition (and its layout-1 stand-in), blocks, their affinity keys,
 * claim hints, hold indexes and reservations record, and puts the network's guard key, guarded so
 * that nothing of the pool changed since it was read empty: range compares ({@link
 * EtcdClient#unchangedSince}) over its blocks, handles, address records and hold indexes, and the
 * definition and reservations record at their revisions. An ADD that lands first changes its block
 * (fails the guard: read again, then refused); one planned before the retire and landing after it
 * fails its own guard on the network key, and its store reads the network again, finds the pool
 * undefined and defines it anew ({@link PoolCache#load}). DEL markers are left to their leases.
 * Thread-safe.
 */
final class PoolRetirer {
  private static final int MAX_ATTEMPTS = 20;
  /** Affinity keys deleted in the retiring transaction; more go in transactions of their own after it. */
  private static final int AFFINITIES_PER_TXN = 64;

  private final StoreContext ctx;
  private final PoolViews views;
  /** Told of each pool retired here, with the revision of the retiring transaction. */
  private final java.util.function.ObjLongConsumer<String> retired;
  private volatile boolean checked;

  PoolRetirer(StoreContext ctx, PoolViews views, java.util.function.ObjLongConsumer<String> retired) {
    this.ctx = ctx;
    this.views = views;
    this.retired = retired;
  }

  /** What {@link io.jipam.core.store.capability.RetirePools#retire} does, within the deadline. */
  RetireOutcome retire(String pool, long deadline) {
    Pool.requireName(pool);
    checkRangeCompares();
    Keys keys = ctx.keys();
    String defKey = keys.pool(pool);
    String previous = keys.previousPool(pool);
    String resKey = keys.reservations(pool);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      TxnResponse read = ctx.etcd().txn(List.of(), List.of(EtcdClient.get(defKey), EtcdClient.get(previous),
          EtcdClient.countUnder(keys.addressesPrefix(pool)), EtcdClient.countUnder(keys.handlesPrefix(pool)),
          EtcdClient.get(resKey), EtcdClient.firstUnder(keys.blocksPrefix(pool))), List.of(), deadline,
          "reading pool " + pool);
      long rev = read.getHeader().getRevision();
      List<GetResponse> got = read.getGetResponses();
      KeyValue def = first(got.get(0));
      KeyValue old = first(got.get(1));
      if (old != null && LayoutVersion.isPreviousDefinition(EtcdClient.text(old.getValue()))) {
        throw LayoutVersion.previousLayout(keys, pool);
      }
      long addresses = got.get(2).getCount();
      long handles = got.get(3).getCount();
      if (def == null) {
        KeyValue block = first(got.get(5));
        if (addresses > 0 || handles > 0 || block != null) {
          throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: pool \"" + pool + "\" has keys ("
              + (block != null ? EtcdClient.text(block.getKey()) : addresses > 0 ? keys.addressesPrefix(pool)
              : keys.handlesPrefix(pool)) + ") but no definition (" + defKey + "): its definition was deleted"
              + " without its other keys. Delete every key of the pool (docs/etcd.md, \"Key layout\")");
        }
        return new RetireOutcome.NotFound(pool);
      }
      BlockLayout layout = BlockLayout.parse(pool, EtcdClient.text(def.getValue()), AllocationOrder.LOWEST_FREE);
      // read after rev, in pages: the guard below requires them unchanged since rev
      List<Block> blocks = views.blocksAt(layout, -1, deadline).blocks();
      Instant now = ctx.wallNow();
      int used = 0;
      int claims = 0;
      for (Block b : blocks) {
        used += b.usedCount();
        for (Claim c : b.claims.values()) {
          claims += c.expiredAt(now) ? 0 : 1;
        }
      }
      claims = Math.max(claims, ClaimIndex.reservations(resKey, first(got.get(4))).entries().size());
      int allocations = (int) Math.max(used, Math.max(addresses, handles));
      if (allocations > 0 || claims > 0) {
        return new RetireOutcome.InUse(pool, allocations, claims);
      }
      List<Cmp> cmps = List.of(EtcdClient.modRev(defKey, def.getModRevision()),
          EtcdClient.modRev(previous, old == null ? 0 : old.getModRevision()),
          EtcdClient.modRev(resKey, first(got.get(4)) == null ? 0 : first(got.get(4)).getModRevision()),
          EtcdClient.unchangedSince(keys.blocksPrefix(pool), rev),
          EtcdClient.unchangedSince(keys.handlesPrefix(pool), rev),
          EtcdClient.unchangedSince(keys.addressesPrefix(pool), rev),
          EtcdClient.unchangedSince(keys.holdsPrefix(pool), rev));
      List<Op> then = new ArrayList<>(List.of(EtcdClient.delete(defKey), EtcdClient.deletePrefix(keys.blocksPrefix(pool)),
          EtcdClient.deletePrefix(keys.claimHintsPrefix(pool)), EtcdClient.deletePrefix(keys.holdsPrefix(pool)),
          EtcdClient.delete(resKey),
          // the network's pools changed: every store's next handle-creating transaction in it fails its
          // guard and reads them again
          EtcdClient.put(keys.network(Pool.networkOf(pool)), pool)));
      if (old != null) {
        then.add(EtcdClient.delete(previous)); // the stand-in
      }
      List<Block> owned = blocks.stream().filter(b -> !b.owner.isEmpty()).toList();
      for (Block b : owned.subList(0, Math.min(owned.size(), AFFINITIES_PER_TXN))) {
        then.add(EtcdClient.delete(affinity(pool, b)));
      }
      TxnResponse done = ctx.etcd().txn(cmps, then, List.of(), deadline, "retiring pool " + pool);
      if (done.isSucceeded()) {
        retired.accept(pool, done.getHeader().getRevision());
        deleteAffinities(pool, owned.subList(Math.min(owned.size(), AFFINITIES_PER_TXN), owned.size()), deadline);
        return new RetireOutcome.Retired(pool);
      }
    }
    throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: pool \"" + pool + "\" kept changing while"
        + " being retired; nothing was changed, try again");
  }

  /**
   * The affinity keys of the retired pool's blocks that did not fit its transaction, each deleted
   * while its block is still absent (a pool defined again may have claimed it meanwhile).
   */
  private void deleteAffinities(String pool, List<Block> blocks, long deadline) {
    for (Block b : blocks) {
      ctx.etcd().txn(List.of(EtcdClient.absent(b.key)), List.of(EtcdClient.delete(affinity(pool, b))), List.of(),
          deadline, "deleting the affinity of " + b.key);
    }
  }

  private String affinity(String pool, Block b) {
    return ctx.keys().affinity(b.owner, pool, b.set, ctx.keys().parseBlock(pool, b.key).id());
  }

  private void checkRangeCompares() {
    if (!checked) {
      if (!io.etcd.jetcd.op.RangeCmp.check()) {
        throw new IpamException(ErrorCode.INTERNAL, "etcd store: range compares cannot be sent (the class"
            + " io.etcd.jetcd.op.RangeCmp was loaded apart from jetcd's io.etcd.jetcd.op.Cmp); no pool is retired");
      }
      checked = true;
    }
  }

  private static KeyValue first(GetResponse g) {
    return g.getKvs().isEmpty() ? null : g.getKvs().get(0);
  }
}
