package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.Claim;
import io.jipam.core.store.spi.ClaimText;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one {@link TxnPlan} does so that its ADDs never take an address another pool of the
 * network holds ({@link NetworkPeers}): the offsets of a block the free search may take (the
 * layout's, less those another pool's block has allocated or under a live claim), the refusal of a
 * requested address held there, and the guard: for each address the plan hands out, the mod
 * revision of every other pool's block holding it in its ranges (0: absent) as the check read it,
 * and the network's guard key whenever the plan creates a handle.
 *
 * <p>Why that is atomic: an ADD of the same address in the other pool writes that block, so of two
 * such transactions, whichever commits second fails its guard, and its plan re-reads the block
 * from the else branch. A pool the plan did not know of was defined after the network's guard key
 * was read, so the key's revision moved on and the transaction fails the same way.
 *
 * <p>With no other pool of the network overlapping this one, {@link #allowed} is the layout's mask itself and nothing
 * is read or guarded here but the network key. Confined to the pool's commit task.
 */
final class PeerCheck {
  private final StoreContext ctx;
  private final NetworkPeers peers;
  private final BlockLayout layout;
  private final TxnPlan plan;
  /** Other pools' blocks the transaction requires at a revision, in guard order, with where they lie. */
  private final Map<String, NetworkPeers.Spot> guarded = new LinkedHashMap<>();
  private final Map<String, Long> guardRevs = new HashMap<>();
  /** The masks computed for this plan, by block key. */
  private final Map<String, long[]> masks = new HashMap<>();
  /** Other pools' blocks {@link #heldElsewhere} read again in this plan. */
  private final java.util.Set<String> readAgain = new java.util.HashSet<>();
  /** Whether the transaction carries the network key's guard (it creates a handle). */
  private boolean networkGuarded;

  PeerCheck(StoreContext ctx, NetworkPeers peers, BlockLayout layout, TxnPlan plan) {
    this.ctx = ctx;
    this.peers = peers;
    this.layout = layout;
    this.plan = plan;
  }

  /**
   * The offsets of this pool's block at {@code net} that an ADD may take: the layout's ({@link
   * BlockLayout#allowed}) less those held in another pool of the network. Shared: not to be modified.
   */
  long[] allowed(int set, IpAddress net) {
    long[] base = layout.allowed(set, net);
    if (!peers.overlaps()) {
      return base;
    }
    String key = plan.blockKey(set, net);
    long[] known = masks.get(key);
    if (known != null) {
      return known;
    }
    int size = 1 << layout.hostBits(set);
    if (!peers.overlap(net, net.plus(size - 1))) {
      masks.put(key, base);
      return base;
    }
    List<NetworkPeers.Spot> spots = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      if (BlockLayout.isSet(base, i)) {
        spots.addAll(peers.spots(net.plus(i)));
      }
    }
    peers.read(spots, plan.deadline);
    long[] mask = base.clone();
    for (NetworkPeers.Spot s : spots) {
      if (held(s) != null) {
        int i = (int) s.net().plus(s.offset()).offsetFrom(net);
        mask[i >>> 6] &= ~(1L << i);
      }
    }
    masks.put(key, mask);
    return mask;
  }

  /**
   * Reads at once what {@link #allowed} needs of the other pools for this pool's blocks at {@code
   * nets} (set {@code set}): one request for a run of candidate blocks instead of one per block.
   * Nothing when no other pool overlaps this one's ranges.
   */
  void prefetch(int set, List<IpAddress> nets) {
    if (!peers.overlaps() || nets.isEmpty()) {
      return;
    }
    int size = 1 << layout.hostBits(set);
    List<NetworkPeers.Spot> spots = new ArrayList<>();
    for (IpAddress net : nets) {
      if (masks.containsKey(plan.blockKey(set, net)) || !peers.overlap(net, net.plus(size - 1))) {
        continue;
      }
      long[] base = layout.allowed(set, net);
      for (int i = 0; i < size; i++) {
        if (BlockLayout.isSet(base, i)) {
          spots.addAll(peers.spots(net.plus(i)));
        }
      }
    }
    peers.read(spots, plan.deadline);
  }

  /**
   * Why another pool of the network keeps {@code address} from a requested ADD: {@code Taken}
   * naming its holder when it is allocated there, {@code Unavailable} naming the pool and the
   * claim when it is claimed there; null when no other pool holds it. Reads what it lacks.
   */
  AllocationOutcome refusal(IpAddress address) {
    if (!peers.overlaps()) {
      return null;
    }
    List<NetworkPeers.Spot> spots = peers.spots(address);
    peers.read(spots, plan.deadline);
    for (NetworkPeers.Spot s : spots) {
      Block b = peers.block(s);
      String why = held(s);
      if (why == null) {
        continue;
      }
      if (b.isUsed(s.offset())) {
        String key = ctx.keys().address(s.pool(), address);
        KeyValue kv = ctx.etcd().getAt(key, b.modRev, plan.deadline, "reading the holder of " + address);
        if (kv == null) {
          throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd: " + address + " is allocated in block " + b.key
              + " of pool " + s.pool() + " at revision " + b.modRev + " but " + key + " names no holder");
        }
        return new AllocationOutcome.Taken(address, AddressCodec.decode(key, address, kv).attachment(), s.pool());
      }
      return new AllocationOutcome.Unavailable(address, "requested address " + address + " is " + why
          + " in pool " + s.pool() + " of network " + peers.network);
    }
    return null;
  }

  /**
   * Whether another pool of the network holds the address, for an address this pool keeps for the
   * ADD's pod (reserved or held for it; reads what it lacks). A copy kept from before that says
   * held there is read again first, once per plan and block: copies are otherwise renewed only by
   * a failed guard or a refusal, and taking a free address elsewhere need not fail one, so the pod
   * would go on missing its address after the other pool released it (a reservation made "when
   * free" while that pool held it). One round trip more, only for such an ADD while the address
   * is held there.
   */
  boolean heldElsewhere(IpAddress address) {
    if (!peers.overlaps()) {
      return false;
    }
    List<NetworkPeers.Spot> spots = peers.spots(address);
    List<NetworkPeers.Spot> copied = new ArrayList<>(1);
    for (NetworkPeers.Spot s : spots) {
      if (peers.block(s) != null) {
        copied.add(s); // a copy from before this call; the others are read now
      }
    }
    peers.read(spots, plan.deadline);
    List<NetworkPeers.Spot> again = new ArrayList<>(1);
    for (NetworkPeers.Spot s : copied) {
      if (held(s) != null && readAgain.add(s.key())) {
        again.add(s);
      }
    }
    if (!again.isEmpty()) {
      peers.readAgain(again, plan.deadline);
      masks.clear(); // computed from the copies read before
    }
    for (NetworkPeers.Spot s : spots) {
      if (held(s) != null) {
        return true;
      }
    }
    return false;
  }

  /**
   * Guards the transaction on every other pool's block that holds {@code address} in its ranges,
   * at the revision read; undone with the change. The address must be free there (checked by the
   * caller: an address handed out while the copy says held would pass the guard).
   */
  void guard(IpAddress address) {
    if (!peers.overlaps()) {
      return;
    }
    List<NetworkPeers.Spot> spots = peers.spots(address);
    peers.read(spots, plan.deadline);
    for (NetworkPeers.Spot s : spots) {
      String why = held(s);
      if (why != null) {
        throw new IllegalStateException(address + " handed out while " + why + " in pool " + s.pool());
      }
      if (guarded.putIfAbsent(s.key(), s) == null) {
        guardRevs.put(s.key(), peers.block(s).modRev);
        plan.onUndo(() -> {
          guarded.remove(s.key());
          guardRevs.remove(s.key());
        });
      }
    }
  }

  /**
   * After the plan re-read its own pool's blocks for a refusal: the other pools' copies are read
   * again too, so that a refusal does not rest on an address they have since released.
   */
  void afterSnapshot() {
    masks.clear();
    peers.dropBlocks();
  }

  /** Requires the network key at the revision read (the plan creates a handle). */
  void guardNetwork() {
    if (!networkGuarded) {
      networkGuarded = true;
      plan.onUndo(() -> networkGuarded = false);
    }
  }

  /** What holds the spot's address in its pool ("allocated", a claim's text), or null when free there. */
  private String held(NetworkPeers.Spot s) {
    Block b = peers.block(s);
    if (b == null || !b.exists()) {
      return null;
    }
    if (b.isUsed(s.offset())) {
      return "allocated";
    }
    Claim c = b.liveClaim(s.offset(), plan.now);
    return c == null ? null : ClaimText.describe(c);
  }

  /** Keys guarded (for the transaction's size). */
  int guards() {
    return guarded.size() + (networkGuarded ? 1 : 0);
  }

  /** Adds the guards, the network key's first, in the order {@link #refresh} reads them back. */
  void addGuards(List<TxnPart.Guard> out) {
    if (networkGuarded) {
      out.add(new TxnPart.Guard(peers.guardKey, peers.guardRev()));
    }
    for (String key : guarded.keySet()) {
      out.add(new TxnPart.Guard(key, guardRevs.get(key)));
    }
  }

  /**
   * After a failed guard: takes the guarded keys' values from the else branch's reads from {@code
   * i} on; a moved network key drops what is known of the network's pools. Returns the next index.
   */
  int refresh(List<GetResponse> reads, int i) {
    if (networkGuarded) {
      peers.stale(reads.get(i++));
    }
    for (NetworkPeers.Spot s : guarded.values()) {
      GetResponse g = reads.get(i++);
      if (peers.overlaps()) {
        peers.cache(s.layout(), s.key(), g.getKvs().isEmpty() ? null : g.getKvs().get(0));
      }
    }
    return i;
  }
}
