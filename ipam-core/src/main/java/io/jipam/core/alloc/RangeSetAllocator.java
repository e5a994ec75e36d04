package io.jipam.core.alloc;

import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;

/**
 * Which addresses of one range set are in use, and which one to hand out next.
 *
 * <p>One {@link AddressBitmap} per range; reserved addresses (network, IPv4 broadcast, gateway,
 * excluded prefixes) are set in it at construction, so a search never returns them. Choosing the
 * next address reads a handful of words per range visited, whatever the size and fill.
 *
 * <p>Only marks and searches: reserving an address durably is the store's job. Not thread-safe;
 * guarded by the lock of the store that owns it.
 */
public final class RangeSetAllocator {
  private final RangeSet rangeSet;
  private final AddressBitmap[] bitmaps;
  private final long capacity;
  private long allocated;

  public RangeSetAllocator(RangeSet rangeSet) {
    this.rangeSet = rangeSet;
    this.bitmaps = new AddressBitmap[rangeSet.ranges().size()];
    long total = 0;
    for (int i = 0; i < bitmaps.length; i++) {
      IpRange range = rangeSet.ranges().get(i);
      AddressBitmap bitmap = new AddressBitmap(range.lastOffset());
      long usable = range.lastOffset() + 1;
      for (long[] reserved : range.reservedOffsets()) {
        bitmap.setRange(reserved[0], reserved[1]);
        usable -= reserved[1] - reserved[0] + 1;
      }
      bitmaps[i] = bitmap;
      total = Long.compareUnsigned(total + usable, total) < 0 ? -1L : total + usable; // saturate
    }
    this.capacity = total;
  }

  public RangeSet rangeSet() {
    return rangeSet;
  }

  /** Addresses that may be handed out, unsigned and saturated at 2^64 - 1. */
  public long capacity() {
    return capacity;
  }

  /** Addresses marked in use. */
  public long allocated() {
    return allocated;
  }

  /** Whether the address is in a range of the set, not reserved, and not marked. */
  public boolean isFree(IpAddress address) {
    int r = rangeSet.indexOf(address);
    return r >= 0 && !bitmaps[r].get(rangeSet.ranges().get(r).offsetOf(address));
  }

  /**
   * Marks the address in use. Returns false when it is outside the set, reserved, or already
   * marked.
   */
  public boolean mark(IpAddress address) {
    int r = rangeSet.indexOf(address);
    if (r < 0 || rangeSet.ranges().get(r).isReserved(address)) {
      return false;
    }
    boolean changed = bitmaps[r].set(rangeSet.ranges().get(r).offsetOf(address));
    if (changed) {
      allocated++;
    }
    return changed;
  }

  /** Marks the address free again; returns false when it was not marked. */
  public boolean unmark(IpAddress address) {
    int r = rangeSet.indexOf(address);
    if (r < 0) {
      return false;
    }
    boolean changed = bitmaps[r].clear(rangeSet.ranges().get(r).offsetOf(address));
    if (changed) {
      allocated--;
    }
    return changed;
  }

  /**
   * The address the given order hands out next, without marking it; null when every address of
   * the set is in use.
   *
   * @param lastReserved the set's round-robin cursor (ignored for {@link
   *     AllocationOrder#LOWEST_FREE}); null or an address outside the set starts at the first range
   */
  public IpAddress next(AllocationOrder order, IpAddress lastReserved) {
    int count = bitmaps.length;
    int startRange = 0;
    long startOffset = 0;
    if (order == AllocationOrder.ROUND_ROBIN && lastReserved != null) {
      int r = rangeSet.indexOf(lastReserved);
      if (r >= 0) {
        IpRange range = rangeSet.ranges().get(r);
        long offset = range.offsetOf(lastReserved);
        if (offset == range.lastOffset()) {
          startRange = (r + 1) % count;
        } else {
          startRange = r;
          startOffset = offset + 1;
        }
      }
    }
    for (int k = 0; k < count; k++) {
      int r = (startRange + k) % count;
      IpAddress found = firstClear(r, k == 0 ? startOffset : 0, -1L);
      if (found != null) {
        return found;
      }
    }
    // wrap into the part of the first range before the cursor
    return startOffset == 0 ? null : firstClear(startRange, 0, startOffset - 1);
  }

  /** Bitmap tree nodes of every range; for tests. */
  long nodeCount() {
    long n = 0;
    for (AddressBitmap bitmap : bitmaps) {
      n += bitmap.nodeCount();
    }
    return n;
  }

  private IpAddress firstClear(int r, long from, long bound) {
    IpRange range = rangeSet.ranges().get(r);
    long limit = Long.compareUnsigned(bound, range.lastOffset()) < 0 ? bound : range.lastOffset();
    long offset = bitmaps[r].nextClear(from);
    if (offset == AddressBitmap.NOT_FOUND || Long.compareUnsigned(offset, limit) > 0) {
      return null;
    }
    return range.addressAt(offset);
  }
}
