package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.op.Op;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.RequestedAddresses;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One transaction being planned from a batch of changes: working copies of the blocks and handles
 * it touches, the mod revisions it read them at (its guard), what else it guards on and puts (DEL
 * markers, the node's fence, the store's ticket), and an undo log for the change being planned, so
 * that a change that writes nothing, or does not fit, leaves no trace. Then its commit, and what a
 * success or a failed guard does to the {@link PoolCache}.
 *
 * <p>Design: planning, committing and refreshing stay in one class because they share the working
 * copies and the order of the guard (the else branch's reads come back in that order); address
 * choice is {@link Placement}'s, what claims give and take (and their indexes) {@link ClaimPlan}'s,
 * keeping off the addresses of the network's other pools {@link PeerCheck}'s.
 * Confined to the pool's commit task.
 *
 * <p>Length: about 770 lines, over the usual size: each kind of change (allocate, release, release
 * by address, retain, the claims' holds and reservations) is a short method over the same working
 * copies, guard and undo log, and moving them out would hand those maps to another class for every
 * call. What is not about the working copies has moved out already (address choice, claims, the
 * other pools of the network ({@link PeerCheck}), encoding, sending).
 */
final class TxnPlan {
  private final StoreContext ctx;
  private final PoolCache cache;
  private final CommitTickets tickets;
  private final BlockLayout layout;
  private final Placement placement;
  /** Keeps the plan's ADDs off addresses the network's other pools hold. */
  private final PeerCheck peers;
  /** The batch's deadline: every etcd call of the plan ends by it. */
  final long deadline;
  /** Transactions of this batch refused by their guard so far; claims spread out after one. */
  final int conflicts;

  private final Map<String, Block> work = new HashMap<>();
  private final Map<String, Long> blockGuard = new LinkedHashMap<>();
  private final Set<String> blockDirty = new HashSet<>();
  private final Map<Attachment, Handle> handleWork = new HashMap<>();
  /** Each handle as the plan first read it (what the guard's revision is of). */
  private final Map<Attachment, Handle> handleRead = new HashMap<>();
  private final Map<Attachment, Long> handleGuard = new LinkedHashMap<>();
  private final Set<Attachment> handleDirty = new HashSet<>();
  private final Map<String, Boolean> affinity = new LinkedHashMap<>();
  /** Per set, the block this plan claims last (where the next fresh node starts looking). */
  private final Map<Integer, String> claimHints = new HashMap<>();
  private final List<TreeMap<IpAddress, String>> own = new ArrayList<>();
  /** DEL markers the transaction requires at a revision (0: absent): one per handle it creates. */
  private final Map<Attachment, Long> markerGuard = new LinkedHashMap<>();
  /** Attachments whose DEL marker the transaction puts. */
  private final Set<Attachment> markerPuts = new LinkedHashSet<>();
  /** Handles the transaction creates; when any, it requires this node unfenced. */
  private int creations;
  /** What the plan does to claims and their indexes. */
  private final ClaimPlan claims;
  /** The store's wall clock when the plan began: what claims expire by. */
  final java.time.Instant now;
  private final ArrayDeque<Runnable> undo = new ArrayDeque<>();
  private final Set<String> savedThisChange = new HashSet<>();
  private boolean snapshot;
  /** The revision the snapshot's blocks were read at, and the handles read at it. */
  private long snapshotRevision;
  private final Set<Attachment> snapshotHandles = new HashSet<>();
  /** nanoTime of the seen record this plan's transaction writes, or Long.MIN_VALUE. */
  private long seenPending = Long.MIN_VALUE;
  private long markerLeaseId;
  private long ticketLeaseId;
  private long written;
  private final Set<String> writtenKeys = new HashSet<>();

  TxnPlan(StoreContext ctx, PoolCache cache, CommitTickets tickets, long deadline, int conflicts) {
    this.ctx = ctx;
    this.cache = cache;
    this.tickets = tickets;
    this.deadline = deadline;
    this.conflicts = conflicts;
    this.layout = cache.layout();
    this.now = ctx.wallNow();
    for (TreeMap<IpAddress, String> m : cache.own) {
      own.add(new TreeMap<>(m));
    }
    this.placement = new Placement(ctx, cache, this);
    this.peers = new PeerCheck(ctx, cache.peers, layout, this);
    this.claims = new ClaimPlan(ctx, cache, this);
  }

  // ------------------------------------------------------------------ size and state

  /** Operations of the transaction (the larger of its guard and its writes). */
  int size() {
    return Math.max(blockGuard.size() + handleGuard.size() + markerGuard.size() + claims.guards() + peers.guards() + 1,
        blockDirty.size() + handleDirty.size() + recordWrites().size() + affinity.size() + claimHints.size()
            + markerPuts.size() + claims.writes() + 2);
  }

  boolean isEmpty() {
    return blockGuard.isEmpty() && handleGuard.isEmpty() && affinity.isEmpty() && markerPuts.isEmpty();
  }

  /** True while the plan writes nothing: what it read is all it depends on. */
  boolean isClean() {
    return blockDirty.isEmpty() && handleDirty.isEmpty() && affinity.isEmpty() && markerPuts.isEmpty()
        && claims.isClean();
  }

  /** Runs {@code step} when the change being planned is rolled back. */
  void onUndo(Runnable step) {
    undo.push(step);
  }

  /** The change being planned is in: its undo log is dropped. */
  void endChange() {
    undo.clear();
    savedThisChange.clear();
  }

  /** The change being planned is out: everything it did to the plan is undone. */
  void rollbackChange() {
    while (!undo.isEmpty()) {
      undo.pop().run();
    }
    savedThisChange.clear();
  }

  /**
   * Re-reads every block record of the pool at one revision (in pages), and {@code refused}'s
   * handle at that same revision, and makes that the state the plan decides from: cached and read
   * copies, this node's blocks, the existing block ids.
   * Only on a clean plan (nothing of it depends on the copies it replaces).
   *
   * <p>Why the handle too: a refusal is decided from the snapshot, and its attachment may hold
   * addresses another store of its node gave it (a second central replica, an operator's store)
   * that this cache has not seen. Read later than the blocks, the handle could be gone (released
   * meanwhile) while the blocks still counted its addresses as taken: "exhausted" would then hold
   * at no single revision (seen in a two-replica linearizability history).
   */
  void snapshot(Attachment refused) {
    if (!isClean()) {
      throw new IllegalStateException("snapshot of a plan that writes");
    }
    if (snapshot) {
      // a later refusal of the same plan: its attachment's handle at the blocks' revision
      readHandleAtSnapshot(refused);
      return;
    }
    Map<Integer, Set<String>> ids = new HashMap<>();
    for (int s = 0; s < layout.sets(); s++) {
      ids.put(s, new HashSet<>());
    }
    Set<String> present = new HashSet<>();
    PoolViews.BlockSnapshot read = cache.readSnapshot(deadline);
    snapshotRevision = read.revision();
    readHandleAtSnapshot(refused);
    for (Block b : read.blocks()) {
      present.add(b.key);
      ids.get(b.set).add(ctx.keys().parseBlock(cache.pool.name(), b.key).id());
      cache.cache(b);
    }
    for (Block b : new ArrayList<>(cache.blocks.values())) {
      if (b.exists() && !present.contains(b.key)) {
        cache.cache(Block.absent(b.key, b.set, b.net, b.hostBits));
      }
    }
    work.clear();
    blockGuard.clear();
    for (int s = 0; s < own.size(); s++) {
      own.get(s).clear();
      own.get(s).putAll(cache.own.get(s));
    }
    placement.adoptSnapshot(ids);
    peers.afterSnapshot();
    snapshot = true;
  }

  /** Whether a refusal of {@code a} is decided from one revision: the blocks' and its handle's. */
  boolean snapshotCovers(Attachment a) {
    return snapshot && snapshotHandles.contains(a);
  }

  private void readHandleAtSnapshot(Attachment a) {
    if (snapshotHandles.add(a)) {
      cache.readHandleAt(a, snapshotRevision, deadline);
      Handle fresh = cache.handles.get(a);
      handleWork.put(a, fresh);
      handleRead.put(a, fresh);
      // a guard already taken (by a change of this plan that read the cached copy) stays as it was:
      // if the handle changed since, the transaction fails on it and the whole plan is planned again
      handleGuard.putIfAbsent(a, fresh == null ? 0L : fresh.modRev());
    }
  }

  // ------------------------------------------------------------------ working copies

  TreeMap<IpAddress, String> own(int set) {
    return own.get(set);
  }

  boolean isRead(String key) {
    return work.containsKey(key);
  }

  /** The working copy of a block, guarding the transaction on its revision; null if unknown. */
  Block read(String key) {
    Block b = work.get(key);
    if (b != null) {
      return b;
    }
    Block cached = cache.blocks.get(key);
    if (cached == null) {
      return null;
    }
    b = cached.copy();
    work.put(key, b);
    blockGuard.put(key, cached.modRev);
    return b;
  }

  /** The block as known, without guarding on it (for choosing where to look). */
  Block peek(String key) {
    Block b = work.get(key);
    return b != null ? b : cache.blocks.get(key);
  }

  /** The working copy of a block the current change will change (saved for undo). */
  Block mutable(String key, int set, IpAddress net) {
    Block b = read(key);
    if (b == null) {
      Block fresh = Block.absent(key, set, net, layout.hostBits(set));
      work.put(key, fresh);
      blockGuard.put(key, 0L);
      undo.push(() -> {
        work.remove(key);
        blockGuard.remove(key);
        blockDirty.remove(key);
      });
      savedThisChange.add(key);
      blockDirty.add(key);
      return fresh;
    }
    if (savedThisChange.add(key)) {
      Block saved = b.copy();
      boolean wasDirty = blockDirty.contains(key);
      undo.push(() -> {
        work.put(key, saved);
        if (!wasDirty) {
          blockDirty.remove(key);
        }
      });
    }
    blockDirty.add(key);
    return work.get(key);
  }

  private Handle handle(Attachment a) {
    if (handleWork.containsKey(a)) {
      return handleWork.get(a);
    }
    Handle cached = cache.handles.get(a);
    handleWork.put(a, cached);
    handleRead.put(a, cached);
    handleGuard.put(a, cached == null ? 0L : cached.modRev());
    return cached;
  }

  private void setHandle(Attachment a, Handle h) {
    Handle before = handle(a);
    boolean wasDirty = handleDirty.contains(a);
    undo.push(() -> {
      handleWork.put(a, before);
      if (!wasDirty) {
        handleDirty.remove(a);
      }
    });
    handleWork.put(a, h);
    handleDirty.add(a);
  }

  /** Records that this node takes the block's affinity (written with the plan). */
  void takeAffinity(int set, IpAddress net, String key) {
    setAffinity(set, net, key, true);
  }

  /** Records that this node gives the block's affinity up (deleted with the plan). */
  void dropAffinity(int set, IpAddress net, String key) {
    setAffinity(set, net, key, false);
  }

  private void setAffinity(int set, IpAddress net, String key, boolean owned) {
    String akey = ctx.keys().affinity(ctx.node(), cache.pool.name(), set, layout.blockId(set, net));
    Boolean before = affinity.get(akey);
    String ownBefore = own.get(set).get(net);
    undo.push(() -> {
      if (before == null) {
        affinity.remove(akey);
      } else {
        affinity.put(akey, before);
      }
      if (ownBefore == null) {
        own.get(set).remove(net);
      } else {
        own.get(set).put(net, ownBefore);
      }
    });
    affinity.put(akey, owned);
    if (owned) {
      own.get(set).put(net, key);
    } else {
      own.get(set).remove(net);
    }
  }

  /**
   * Claims a block for this node: empty, owned, indexed. A block claimed because it was the next
   * free one ({@code hinted}) becomes the set's claim hint; one claimed for a requested address
   * does not, since it can lie anywhere in the range (in an IPv6 range, 2^58 blocks past the
   * others) and the next claims would then start there.
   */
  void claim(Block b, int set, boolean hinted) {
    if (hinted) {
      String before = claimHints.put(set, layout.blockId(set, b.net));
      undo.push(() -> {
        if (before == null) {
          claimHints.remove(set);
        } else {
          claimHints.put(set, before);
        }
      });
    }
    b.deleted = false;
    b.owner = ctx.node();
    b.cursor = -1;
    b.used.clear();
    takeAffinity(set, b.net, b.key);
  }

  /**
   * The offsets of the block at {@code net} an ADD may take: in the set's ranges, not reserved
   * there, and not held by another pool of the network ({@link PeerCheck#allowed}). Shared.
   */
  long[] allowed(int set, IpAddress net) {
    return peers.allowed(set, net);
  }

  /** Reads at once what {@link #allowed} needs for the blocks at {@code nets} ({@link PeerCheck#prefetch}). */
  void prefetchAllowed(int set, List<IpAddress> nets) {
    peers.prefetch(set, nets);
  }

  /** Whether another pool of the network holds the address (allocated or claimed there). */
  boolean heldElsewhere(IpAddress address) {
    return peers.heldElsewhere(address);
  }

  /**
   * Gives one offset of a block to the change, guarding the transaction on the other pools of the
   * network that could hand it out too (the caller checked that none holds it).
   */
  Allocation take(Change.Add add, Block b, int set, int offset) {
    peers.guard(b.addressAt(offset));
    b.used.set(offset);
    b.cursor = offset;
    Claim c = b.claims.get(offset);
    if (c != null && c.kind() != Claim.Kind.RESERVATION) {
      b.claims.remove(offset); // a hold taken by its pod, a cooled address, or an expired claim
    }
    return new Allocation(b.addressAt(offset), set, add.attachment, add.request.pod());
  }

  // ------------------------------------------------------------------ planning

  AllocationOutcome allocate(Change.Add add) {
    Pool pool = add.pool;
    AllocationRequest request = add.request;
    Attachment att = add.attachment;
    int sets = layout.sets();
    Allocation[] bySet = new Allocation[sets];
    Handle held = handle(att);
    add.denied = ctx.denial(held, att);
    if (add.denied != null) {
      return null;
    }
    if (held != null) {
      for (Allocation a : held.allocations()) {
        if (a.rangeSetIndex() >= 0 && a.rangeSetIndex() < sets) {
          bySet[a.rangeSetIndex()] = a;
        }
      }
      AllocationOutcome refused = RequestedAddresses.checkHeld(pool, request, bySet);
      if (refused != null) {
        return refused;
      }
      if (add.uncertain instanceof AllocationOutcome.Allocated u && u.allocations().equals(held.allocations())) {
        return AllocationOutcome.Allocated.fresh(held.allocations(), u.origins());
      }
      return AllocationOutcome.Allocated.held(held.allocations());
    }
    PodRef pod = request.pod();
    if (pod.isKnown()) {
      claims.guardReservations();
    }
    Allocation[] chosen = new Allocation[sets];
    AllocationOrigin[] origins = new AllocationOrigin[sets];
    AllocationOutcome refused = RequestedAddresses.check(pool, request, bySet, this::holderOf, chosen);
    if (refused != null) {
      return refused;
    }
    for (int set = 0; set < sets; set++) {
      if (chosen[set] != null) {
        IpAddress wanted = chosen[set].address();
        IpAddress net = layout.blockNet(set, wanted);
        Block b = mutable(blockKey(set, net), set, net);
        if (!b.exists()) {
          claim(b, set, false);
        }
        int offset = layout.offsetIn(set, net, wanted);
        Claim c = b.liveClaim(offset, now);
        if (c != null && !c.admits(pod)) {
          add.claimRefusal = true;
          return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted + " is "
              + io.jipam.core.store.spi.ClaimText.describe(c));
        }
        AllocationOutcome elsewhere = peers.refusal(wanted);
        if (elsewhere != null) {
          add.claimRefusal = elsewhere instanceof AllocationOutcome.Unavailable;
          return elsewhere;
        }
        if (c != null && c.kind() == Claim.Kind.HOLD) {
          claims.dropHold(pool, pod, wanted);
        }
        take(add, b, set, offset);
        origins[set] = AllocationOrigin.REQUESTED;
      }
    }
    for (int set = 0; set < sets; set++) {
      if (chosen[set] != null) {
        continue;
      }
      if ((chosen[set] = claims.reserved(add, set)) != null) {
        origins[set] = AllocationOrigin.RESERVED;
      } else if ((chosen[set] = claims.heldFor(add, set)) != null) {
        origins[set] = AllocationOrigin.STICKY;
      } else if ((chosen[set] = placement.allocateFree(add, set)) != null) {
        origins[set] = AllocationOrigin.FREE;
      } else if (!snapshot) {
        // the last resort is only taken from every block of the pool read at one revision
        return new AllocationOutcome.Exhausted(set);
      } else if ((chosen[set] = placement.coolest(add, set)) != null) {
        origins[set] = AllocationOrigin.COOLED;
        ClaimDesk.log("network " + pool.name() + ": nothing but cooling addresses left in range set " + set + ": "
            + chosen[set].address() + " goes to " + att + " (pod " + request.pod() + ") before its cool-down ends");
      } else {
        return new AllocationOutcome.Exhausted(set, placement.claimedAway(set));
      }
    }
    for (int set = 0; set < sets; set++) {
      // recorded in the handle and the address record; a copy records the copied origin (or none)
      // and still reports REQUESTED, as every store does
      chosen[set] = chosen[set].withOrigin(origins[set] == AllocationOrigin.REQUESTED
          ? request.recordedOrigin(chosen[set].address()) : origins[set]);
    }
    List<Allocation> list = List.of(chosen);
    setHandle(att, new Handle(ctx.node(), request.pod(), list, 0));
    guardCreation(att);
    return AllocationOutcome.Allocated.fresh(list, List.of(origins));
  }

  /**
   * Who holds an address: whether it does is its block's bit (the transaction then guards on that
   * block); who, a handle of this plan or else the address record as of the block copy's revision
   * (written in the same transactions as the bit, so it agrees with the copy).
   */
  private Attachment holderOf(int set, IpAddress address) {
    IpAddress net = layout.blockNet(set, address);
    Block b = read(blockKey(set, net));
    if (b == null || !b.exists() || !b.isUsed(layout.offsetIn(set, net, address))) {
      return null;
    }
    for (Attachment a : handleDirty) {
      Handle h = handleWork.get(a);
      if (h != null && h.allocations().stream().anyMatch(x -> x.address().equals(address))) {
        return a;
      }
    }
    String key = ctx.keys().address(cache.pool.name(), address);
    KeyValue kv = b.modRev == 0 ? null : ctx.etcd().getAt(key, b.modRev, deadline, "reading the holder of " + address);
    if (kv == null) {
      // the bit without its record: never written so; read again rather than hand the address out
      throw new io.jipam.core.IpamException(io.jipam.core.ErrorCode.TRY_AGAIN_LATER, "etcd: " + address
          + " is allocated in block " + b.key + " at revision " + b.modRev + " but " + key + " names no holder");
    }
    return AddressCodec.decode(key, address, kv).attachment();
  }

  String blockKey(int set, IpAddress net) {
    return ctx.keys().block(cache.pool.name(), set, layout.blockId(set, net));
  }

  /** A new handle requires the attachment's DEL marker as last seen, and this node unfenced. */
  private void guardCreation(Attachment att) {
    boolean had = markerGuard.containsKey(att);
    markerGuard.put(att, cache.markers.getOrDefault(att, 0L));
    peers.guardNetwork();
    creations++;
    undo.push(() -> {
      if (!had) {
        markerGuard.remove(att);
      }
      creations--;
    });
  }

  List<Allocation> release(Change.Del del) {
    Attachment att = del.attachment;
    Handle h = handle(att);
    del.denied = ctx.denial(h, att);
    if (del.denied != null) {
      return null;
    }
    if (markerPuts.add(att)) {
      undo.push(() -> markerPuts.remove(att));
    }
    if (h == null) {
      return del.uncertain != null ? del.uncertain : List.of();
    }
    for (Allocation a : h.allocations()) {
      int set = a.rangeSetIndex();
      if (set < 0 || set >= layout.sets()) {
        continue;
      }
      IpAddress net = layout.blockNet(set, a.address());
      String key = blockKey(set, net);
      int offset = layout.offsetIn(set, net, a.address());
      Block b = read(key);
      if (b == null || !b.exists() || !b.isUsed(offset)) {
        continue;
      }
      b = mutable(key, set, net);
      b.used.clear(offset);
      claims.afterRelease(del.pool.policy(), h.pod(), att, b, set, offset);
      if (b.used.isEmpty() && !b.hasLiveClaims(now)) {
        if (b.owner.isEmpty()) {
          b.deleted = true;
        } else if (b.owner.equals(ctx.node()) && own.get(set).size() > 1) {
          b.deleted = true;
          dropAffinity(set, net, key);
        }
      }
    }
    setHandle(att, null);
    return h.allocations();
  }

  // ------------------------------------------------------------------ committing

  /**
   * The records that follow the handles the plan changes: each handle's copy under its node and
   * the address record of each of its addresses; deleted with the handle as it was read, put with
   * the handle as planned (a put wins over a delete of the same key: an address released and taken
   * again in one batch). Null values are deletes.
   */
  private Map<String, String> recordWrites() {
    String pool = cache.pool.name();
    Map<String, String> out = new LinkedHashMap<>();
    for (Attachment a : handleDirty) {
      Handle before = handleRead.get(a);
      if (before != null && handleGuard.get(a) != 0L) {
        out.put(ctx.keys().nodeHandle(before.node(), pool, a), null);
        for (Allocation x : before.allocations()) {
          out.put(ctx.keys().address(pool, x.address()), null);
        }
      }
    }
    for (Attachment a : handleDirty) {
      Handle h = handleWork.get(a);
      if (h != null) {
        out.put(ctx.keys().nodeHandle(h.node(), pool, a), HandleCodec.encode(h));
        for (Allocation x : h.allocations()) {
          out.put(ctx.keys().address(pool, x.address()), AddressCodec.encode(x));
        }
      }
    }
    return out;
  }

  /** Gets the leases the transaction puts keys on (a grant when one is due): before sending it. */
  void takeLeases() {
    ticketLeaseId = isClean() ? 0 : tickets.ticketLease(deadline);
    markerLeaseId = markerPuts.isEmpty() ? 0 : tickets.markerLease(deadline);
    claims.takeLease(tickets);
  }

  /** Sends the plan as one part of a transaction (alone or with other stores' parts: {@link TxnSender}). */
  TxnResult commit(TxnSender sender) {
    String pool = cache.pool.name();
    List<TxnPart.Guard> guards = new ArrayList<>();
    List<Op> then = new ArrayList<>();
    written = 0;
    writtenKeys.clear();
    for (Map.Entry<String, Long> e : blockGuard.entrySet()) {
      guards.add(new TxnPart.Guard(e.getKey(), e.getValue()));
    }
    for (Map.Entry<Attachment, Long> e : handleGuard.entrySet()) {
      guards.add(new TxnPart.Guard(ctx.keys().handle(pool, e.getKey()), e.getValue()));
    }
    for (Map.Entry<Attachment, Long> e : markerGuard.entrySet()) {
      guards.add(new TxnPart.Guard(ctx.keys().deletion(pool, e.getKey()), e.getValue()));
    }
    claims.addGuards(guards);
    if (creations > 0) {
      guards.add(new TxnPart.Guard(ctx.keys().fence(ctx.node()), 0L));
    }
    peers.addGuards(guards);
    for (String key : blockDirty) {
      Block b = work.get(key);
      b.pruneClaims(now);
      if (b.exists()) {
        then.add(put(key, BlockCodec.encode(b)));
      } else if (blockGuard.get(key) != 0L) {
        then.add(delete(key));
      }
    }
    for (Attachment a : handleDirty) {
      String key = ctx.keys().handle(pool, a);
      Handle h = handleWork.get(a);
      if (h != null) {
        then.add(put(key, HandleCodec.encode(h)));
      } else if (handleGuard.get(a) != 0L) {
        then.add(delete(key));
      }
    }
    recordWrites().forEach((key, value) -> then.add(value == null ? delete(key) : put(key, value)));
    for (Map.Entry<String, Boolean> e : affinity.entrySet()) {
      then.add(e.getValue() ? put(e.getKey(), "") : delete(e.getKey()));
    }
    claimHints.forEach((set, id) -> then.add(put(ctx.keys().claimHint(pool, set), id)));
    claims.addWrites(then);
    for (Attachment a : markerPuts) {
      then.add(put(ctx.keys().deletion(pool, a), "", markerLeaseId));
    }
    if (!then.isEmpty()) {
      // the ticket: a transaction that reaches etcd after its lease ended fails as a whole
      then.add(put(tickets.ticketKey(), "", ticketLeaseId));
      long now = ctx.now();
      if (tickets.seenDue(now)) {
        then.add(put(ctx.keys().nodeRecord(ctx.node()), NodeRecords.seenRecord(ctx.wallNow())));
        seenPending = now;
      }
    }
    long guardBytes = 0;
    for (TxnPart.Guard g : guards) {
      guardBytes += 2L * g.key().length();
    }
    return sender.send(new TxnPart(guards, then, writtenKeys, written + guardBytes), deadline,
        "committing " + pool + " for " + ctx.node());
  }

  /** The ticket lease the transaction was sent on (0: none). */
  long ticketLeaseId() {
    return ticketLeaseId;
  }

  /** Bytes of keys and values the last {@link #commit} sent to be written. */
  long writtenBytes() {
    return written;
  }

  private Op put(String key, String value) {
    return put(key, value, 0);
  }

  Op put(String key, String value, long lease) {
    written += key.length() + value.length();
    writtenKeys.add(key);
    return lease == 0 ? EtcdClient.put(key, value) : EtcdClient.put(key, value, lease);
  }

  Op delete(String key) {
    written += key.length();
    writtenKeys.add(key);
    return EtcdClient.delete(key);
  }

  /** After a successful commit: the working copies become the cache. */
  void apply(long revision) {
    if (seenPending != Long.MIN_VALUE) {
      tickets.seenWritten(seenPending);
    }
    for (Attachment a : markerPuts) {
      cache.markers.put(a, revision);
    }
    if (cache.markers.size() > 10_000) {
      cache.markers.clear(); // a cache: a missing entry costs one failed guard
    }
    for (String key : blockDirty) {
      Block b = work.get(key);
      b.modRev = b.exists() ? revision : 0L;
      cache.blocks.put(key, b);
    }
    for (Attachment a : handleDirty) {
      Handle h = handleWork.get(a);
      if (h == null) {
        cache.handles.remove(a);
      } else {
        cache.handles.put(a, h.withModRev(revision));
      }
    }
    for (int s = 0; s < own.size(); s++) {
      cache.own.get(s).clear();
      cache.own.get(s).putAll(own.get(s));
    }
    claims.apply(revision);
  }

  /**
   * After a failed guard: the else branch's reads replace what was stale.
   *
   * @return how the node is fenced when the guard failed on its fence, else null
   */
  String refresh(List<GetResponse> reads, Set<Attachment> knownAbsent) {
    int i = 0;
    for (String key : blockGuard.keySet()) {
      GetResponse g = reads.get(i++);
      cache.cache(ctx.blocks().decode(layout, key, g.getKvs().isEmpty() ? null : g.getKvs().get(0)));
    }
    String pool = cache.pool.name();
    for (Attachment a : handleGuard.keySet()) {
      GetResponse g = reads.get(i++);
      if (g.getKvs().isEmpty()) {
        cache.handles.remove(a);
        knownAbsent.add(a);
      } else {
        cache.handles.put(a, HandleCodec.decode(ctx.keys().handle(pool, a), a, g.getKvs().get(0)));
        knownAbsent.remove(a);
      }
    }
    for (Attachment a : markerGuard.keySet()) {
      GetResponse g = reads.get(i++);
      if (g.getKvs().isEmpty()) {
        cache.markers.remove(a);
      } else {
        cache.markers.put(a, g.getKvs().get(0).getModRevision());
      }
    }
    i = claims.refresh(reads, i);
    String fence = null;
    if (creations > 0) {
      GetResponse g = reads.get(i++);
      if (!g.getKvs().isEmpty()) {
        KeyValue kv = g.getKvs().get(0);
        fence = NodeRecords.describeFence(ctx.keys().fence(ctx.node()), EtcdClient.text(kv.getValue()));
      }
    }
    peers.refresh(reads, i);
    return fence;
  }
}
