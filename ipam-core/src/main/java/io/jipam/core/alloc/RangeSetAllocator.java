package io.jipam.core.alloc;

import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpFamily;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;

/**
 * Which addresses of one range set are in use, and which one to hand out next.
 *
 * <p>One {@link AddressBitmap} per range, over its {@code [rangeStart, rangeEnd]}; reserved
 * addresses ({@link IpRange#reservedOffsets}: the gateway, excluded prefixes) are set in it at
 * construction, so a search never returns them. The network address and the IPv4 broadcast are
 * handed out when explicit bounds include them, as host-local does. Choosing the
 * next address reads a handful of words per range visited, whatever the size and fill.
 *
 * <p>Only marks and searches: reserving an address durably is the store's job. Not thread-safe;
 * guarded by the lock of the store that owns it.
 */
public final class RangeSetAllocator {
  /** No valid offset: a range holds at most 2^64 - 1 addresses, so the last offset is below it. */
  private static final long OUTSIDE = -1L;

  private final RangeSet rangeSet;
  /** Each range's last offset and first address, cached: the hot path reads them on every call. */
  private final long[] lastOffsets;
  private final IpFamily family;
  private final long[] startHigh;
  private final long[] startLow;
  private final AddressBitmap[] bitmaps;
  private final long capacity;
  private long allocated;

  public RangeSetAllocator(RangeSet rangeSet) {
    this.rangeSet = rangeSet;
    IpRange[] ranges = rangeSet.ranges().toArray(new IpRange[0]);
    this.lastOffsets = new long[ranges.length];
    this.family = rangeSet.family();
    this.startHigh = new long[ranges.length];
    this.startLow = new long[ranges.length];
    this.bitmaps = new AddressBitmap[ranges.length];
    long total = 0;
    for (int i = 0; i < bitmaps.length; i++) {
      IpRange range = ranges[i];
      lastOffsets[i] = range.lastOffset();
      startHigh[i] = range.rangeStart().high();
      startLow[i] = range.rangeStart().low();
      AddressBitmap bitmap = new AddressBitmap(lastOffsets[i]);
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
    for (int r = 0; r < bitmaps.length; r++) {
      long offset = offsetIn(r, address);
      if (offset != OUTSIDE) {
        return !bitmaps[r].get(offset);
      }
    }
    return false;
  }

  /**
   * Marks the address in use. Returns false when it is outside the set, reserved, or already
   * marked.
   */
  public boolean mark(IpAddress address) {
    for (int r = 0; r < bitmaps.length; r++) {
      long offset = offsetIn(r, address);
      if (offset != OUTSIDE) {
        // reserved offsets are set (and pinned) in the bitmap since construction: set() refuses them
        boolean changed = bitmaps[r].set(offset);
        if (changed) {
          allocated++;
        }
        return changed;
      }
    }
    return false;
  }

  /** Marks the address free again; returns false when it was not marked. */
  public boolean unmark(IpAddress address) {
    for (int r = 0; r < bitmaps.length; r++) {
      long offset = offsetIn(r, address);
      if (offset != OUTSIDE) {
        // reserved offsets are pinned: clear() refuses them
        boolean changed = bitmaps[r].clear(offset);
        if (changed) {
          allocated--;
        }
        return changed;
      }
    }
    return false;
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
      for (int r = 0; r < count; r++) {
        long offset = offsetIn(r, lastReserved);
        if (offset == OUTSIDE) {
          continue;
        }
        if (offset == lastOffsets[r]) {
          startRange = (r + 1) % count;
        } else {
          startRange = r;
          startOffset = offset + 1;
        }
        break;
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
    long limit = Long.compareUnsigned(bound, lastOffsets[r]) < 0 ? bound : lastOffsets[r];
    long offset = bitmaps[r].nextClear(from);
    if (offset == AddressBitmap.NOT_FOUND || Long.compareUnsigned(offset, limit) > 0) {
      return null;
    }
    // rangeStart + offset, offset <= lastOffset: stays within the range, no overflow check needed
    long low = startLow[r] + offset;
    if (family == IpFamily.V4) {
      return IpAddress.v4(low);
    }
    return IpAddress.v6(startHigh[r] + (Long.compareUnsigned(low, startLow[r]) < 0 ? 1 : 0), low);
  }

  /**
   * The address's offset in range r, or {@link #OUTSIDE} when it is not in [rangeStart, rangeEnd]
   * (what {@code range.contains} then {@code range.offsetOf} compute, in one subtraction).
   */
  private long offsetIn(int r, IpAddress address) {
    if (address.family() != family) {
      return OUTSIDE;
    }
    long low = address.low() - startLow[r];
    long borrow = Long.compareUnsigned(address.low(), startLow[r]) < 0 ? 1 : 0;
    long high = address.high() - startHigh[r] - borrow;
    return high != 0 || Long.compareUnsigned(low, lastOffsets[r]) > 0 ? OUTSIDE : low;
  }
}
