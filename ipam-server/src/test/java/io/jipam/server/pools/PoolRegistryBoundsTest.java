package io.jipam.server.pools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The registry's bounds: any caller that allocates defines the pools it names, so past {@link
 * PoolRegistry#MAX_POOLS} pools or {@link PoolRegistry#MAX_WEIGHT} ranges and excludes a new pool
 * is refused (INVALID_CONFIG naming the bound), while the pools already known are served.
 */
class PoolRegistryBoundsTest {
  @Test
  void admit_pastThePoolCount_newPoolRefusedKnownOnesServed() {
    PoolRegistry r = new PoolRegistry();
    Pool first = TestPools.pool("p0", AllocationOrder.ROUND_ROBIN, "198.18.0.0/30");
    define(r, first);
    for (int i = 1; i < PoolRegistry.MAX_POOLS; i++) {
      define(r, TestPools.pool("p" + i, AllocationOrder.ROUND_ROBIN, "198.18.0.0/30"));
    }
    IpamException e = assertThrows(IpamException.class,
        () -> define(r, TestPools.pool("one-more", AllocationOrder.ROUND_ROBIN, "198.18.0.0/30")));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("\"one-more\"") && e.getMessage().contains("10000 pools"), e.getMessage());
    assertSame(first, define(r, first), "a known pool is served");
    assertSame(first, r.check(first), "and checked");
    assertEquals(PoolRegistry.MAX_POOLS, r.all().size());
  }

  @Test
  void admit_pastTheWeight_newPoolRefused() {
    PoolRegistry r = new PoolRegistry();
    int added = 0;
    for (; ; added++) {
      Pool big = wide("wide" + added, 64, 1024); // 65,536 ranges
      if ((added + 1) * PoolRegistry.weight(big) > PoolRegistry.MAX_WEIGHT) {
        IpamException e = assertThrows(IpamException.class, () -> define(r, big));
        assertEquals(ErrorCode.INVALID_CONFIG, e.code());
        assertTrue(e.getMessage().contains("200000 ranges and exclude entries"), e.getMessage());
        break;
      }
      define(r, big);
    }
    assertEquals(3, added);
    define(r, TestPools.pool("small", AllocationOrder.ROUND_ROBIN, "198.18.0.0/30")); // still under the bound
  }

  /** Registers the pool as an allocation the store took does ({@link PoolRegistry#admit}, confirmed); returns it. */
  static Pool define(PoolRegistry r, Pool pool) {
    try (PoolRegistry.Admission admission = r.admit(pool)) {
      admission.confirm();
      return admission.pool();
    }
  }

  /** A pool of {@code sets} range sets of {@code ranges} /30s each. */
  static Pool wide(String name, int sets, int ranges) {
    List<RangeSet> all = new ArrayList<>();
    for (int s = 0; s < sets; s++) {
      List<IpRange> members = new ArrayList<>();
      for (int i = 0; i < ranges; i++) {
        int n = s * ranges + i;
        members.add(IpRange.withDefaults(Cidr.parse("10." + (n >> 14) + "." + ((n >> 6) & 0xff) + "." + ((n & 0x3f) << 2)
            + "/30"), null, null, null, null));
      }
      all.add(new RangeSet(members));
    }
    return new Pool(name, all, AllocationOrder.ROUND_ROBIN);
  }
}
