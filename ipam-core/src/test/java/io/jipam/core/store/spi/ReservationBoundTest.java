package io.jipam.core.store.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.Limits;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestPools;
import org.junit.jupiter.api.Test;

/**
 * The stores built on {@link PoolState} (memory, files) hold a pool to {@link
 * Limits#MAX_RESERVATIONS} reservations, as the etcd store does (the file store took any number).
 */
class ReservationBoundTest {
  @Test
  void reserve_pastTheBound_unavailableNamingIt_againForOneReservedAlready() {
    try (IpamStore store = MemoryStores.open()) {
      Claims claims = store.capability(Claims.class).orElseThrow();
      Pool pool = TestPools.pool("many", AllocationOrder.ROUND_ROBIN, "198.18.0.0/16");
      IpAddress base = IpAddress.parse("198.18.0.10");
      PodRef ns = new PodRef("db", "");
      for (int i = 0; i < Limits.MAX_RESERVATIONS; i++) {
        assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, base.plus(i), ns, false));
      }
      ReserveOutcome over = claims.reserve(pool, base.plus(Limits.MAX_RESERVATIONS), ns, false);
      ReserveOutcome.Unavailable u = assertInstanceOf(ReserveOutcome.Unavailable.class, over);
      assertTrue(u.reason().contains("10000 reservations"), u.reason());
      assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, base, ns, false), "the same one again");
      claims.unreserve(pool, base);
      assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, base.plus(Limits.MAX_RESERVATIONS), ns, false));
      assertEquals(Limits.MAX_RESERVATIONS, claims.claims(pool).size());
    }
  }
}
