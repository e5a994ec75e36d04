package io.jipam.core.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Issue 7, defect 10: the overlap check is O(n log n) and agrees with the pairwise one. */
class OverlapTest {
  static IpRange range(String subnet, String start, String end) {
    return IpRange.withDefaults(Cidr.parse(subnet), IpAddress.parse(start), IpAddress.parse(end), null, null);
  }

  static int[] pairwise(List<IpRange> ranges) {
    for (int j = 0; j < ranges.size(); j++) {
      for (int i = 0; i < j; i++) {
        if (ranges.get(i).overlaps(ranges.get(j))) {
          return new int[] {i, j};
        }
      }
    }
    return null;
  }

  @Test
  void find_randomRanges_agreesWithPairwiseOnWhetherAnyOverlap() {
    Random random = new Random(11);
    for (int round = 0; round < 2_000; round++) {
      List<IpRange> ranges = new ArrayList<>();
      int n = 1 + random.nextInt(6);
      for (int k = 0; k < n; k++) {
        int a = 1 + random.nextInt(250);
        int b = Math.min(254, a + random.nextInt(20));
        boolean v6 = random.nextInt(4) == 0;
        ranges.add(v6 ? range("fd00::/120", "fd00::" + Integer.toHexString(a), "fd00::" + Integer.toHexString(b))
            : range("198.18.0.0/24", "198.18.0." + a, "198.18.0." + b));
      }
      int[] fast = Overlap.find(ranges);
      int[] slow = pairwise(ranges);
      assertEquals(slow == null, fast == null, ranges::toString);
      if (fast != null) {
        assertTrue(ranges.get(fast[0]).overlaps(ranges.get(fast[1])) && fast[0] < fast[1], ranges::toString);
      }
    }
  }

  @Test
  void find_adjacentAndNested_reported() {
    assertNull(Overlap.find(List.of(range("198.18.0.0/24", "198.18.0.1", "198.18.0.9"),
        range("198.18.0.0/24", "198.18.0.10", "198.18.0.20"))));
    assertArrayEquals(new int[] {0, 2}, Overlap.find(List.of(range("198.18.0.0/24", "198.18.0.1", "198.18.0.200"),
        range("198.18.1.0/24", "198.18.1.1", "198.18.1.9"), range("198.18.0.0/24", "198.18.0.50", "198.18.0.60"))));
  }

  /**
   * 20,000 ranges across the most range sets a pool may have (63 of 320 ranges): the pairwise check
   * took seconds at this count; this is bounded work. A 64th set overlapping set 7 is reported.
   */
  @Test
  void pool_manyDisjointRangesAcrossSetsAndOneOverlap_checkedAndReported() {
    List<RangeSet> sets = new ArrayList<>();
    for (int s = 0; s < 63; s++) {
      List<IpRange> ranges = new ArrayList<>();
      for (int r = 0; r < 320; r++) {
        int i = s * 320 + r;
        ranges.add(IpRange.withDefaults(Cidr.parse("10." + (i >> 8) + "." + (i & 255) + ".0/24"), null, null, null, null));
      }
      sets.add(new RangeSet(ranges));
    }
    new Pool("many", sets, AllocationOrder.ROUND_ROBIN);
    int inSeven = 7 * 320 + 5;
    sets.add(new RangeSet(List.of(IpRange.withDefaults(
        Cidr.parse("10." + (inSeven >> 8) + "." + (inSeven & 255) + ".128/25"), null, null, null, null))));
    IpamException e = assertThrows(IpamException.class, () -> new Pool("many", sets, AllocationOrder.ROUND_ROBIN));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("range set 63") && e.getMessage().contains("range set 7 "), e.getMessage());
  }
}
