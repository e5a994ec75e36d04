package io.jipam.etcd;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import java.util.BitSet;

/**
 * One block as read from (or about to be written to) etcd: owner, round-robin cursor and which
 * offsets are allocated (a bit each; who holds an address is its address record's and its
 * handle's business, see {@link Keys}). Mutable and not thread-safe: the store's commit thread of
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

  /** The offset the order hands out next, or -1 when the block is full. */
  int nextFree(long[] allowed, AllocationOrder order) {
    int size = size();
    int start = order == AllocationOrder.ROUND_ROBIN && cursor >= 0 ? cursor + 1 : 0;
    for (int k = 0; k < size; k++) {
      int i = (start + k) % size;
      if (BlockLayout.isSet(allowed, i) && !used.get(i)) {
        return i;
      }
    }
    return -1;
  }
}
