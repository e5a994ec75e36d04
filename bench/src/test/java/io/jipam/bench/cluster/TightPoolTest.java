package io.jipam.bench.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import java.util.HashSet;
import java.util.Set;
import io.jipam.etcd.EtcdStoreConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tight pool holds exactly as many addresses as pods, off a block boundary. */
class TightPoolTest {
  @ParameterizedTest
  @ValueSource(ints = {1, 16, 64, 256})
  void pool_ofNPods_allocatesExactlyNAddressesThenIsExhausted(int pods) {
    Pool pool = TightPool.pool(pods);
    IpamStore store = MemoryStores.open();
    Set<IpAddress> got = new HashSet<>();
    for (int i = 0; i < pods; i++) {
      AllocationOutcome out = store.allocate(pool, AllocationRequest.of(new Attachment("p" + i, "eth0")));
      got.add(assertInstanceOf(AllocationOutcome.Allocated.class, out).allocations().get(0).address());
    }
    assertEquals(pods, got.size());
    assertInstanceOf(AllocationOutcome.Exhausted.class,
        store.allocate(pool, AllocationRequest.of(new Attachment("one-more", "eth0"))));
    assertTrue(got.contains(TightPool.FIRST));
    assertFalse(pool.rangeSets().get(0).contains(IpAddress.parse("198.19.0.9")));
  }

  @Test
  void first_isNotOnADefaultBlockBoundary() {
    assertNotEquals(TightPool.FIRST, TightPool.FIRST.masked(EtcdStoreConfig.DEFAULT_BLOCK_V4));
  }
}
