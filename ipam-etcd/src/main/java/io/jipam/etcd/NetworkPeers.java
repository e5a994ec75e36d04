package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.op.Op;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one pool's store knows of the other pools of its network (the network's own pool {@code N}
 * and its sub-pools {@code N+x}, {@link io.jipam.core.store.Pool#networkOf}): their definitions, and copies of those
 * of their blocks that cover addresses of this pool. The pools of one network share its address
 * space: an ADD in this pool never hands out an address another pool of the network holds
 * (allocated, or claimed), which {@link PeerCheck} decides from these copies and guards on their
 * revisions.
 *
 * <p>Which pools the network has is read once, with the network's guard key ({@link
 * Keys#network}), and kept: every transaction that creates a handle is guarded on that key's
 * revision as read, and every definition of a pool of the network puts the key, so a transaction
 * planned without a pool defined since fails its guard and the list is read again ({@link
 * #stale}). The key is read with the definitions, in one transaction (so at one revision): a
 * definition it missed always changes the revision it guards on. A network with one pool so pays
 * one compare per transaction, and no round trip of its own when the store loads the pool: the
 * reads ride on the transaction that checks the pool's definition ({@link #withReads}); only a
 * reload (after the key moved, or a dropped cache) reads on its own.
 *
 * <p>Confined to the pool's commit task, as the rest of {@link PoolCache}.
 */
final class NetworkPeers {
  private final StoreContext ctx;
  /** The store's record of the networks' pools, told of every read here. */
  private final KnownNetworks known;
  /** This pool's name. */
  private final String pool;
  final String network;
  /** The network's guard key. */
  final String guardKey;
  private boolean loaded;
  /** What a definition's transaction read for {@link #load}, until it takes it. */
  private volatile List<GetResponse> handed;
  /** Mod revision of the guard key when the definitions were read (0: absent). */
  private long guardRev;
  /** Create revision of this pool's own definition as the last {@link #load} read it (0: absent). */
  private long ownRev;
  /** The network's other pools, by name. */
  private final Map<String, BlockLayout> others = new LinkedHashMap<>();
  /** Whether some pool of {@link #others} overlaps this pool's ranges. */
  private boolean overlapping;
  /** This pool's ranges. */
  private final List<IpRange> ranges = new ArrayList<>();
  /** Copies of the other pools' blocks, by key. */
  private final Map<String, Block> blocks = new HashMap<>();

  /** Where an address lies in another pool of the network: that pool's block and offset. */
  record Spot(String pool, BlockLayout layout, int set, IpAddress net, String key, int offset) {}

  NetworkPeers(StoreContext ctx, KnownNetworks known, io.jipam.core.store.Pool own) {
    this.ctx = ctx;
    this.known = known;
    this.pool = own.name();
    own.rangeSets().forEach(set -> ranges.addAll(set.ranges()));
    this.network = io.jipam.core.store.Pool.networkOf(this.pool);
    this.guardKey = ctx.keys().network(network);
  }

  /**
   * {@code reads} followed by this class's reads of the network's guard key and its pools'
   * definitions, for a transaction that reads the pool's definition anyway ({@link
   * PoolCache#definition}); its answers to those go to {@link #hand}.
   */
  List<Op> withReads(List<Op> reads) {
    List<Op> out = new ArrayList<>(reads);
    out.addAll(reads());
    return out;
  }

  private List<Op> reads() {
    return reads(ctx.keys(), network);
  }

  /** The reads of a network's guard key and its pools' definitions, in the order {@link #hand} and {@link KnownNetworks#read} take. */
  static List<Op> reads(Keys keys, String network) {
    List<Op> out = new ArrayList<>(3);
    out.add(EtcdClient.get(keys.network(network)));
    out.addAll(definitionReads(keys, network));
    return out;
  }

  /**
   * The reads of a network's pools' definitions: its sub-pools' ({@link Keys#subPoolsPrefix}) and
   * its own pool's ({@link Keys#pool}), no other key; their answers are what {@link
   * KnownNetworks#definitions} takes.
   */
  static List<Op> definitionReads(Keys keys, String network) {
    return List.of(EtcdClient.getPrefix(keys.subPoolsPrefix(network)), EtcdClient.get(keys.pool(network)));
  }

  /**
   * Hands over what a transaction of another thread read for {@link #withReads} (all at one
   * revision), for the next {@link #load} to take instead of reading. Any thread.
   */
  void hand(List<GetResponse> got) {
    handed = List.copyOf(got);
  }

  /** Reads the network's guard key and its pools' definitions (at one revision), unless known. */
  void load(long deadline) {
    if (loaded) {
      return;
    }
    List<GetResponse> got = handed;
    handed = null;
    if (got == null) {
      got = ctx.etcd().txn(List.of(), reads(), List.of(), deadline, "reading the pools of network " + network)
          .getGetResponses();
    }
    known.read(ctx.keys(), network, got, false);
    others.clear();
    blocks.clear();
    guardRev = got.get(0).getKvs().isEmpty() ? 0L : got.get(0).getKvs().get(0).getModRevision();
    ownRev = 0;
    for (int i = 1; i < got.size(); i++) {
      for (KeyValue kv : got.get(i).getKvs()) {
        String name = ctx.keys().parsePool(EtcdClient.text(kv.getKey()));
        if (name.equals(pool)) {
          ownRev = kv.getCreateRevision();
        } else if (io.jipam.core.store.Pool.isName(name)) {
          others.put(name, BlockLayout.parse(name, EtcdClient.text(kv.getValue()), AllocationOrder.LOWEST_FREE));
        }
      }
    }
    overlapping = false;
    for (IpRange r : ranges) {
      overlapping |= overlap(r.rangeStart(), r.rangeEnd());
    }
    loaded = true;
  }

  /**
   * The create revision of this pool's own definition as the network's pools were last read (0:
   * absent): another than the one its cache checked means the pool was retired (and perhaps defined
   * again) since.
   */
  long ownRevision() {
    return ownRev;
  }

  /** Drops everything: the next batch reads the network's pools again. */
  void forget() {
    loaded = false;
    overlapping = false;
    others.clear();
    blocks.clear();
  }

  /**
   * Whether another pool of the network (as last read) has a range overlapping one of this pool's:
   * only then can it hold an address this pool hands out. Sub-pools as a config defines them do
   * not overlap; they do after a config moved ranges between pools of the network.
   */
  boolean overlaps() {
    return overlapping;
  }

  /** The revision a transaction creating a handle requires the guard key at (0: absent). */
  long guardRev() {
    return guardRev;
  }

  /** After a failed guard: whether the guard key moved on (a pool was defined), dropping the list if so. */
  boolean stale(GetResponse read) {
    long now = read.getKvs().isEmpty() ? 0L : read.getKvs().get(0).getModRevision();
    if (now != guardRev) {
      forget();
      return true;
    }
    return false;
  }

  /** Drops the copies of other pools' blocks (a refusal re-reads them). */
  void dropBlocks() {
    blocks.clear();
  }

  /** Whether some other pool of the network has a range with an address in [{@code from}, {@code to}]. */
  boolean overlap(IpAddress from, IpAddress to) {
    for (BlockLayout l : others.values()) {
      for (RangeSet set : l.pool().rangeSets()) {
        for (IpRange r : set.ranges()) {
          if (r.rangeStart().family() == from.family() && r.rangeStart().compareTo(to) <= 0
              && r.rangeEnd().compareTo(from) >= 0) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** Where the address lies in each other pool of the network whose ranges hold it. */
  List<Spot> spots(IpAddress address) {
    List<Spot> out = new ArrayList<>(1);
    for (Map.Entry<String, BlockLayout> e : others.entrySet()) {
      Spot s = spot(ctx.keys(), e.getKey(), e.getValue(), address);
      if (s != null) {
        out.add(s);
      }
    }
    return out;
  }

  /** Where the address lies in pool {@code name} (laid out as {@code l}); null when in none of its ranges. */
  static Spot spot(Keys keys, String name, BlockLayout l, IpAddress address) {
    int set = l.pool().rangeSetIndexOf(address);
    if (set < 0) {
      return null;
    }
    IpAddress net = l.blockNet(set, address);
    return new Spot(name, l, set, net, keys.block(name, set, l.blockId(set, net)), l.offsetIn(set, net, address));
  }

  /** The copy of a spot's block; null when not read yet. */
  Block block(Spot s) {
    return blocks.get(s.key());
  }

  /** Reads the blocks of these spots that have no copy yet, in one round trip. */
  void read(Collection<Spot> spots, long deadline) {
    Map<String, Spot> missing = new LinkedHashMap<>();
    for (Spot s : spots) {
      if (!blocks.containsKey(s.key())) {
        missing.putIfAbsent(s.key(), s);
      }
    }
    if (missing.isEmpty()) {
      return;
    }
    List<String> keys = new ArrayList<>(missing.keySet());
    List<KeyValue> got = ctx.etcd().getAll(keys, deadline, "reading blocks of other pools of network " + network);
    for (int i = 0; i < keys.size(); i++) {
      cache(missing.get(keys.get(i)).layout(), keys.get(i), got.get(i));
    }
  }

  /** Reads the blocks of these spots again, their copies dropped, in one round trip. */
  void readAgain(Collection<Spot> spots, long deadline) {
    for (Spot s : spots) {
      blocks.remove(s.key());
    }
    read(spots, deadline);
  }

  /** Keeps a block of another pool as read (null: absent). */
  void cache(BlockLayout layout, String key, KeyValue kv) {
    blocks.put(key, ctx.blocks().decode(layout, key, kv));
  }
}
