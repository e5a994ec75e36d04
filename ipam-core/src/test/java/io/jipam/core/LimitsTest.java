package io.jipam.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The value types enforce {@link Limits} themselves, whoever builds them (config parser, gRPC decoder, a caller). */
class LimitsTest {
  static IpRange slash30(int n) {
    return IpRange.withDefaults(Cidr.parse("198.18." + (n >> 6) + "." + ((n & 63) * 4) + "/30"), null, null, null, null);
  }

  static void refused(Supplier<?> build, String fragment) {
    IpamException e = assertThrows(IpamException.class, build::get);
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains(fragment), e.getMessage());
  }

  @Test
  void valueTypes_beyondLimits_refusedWithCountAndLimit() {
    List<IpRange> ranges = new ArrayList<>();
    for (int i = 0; i <= Limits.MAX_RANGES_PER_SET; i++) {
      ranges.add(slash30(i));
    }
    refused(() -> new RangeSet(ranges), "range set has 1025 ranges; jipam allows at most 1024");
    new RangeSet(ranges.subList(0, Limits.MAX_RANGES_PER_SET));

    List<Cidr> excludes = Collections.nCopies(Limits.MAX_EXCLUDES + 1, Cidr.parse("198.18.0.1/32"));
    refused(() -> IpRange.withDefaults(Cidr.parse("198.18.0.0/24"), null, null, null, excludes),
        "range 198.18.0.0/24 has 1025 exclude entries; jipam allows at most 1024");

    List<RangeSet> sets = new ArrayList<>();
    for (int i = 0; i <= Limits.MAX_RANGE_SETS; i++) {
      sets.add(new RangeSet(List.of(slash30(i))));
    }
    refused(() -> new Pool("p", sets, AllocationOrder.ROUND_ROBIN), "network \"p\" has 65 range sets; jipam allows at most 64");
    new Pool("p", sets.subList(0, Limits.MAX_RANGE_SETS), AllocationOrder.ROUND_ROBIN);
  }
}
