package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.kv.TxnResponse;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What one store knows of one pool: its definition (checked against etcd once), and copies of the
 * blocks, handles and DEL markers it read or wrote, each as of its mod revision, with the index of
 * this node's blocks. Copies may be stale; every write is guarded on their revisions, and refusals
 * re-read (see {@link TxnPlan#snapshot}).
 *
 * <p>Threads: the definition is safe to read from any thread; everything else is confined to the
 * pool's commit task (handed over by {@link CommitQueue}'s draining flag). {@link #invalidate} may
 * be called from any thread.
 */
final class PoolCache {
  final Pool pool;
  final String rangesText;
  private final StoreContext ctx;
  private final PoolViews views;
  private final Object definitionLock = new Object();
  /** Set once the definition is checked against etcd; null again after the pool was retired. */
  private volatile BlockLayout layout;
  /** The create revision of the definition {@link #layout} was checked against. */
  private volatile long definedRev;
  private final AtomicBoolean invalid = new AtomicBoolean();

  private boolean loaded;
  /** Per range set, this node's blocks by network (values: block keys). */
  final List<TreeMap<IpAddress, String>> own = new ArrayList<>();
  /** Blocks read or written, by key. */
  final Map<String, Block> blocks = new HashMap<>();
  /** Handles read or written by this store. */
  final Map<Attachment, Handle> handles = new HashMap<>();
  /** Mod revisions of DEL markers seen or written (absent: none known). */
  final Map<Attachment, Long> markers = new HashMap<>();
  /**
   * The pool's reservations record as last read or written; every transaction with an ADD of a
   * known pod is guarded on its revision, so a reservation made elsewhere is seen at the next ADD.
   */
  ClaimIndex.Read reservations = ClaimIndex.Read.ABSENT;
  /** Hold indexes of pods read for the current batch (dropped at each batch). */
  final Map<io.jipam.core.store.PodRef, ClaimIndex.Read> holds = new HashMap<>();
  /** The other pools of the pool's network, whose addresses its ADDs must not take. */
  final NetworkPeers peers;
  /**
   * Per range set, until when (the store's monotonic clock) a listing of its blocks found none left to claim:
   * a node that borrows (every block claimed, more nodes than blocks or a nearly full pool) does not
   * list them again for each ADD. A block deleted meanwhile is claimed once this passes, and an ADD
   * that would be answered Exhausted lists them again first.
   */
  final Map<Integer, Long> nothingToClaimUntil = new HashMap<>();
  /** How long a listing that found no block to claim is believed. */
  static final long NOTHING_TO_CLAIM_NANOS = 5_000_000_000L;

  /** The store's record of the networks' pools ({@link KnownNetworks}), told of a definition made here. */
  private final KnownNetworks networks;

  PoolCache(StoreContext ctx, PoolViews views, KnownNetworks known, Pool pool) {
    this.ctx = ctx;
    this.views = views;
    this.networks = known;
    this.pool = pool;
    this.rangesText = BlockLayout.rangesText(pool);
    this.peers = new NetworkPeers(ctx, known, pool);
  }

  /** The layout, once {@link #definition} has checked it. */
  BlockLayout layout() {
    return layout;
  }

  /** Marks the copies stale (another part of this store changed the pool); the commit task reloads. */
  void invalidate() {
    invalid.set(true);
  }

  /** Drops every copy; the next batch loads again. */
  void forget() {
    loaded = false;
    blocks.clear();
    handles.clear();
    markers.clear();
    holds.clear();
    reservations = ClaimIndex.Read.ABSENT;
    own.forEach(TreeMap::clear);
    nothingToClaimUntil.clear();
    peers.forget();
  }

  /** The longest definition stored: a third of etcd's default request bound, so a transaction still fits. */
  static final int MAX_DEFINITION_CHARS = 512 * 1024;

  private static long rangeCount(Pool pool) {
    long n = 0;
    for (io.jipam.core.net.RangeSet set : pool.rangeSets()) {
      for (io.jipam.core.net.IpRange range : set.ranges()) {
        n += 1 + range.exclude().size();
      }
    }
    return n;
  }

  /**
   * Makes sure the pool is defined in etcd, defining it from this config when it is not, and
   * refusing a config whose ranges differ from the stored ones. The stored block lengths win: every
   * node must cut the pool the same way.
   */
  BlockLayout definition(long deadline) {
    BlockLayout known = layout;
    if (known != null) {
      return known;
    }
    synchronized (definitionLock) {
      if (layout != null) {
        return layout;
      }
      String key = ctx.keys().pool(pool.name());
      String previous = ctx.keys().previousPool(pool.name());
      String mine = BlockLayout.fresh(pool, ctx.config().blockSizeV4(), ctx.config().blockSizeV6()).definition();
      // defined in this layout only when the previous layout does not hold the pool; the stand-in
      // put at the previous layout's key makes a store of that layout refuse the pool
      String stored = null;
      long storedRev = 0;
      long previousRev = 0;
      boolean noBlocks = false; // seen while the pool was undefined: it may be defined
      while (stored == null) {
        List<Cmp> undefined = List.of(EtcdClient.absent(key), EtcdClient.modRev(previous, previousRev));
        // the first look writes nothing: a pool whose definition was deleted without its blocks
        // (by hand) must not be defined again over them, perhaps cut otherwise
        TxnResponse r = ctx.etcd().txn(undefined, noBlocks
            ? List.of(EtcdClient.put(key, mine), EtcdClient.put(previous, LayoutVersion.standIn(ctx.keys())),
                EtcdClient.put(ctx.keys().layoutVersion(), LayoutVersion.record()),
                // the network's pools changed: a transaction planned without this one fails its guard
                EtcdClient.put(peers.guardKey, pool.name()))
            : List.of(EtcdClient.firstUnder(ctx.keys().blocksPrefix(pool.name()))),
            peers.withReads(List.of(EtcdClient.get(key), EtcdClient.get(previous))), deadline,
            "defining pool " + pool.name());
        if (r.isSucceeded() && !noBlocks) {
          List<KeyValue> block = r.getGetResponses().get(0).getKvs();
          if (!block.isEmpty()) {
            throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: pool \"" + pool.name() + "\" has blocks ("
                + EtcdClient.text(block.get(0).getKey()) + ") but no definition (" + key + "): its definition was"
                + " deleted without its other keys. Delete every key of the pool (docs/etcd.md, \"Key layout\"),"
                + " or put its definition back");
          }
          if (mine.length() > MAX_DEFINITION_CHARS) {
            // about to be written, and etcd would refuse the request (its --max-request-bytes, 1.5 MiB
            // by default) as a transport error: this is the config's doing, said as such (a pool
            // defined already, by an earlier jipam, is read whatever its size)
            throw IpamException.invalidConfig("network \"%s\" has a definition of %d characters as etcd would store"
                + " it (%d ranges and exclude entries): at most %d are stored; use fewer ranges or excludes",
                pool.name(), mine.length(), rangeCount(pool), MAX_DEFINITION_CHARS);
          }
          noBlocks = true;
        } else if (r.isSucceeded()) {
          stored = mine;
          storedRev = r.getHeader().getRevision();
          networks.defined(pool.name(), mine, storedRev);
        } else if (!r.getGetResponses().get(0).getKvs().isEmpty()) {
          stored = EtcdClient.text(r.getGetResponses().get(0).getKvs().get(0).getValue());
          storedRev = r.getGetResponses().get(0).getKvs().get(0).getCreateRevision();
          // the network's pools came in the same round trip: a one-shot process reads them for free
          peers.hand(r.getGetResponses().subList(2, r.getGetResponses().size()));
        } else {
          List<KeyValue> old = r.getGetResponses().get(1).getKvs();
          if (!old.isEmpty() && LayoutVersion.isPreviousDefinition(EtcdClient.text(old.get(0).getValue()))) {
            throw LayoutVersion.previousLayout(ctx.keys(), pool.name());
          }
          // a stand-in left by a pool whose keys were deleted: define it again over it
          previousRev = old.isEmpty() ? 0 : old.get(0).getModRevision();
        }
      }
      return accept(key, stored, storedRev);
    }
  }

  /**
   * The layout to read the pool with, writing nothing: the stored definition's when the pool is
   * defined (this config's ranges checked against it, as {@link #definition} does), else this
   * config's own cut, used for this read only. Reads, GC and claim changes of a pool no one
   * allocated from so answer "nothing" without defining it: a caller that only reads (a node's
   * Find, Usage or List through a central jipamd) cannot put definitions into etcd.
   */
  BlockLayout layoutForReading(long deadline) {
    BlockLayout known = layout;
    if (known != null) {
      return known;
    }
    String key = ctx.keys().pool(pool.name());
    String previous = ctx.keys().previousPool(pool.name());
    List<KeyValue> got = ctx.etcd().getAll(List.of(key, previous), deadline, "reading the definition of pool " + pool.name());
    if (got.get(0) != null) {
      synchronized (definitionLock) {
        return layout != null ? layout
            : accept(key, EtcdClient.text(got.get(0).getValue()), got.get(0).getCreateRevision());
      }
    }
    if (got.get(1) != null && LayoutVersion.isPreviousDefinition(EtcdClient.text(got.get(1).getValue()))) {
      throw LayoutVersion.previousLayout(ctx.keys(), pool.name());
    }
    return BlockLayout.fresh(pool, ctx.config().blockSizeV4(), ctx.config().blockSizeV6());
  }

  /**
   * Takes the pool's stored definition and the network's pools, read at one revision by a caller
   * that read them anyway ({@link GroupCommitStore#keptPools} in a store that had not looked at the
   * network), so that the first batch neither checks the definition nor reads the network's pools
   * again: the reads {@link #definition} would do in its first round trip. Nothing is taken when
   * the definition is known already, or its ranges differ from this config's (then {@link
   * #definition} reads and refuses as ever). Any thread.
   */
  void seed(String stored, long createRev, List<io.etcd.jetcd.kv.GetResponse> networkReads) {
    if (layout != null) {
      return;
    }
    synchronized (definitionLock) {
      if (layout != null) {
        return;
      }
      BlockLayout defined;
      try {
        defined = BlockLayout.parse(pool.name(), stored, pool.order());
      } catch (IpamException e) {
        return; // definition() says so
      }
      if (!BlockLayout.rangesText(defined.pool()).equals(rangesText)) {
        return;
      }
      // handed before the layout is published: a batch that sees the layout takes these reads
      peers.hand(networkReads);
      accept(ctx.keys().pool(pool.name()), stored, createRev);
    }
  }

  /** Checks this config against the stored definition and keeps the layout; under {@link #definitionLock}. */
  private BlockLayout accept(String key, String stored, long createRev) {
    BlockLayout defined = BlockLayout.parse(pool.name(), stored, pool.order());
    if (!BlockLayout.rangesText(defined.pool()).equals(rangesText)) {
      throw IpamException.invalidConfig("network \"%s\" is already defined in etcd (%s) with ranges %s;"
          + " this config names ranges %s. A pool's ranges are fixed by the first config that names it:"
          + " use another network name, or retire the pool once it holds nothing (jipamctl retire-pool %s)",
          pool.name(), key, BlockLayout.describe(defined.pool()), BlockLayout.describe(pool), pool.name());
    }
    int[] lengths = new int[defined.sets()];
    for (int s = 0; s < lengths.length; s++) {
      lengths[s] = defined.blockLength(s);
    }
    definedRev = createRev;
    layout = new BlockLayout(pool, lengths);
    return layout;
  }

  /** Reads the pool's blocks (of one set, or all when set is -1) at one revision, in pages. */
  List<Block> readBlocks(int set, long deadline) {
    return views.blocks(definition(deadline), set, deadline);
  }

  /** Reads every block of the pool at one revision, in pages; with that revision. */
  PoolViews.BlockSnapshot readSnapshot(long deadline) {
    return views.blocksAt(definition(deadline), -1, deadline);
  }

  /** Reads an attachment's handle as it was at {@code revision} and keeps that copy (or none). */
  void readHandleAt(Attachment a, long revision, long deadline) {
    String key = ctx.keys().handle(pool.name(), a);
    KeyValue kv = ctx.etcd().getAt(key, revision, deadline, "reading the handle of " + a);
    if (kv == null) {
      handles.remove(a);
    } else {
      handles.put(a, HandleCodec.decode(key, a, kv));
    }
  }

  /**
   * Before a batch: drops stale copies, then loads the definition and this node's blocks once, and
   * the network's other pools when not known ({@link NetworkPeers#load}).
   */
  void load(long deadline) {
    for (int attempt = 0; ; attempt++) {
      loadOnce(deadline);
      if (peers.ownRevision() == definedRev) {
        return;
      }
      // the pool was retired (and perhaps defined again) since its definition was checked: check it
      // again (defining it anew when absent) and drop every copy of the old pool's keys
      if (attempt == 2) {
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: the definition of pool \"" + pool.name()
            + "\" kept changing (retired and defined again); nothing was changed, try again");
      }
      dropDefinition();
    }
  }

  /**
   * Forgets the checked definition and marks the copies stale: the pool was retired ({@link
   * PoolRetirer}), so its next change checks the definition again, defining it anew when absent. Any
   * thread.
   */
  void dropDefinition() {
    synchronized (definitionLock) {
      layout = null;
      definedRev = 0;
    }
    invalidate();
  }

  /**
   * A compare that holds while the pool's definition is the one this cache checked: for a
   * transaction that may create a block without the network key's guard (a reservation), so that
   * none is written into a pool retired since.
   */
  Cmp definitionGuard() {
    return new Cmp(EtcdClient.bytes(ctx.keys().pool(pool.name())), Cmp.Op.EQUAL,
        io.etcd.jetcd.op.CmpTarget.createRevision(definedRev));
  }

  /** Whether the definition this cache checked was created at {@code createRev}. */
  boolean isDefinedAt(long createRev) {
    return layout != null && definedRev == createRev;
  }

  private void loadOnce(long deadline) {
    if (invalid.getAndSet(false)) {
      forget();
    }
    if (loaded) {
      peers.load(deadline);
      return;
    }
    BlockLayout l = definition(deadline);
    while (own.size() < l.sets()) {
      own.add(new TreeMap<>());
    }
    List<String> blockKeys = new ArrayList<>();
    for (Keys.BlockRef ref : ownedBlocks(deadline)) {
      blockKeys.add(ctx.keys().block(pool.name(), ref.set(), ref.id()));
    }
    // the reservations record comes with the node's blocks: no round trip of its own
    String reservationsKey = ctx.keys().reservations(pool.name());
    blockKeys.add(reservationsKey);
    List<KeyValue> got = ctx.etcd().getAll(blockKeys, deadline, "reading blocks of " + ctx.node());
    for (int i = 0; i < got.size() - 1; i++) {
      cache(ctx.blocks().decode(l, blockKeys.get(i), got.get(i)));
    }
    reservations = ClaimIndex.reservations(reservationsKey, got.get(got.size() - 1));
    loaded = true;
    peers.load(deadline);
  }

  /** This node's affinity keys for the pool: the blocks it owns, as far as the index says. */
  List<Keys.BlockRef> ownedBlocks(long deadline) {
    String prefix = ctx.keys().affinityPrefix(ctx.node(), pool.name());
    List<Keys.BlockRef> out = new ArrayList<>();
    for (KeyValue kv : ctx.etcd().range(prefix, Fetch.KEYS, deadline, "listing affinities of " + ctx.node())) {
      Keys.BlockRef ref = ctx.keys().parseAffinity(ctx.node(), EtcdClient.text(kv.getKey()));
      if (ref.set() < layout.sets() && layout.netOf(ref.set(), ref.id()) != null) {
        out.add(ref);
      }
    }
    return out;
  }

  /** Reads what a batch needs and the copies lack: handles to release, blocks of requested addresses. */
  void prefetch(List<Change<?>> changes, Set<Attachment> knownAbsent, long deadline) {
    BlockLayout l = layout;
    List<String> handleKeys = new ArrayList<>();
    List<Attachment> handleOwners = new ArrayList<>();
    Map<String, Boolean> blockKeys = new LinkedHashMap<>();
    for (Change<?> c : changes) {
      if (c instanceof Change.Del) {
        if (!handles.containsKey(c.attachment) && !knownAbsent.contains(c.attachment)
            && !handleOwners.contains(c.attachment)) {
          handleKeys.add(ctx.keys().handle(pool.name(), c.attachment));
          handleOwners.add(c.attachment);
        }
      } else if (c instanceof Change.Add add) {
        for (IpAddress wanted : add.request.requested()) {
          int set = pool.rangeSetIndexOf(wanted);
          if (set >= 0) {
            needBlock(l, set, wanted, blockKeys);
          }
        }
      }
    }
    if (!handleKeys.isEmpty()) {
      List<KeyValue> got = ctx.etcd().getAll(handleKeys, deadline, "reading handles");
      for (int i = 0; i < got.size(); i++) {
        KeyValue kv = got.get(i);
        if (kv == null) {
          knownAbsent.add(handleOwners.get(i));
        } else {
          handles.put(handleOwners.get(i), HandleCodec.decode(handleKeys.get(i), handleOwners.get(i), kv));
        }
      }
    }
    List<io.jipam.core.store.PodRef> pods = new ArrayList<>();
    for (Change<?> c : changes) {
      Handle h = c instanceof Change.Del ? handles.get(c.attachment) : null;
      if (h != null) {
        for (Allocation a : h.allocations()) {
          if (a.rangeSetIndex() >= 0 && a.rangeSetIndex() < l.sets()) {
            needBlock(l, a.rangeSetIndex(), a.address(), blockKeys);
          }
        }
        if (sticky(c.pool, h.pod()) && !holds.containsKey(h.pod()) && !pods.contains(h.pod())) {
          pods.add(h.pod());
        }
      } else if (c instanceof Change.Add add) {
        io.jipam.core.store.PodRef pod = add.request.pod();
        if (sticky(add.pool, pod) && !holds.containsKey(pod) && !pods.contains(pod)) {
          pods.add(pod);
        }
        for (ClaimIndex.Entry e : reservations.entries()) {
          if (fits(e) && io.jipam.core.store.Claim.reservation(e.address(), e.pod()).admits(pod)) {
            needBlock(l, e.set(), e.address(), blockKeys);
          }
        }
      }
    }
    readHolds(pods, deadline);
    for (io.jipam.core.store.PodRef pod : pods) {
      for (ClaimIndex.Entry e : holds.get(pod).entries()) {
        if (fits(e)) {
          needBlock(l, e.set(), e.address(), blockKeys);
        }
      }
    }
    if (!blockKeys.isEmpty()) {
      List<String> list = new ArrayList<>(blockKeys.keySet());
      List<KeyValue> got = ctx.etcd().getAll(list, deadline, "reading blocks");
      for (int i = 0; i < got.size(); i++) {
        cache(ctx.blocks().decode(l, list.get(i), got.get(i)));
      }
    }
  }

  /** Whether the pool (as a call names it) holds the pod's addresses after DEL (its ADD and DEL read its holds). */
  static boolean sticky(Pool pool, io.jipam.core.store.PodRef pod) {
    return sticky(pool.policy(), pod);
  }

  static boolean sticky(io.jipam.core.store.AddressPolicy policy, io.jipam.core.store.PodRef pod) {
    // a hold names a pod: both parts known
    return policy.sticky() != null && !pod.namespace().isEmpty() && !pod.name().isEmpty()
        && policy.sticky().appliesTo(pod);
  }

  /** Whether an index entry names an address of its range set (a hand-edited one may not). */
  boolean fits(ClaimIndex.Entry e) {
    return e.set() >= 0 && e.set() < pool.rangeSets().size() && pool.rangeSets().get(e.set()).contains(e.address());
  }

  /** Reads the hold indexes of these pods into {@link #holds}. */
  void readHolds(List<io.jipam.core.store.PodRef> pods, long deadline) {
    if (pods.isEmpty()) {
      return;
    }
    List<String> keys = new ArrayList<>();
    for (io.jipam.core.store.PodRef pod : pods) {
      keys.add(ctx.keys().holds(pool.name(), pod));
    }
    List<KeyValue> got = ctx.etcd().getAll(keys, deadline, "reading holds");
    for (int i = 0; i < got.size(); i++) {
      holds.put(pods.get(i), ClaimIndex.holds(keys.get(i), got.get(i)));
    }
  }

  private void needBlock(BlockLayout l, int set, IpAddress address, Map<String, Boolean> out) {
    String key = ctx.keys().block(pool.name(), set, l.blockId(set, l.blockNet(set, address)));
    if (!blocks.containsKey(key)) {
      out.put(key, Boolean.TRUE);
    }
  }

  /** Records a block as read from etcd, and whether this node owns it. */
  void cache(Block b) {
    blocks.put(b.key, b);
    if (b.exists() && b.owner.equals(ctx.node())) {
      own.get(b.set).put(b.net, b.key);
    } else {
      own.get(b.set).remove(b.net, b.key);
    }
  }
}
