package io.jipam.bench.alloc;

import io.jipam.core.net.IpAddress;
import java.util.BitSet;
import java.util.SplittableRandom;

/**
 * The baselines: one range as a flat {@link BitSet} of {@code size} offsets searched with
 * {@code nextClearBit}, which scans word by word. Memory is size / 8 bytes whatever the fill
 * (2 MiB for a /8); a /64 does not fit at all.
 */
final class NaiveBitSetAllocator {
  private final IpAddress start;
  private final int size;
  private final BitSet used;

  NaiveBitSetAllocator(IpAddress start, int size) {
    this.start = start;
    this.size = size;
    this.used = new BitSet(size + 1);
    // a sentinel past the end: without it, BitSet.clear of the highest set bit rescans the words
    // below for the new highest (recalculateWordsInUse), which made round-robin at 0% fill cost
    // O(distance to the previous set bit) per release: BitSet bookkeeping, not the search
    used.set(size);
  }

  void reserve(int offset) {
    used.set(offset);
  }

  void mark(int offset) {
    used.set(offset);
  }

  void unmark(int offset) {
    used.clear(offset);
  }

  /** Host-local's order: after the cursor, wrapping, the cursor itself last; -1 when full. */
  int nextRoundRobin(int cursor) {
    int from = cursor + 1 >= size ? 0 : cursor + 1;
    int found = used.nextClearBit(from);
    if (found >= size) {
      found = used.nextClearBit(0);
    }
    return found >= size ? -1 : found;
  }

  /**
   * A model of host-local's allocator: address by address after the cursor (the last reserved
   * address), wrapping, one membership test per step (host-local tries to create one file per
   * step); -1 when full.
   */
  int nextStepwise(int cursor) {
    int from = cursor + 1 >= size ? 0 : cursor + 1;
    return scanFrom(from);
  }

  /**
   * A model of Kubernetes' ClusterIP bitmap allocator (random scan strategy): a random start, then
   * bit by bit, wrapping; -1 when full.
   */
  int nextRandomStart(SplittableRandom random) {
    return scanFrom(random.nextInt(size));
  }

  private int scanFrom(int from) {
    for (int i = 0; i < size; i++) {
      int at = from + i;
      if (at >= size) {
        at -= size;
      }
      if (!used.get(at)) {
        return at;
      }
    }
    return -1;
  }

  int nextLowest() {
    int found = used.nextClearBit(0);
    return found >= size ? -1 : found;
  }

  IpAddress addressAt(int offset) {
    return start.plus(offset);
  }
}
