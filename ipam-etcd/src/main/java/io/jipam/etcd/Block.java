package io.jipam.etcd;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import java.time.Instant;
import java.util.BitSet;
import java.util.TreeMap;

/**
 * One block as read from (or about to be written to) etcd: owner, round-robin cursor and which
 * offsets are allocated (a bit each; who holds an address is its address record's and its
 * handle's business, see {@link Keys}), and the claims on its addresses ({@link Claim}: holds,
 * reservations, cool-downs). Claims live in the block so that every change of an address and of
 * its claim is one compare-and-swap of one record: an allocation that skips a claimed address is
 * guarded on the very revision that says it is claimed. A claim past its expiry counts as none. Mutable and not thread-safe: the store's commit thread of
 * the pool owns every instance; {@link #copy} gives a transaction its private working copy.
 * Stored by {@link BlockCodec}.
 */
final class Block {
  final String key;
  final int set;
  final IpAddress net;
  final int hostBits;
  /** Mod revision read from etcd; 0 when the key did not exist. */
  long modRev;
  /** True when the key does not exist (or is to be deleted). */
  boolean deleted;
  /** Owning node; empty when the block has no affinity. */
  String owner = "";
  int cursor = -1;
  /** The allocated offsets. */
  final BitSet used = new BitSet();
  /** Claims by offset; expired ones are dropped when the block is next written. */
  final TreeMap<Integer, Claim> claims = new TreeMap<>();

  Block(String key, int set, IpAddress net, int hostBits) {
    this.key = key;
    this.set = set;
    this.net = net;
    this.hostBits = hostBits;
  }

  static Block absent(String key, int set, IpAddress net, int hostBits) {
    Block b = new Block(key, set, net, hostBits);
    b.deleted = true;
    return b;
  }

  Block copy() {
    Block b = new Block(key, set, net, hostBits);
    b.modRev = modRev;
    b.deleted = deleted;
    b.owner = owner;
    b.cursor = cursor;
    b.used.or(used);
    b.claims.putAll(claims);
    return b;
  }

  boolean exists() {
    return !deleted;
  }

  int size() {
    return 1 << hostBits;
  }

  int usedCount() {
    return used.cardinality();
  }

  boolean isUsed(int offset) {
    return used.get(offset);
  }

  IpAddress addressAt(int offset) {
    return net.plus(offset);
  }

  /**
   * The offset the order hands out next, skipping claimed offsets (a claim live at {@code now}),
   * or -1 when the block has none free.
   */
  int nextFree(long[] allowed, AllocationOrder order, Instant now) {
    int size = size();
    int start = order == AllocationOrder.ROUND_ROBIN && cursor >= 0 ? cursor + 1 : 0;
    boolean anyClaims = !claims.isEmpty();
    for (int k = 0; k < size; k++) {
      int i = (start + k) % size;
      if (BlockLayout.isSet(allowed, i) && !used.get(i) && (!anyClaims || liveClaim(i, now) == null)) {
        return i;
      }
    }
    return -1;
  }

  /** The claim on the offset, when there is one and it has not expired at {@code now}; else null. */
  Claim liveClaim(int offset, Instant now) {
    Claim c = claims.get(offset);
    return c == null || c.expiredAt(now) ? null : c;
  }

  /** Live claims of one kind at {@code now}. */
  int liveClaims(Claim.Kind kind, Instant now) {
    int n = 0;
    for (Claim c : claims.values()) {
      if (c.kind() == kind && !c.expiredAt(now)) {
        n++;
      }
    }
    return n;
  }

  /** Whether any claim is live at {@code now} (a block with one is never deleted). */
  boolean hasLiveClaims(Instant now) {
    for (Claim c : claims.values()) {
      if (!c.expiredAt(now)) {
        return true;
      }
    }
    return false;
  }

  /** Drops expired claims, and any claim but a reservation on an allocated offset. */
  void pruneClaims(Instant now) {
    claims.entrySet().removeIf(e -> e.getValue().expiredAt(now)
        || used.get(e.getKey()) && e.getValue().kind() != Claim.Kind.RESERVATION);
  }

  int offsetOf(IpAddress address) {
    return (int) (address.low() - net.low());
  }
}
