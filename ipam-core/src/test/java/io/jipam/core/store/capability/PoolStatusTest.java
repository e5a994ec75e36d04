package io.jipam.core.store.capability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestPools;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PoolStatusTest {
  static final Pool TWO_SETS = TestPools.pool("p", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:1::/120");

  static BlockUsage block(int set, String cidr, String owner, long used, long capacity) {
    return new BlockUsage(set, Cidr.parse(cidr), owner, used, capacity);
  }

  @Test
  void new_usageNotOfThePoolsRangeSets_refusedNamingBoth() {
    record Row(List<Long> allocated, List<Long> free) {}
    for (Row row : List.of(new Row(List.of(1L), List.of(2L)), new Row(List.of(1L, 2L), List.of(3L)),
        new Row(List.of(1L, 2L, 3L), List.of(1L, 2L, 3L)))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new PoolStatus(TWO_SETS, new PoolUsage(row.allocated(), row.free()), null), row.toString());
      assertEquals("pool p has 2 range sets, its usage " + row.allocated().size() + " allocated and "
          + row.free().size() + " free counts", e.getMessage());
    }
  }

  @Test
  void new_nullPoolOrUsage_refused() {
    PoolUsage usage = new PoolUsage(List.of(0L, 0L), List.of(1L, 1L));
    assertThrows(IllegalArgumentException.class, () -> new PoolStatus(null, usage, null));
    assertThrows(IllegalArgumentException.class, () -> new PoolStatus(TWO_SETS, null, null));
  }

  @Test
  void blocks_noneVersusEmpty_keptApartAndCopied() {
    PoolUsage usage = new PoolUsage(List.of(0L, 0L), List.of(253L, 255L));
    PoolStatus none = new PoolStatus(TWO_SETS, usage, null);
    assertFalse(none.hasBlocks());
    assertNull(none.blocks());
    assertEquals(List.of(), none.nodes());
    List<BlockUsage> mutable = new ArrayList<>();
    PoolStatus empty = new PoolStatus(TWO_SETS, usage, mutable);
    mutable.add(block(0, "198.18.0.0/26", "a", 1, 64));
    assertTrue(empty.hasBlocks());
    assertEquals(List.of(), empty.blocks(), "a copy, not a view");
  }

  @Test
  void nodes_blocksOfSeveralOwners_summedPerNodeAndSetInNodeThenSetOrder() {
    List<BlockUsage> blocks = List.of(
        block(1, "fd00:1::/124", "b", 3, 16),
        block(0, "198.18.0.0/26", "b", 10, 64),
        block(0, "198.18.0.64/26", "a", 64, 64),
        block(0, "198.18.0.128/26", "b", 5, 64),
        block(0, "198.18.0.192/26", "", 2, 62),
        block(0, "198.18.0.16/28", "a", 20, 16)); // holds more than it may: free 0, not negative
    PoolStatus s = new PoolStatus(TWO_SETS, new PoolUsage(List.of(101L, 3L), List.of(152L, 252L)), blocks);
    assertEquals(List.of(
        new NodeUsage("", 0, 1, 2, 60),
        new NodeUsage("a", 0, 2, 84, 0),
        new NodeUsage("b", 0, 2, 15, 113),
        new NodeUsage("b", 1, 1, 3, 13)), s.nodes());
  }

  @Test
  void nodeUsage_negativeOrNull_refused() {
    assertThrows(IllegalArgumentException.class, () -> new NodeUsage(null, 0, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new NodeUsage("a", -1, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new NodeUsage("a", 0, -1, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new NodeUsage("a", 0, 0, -1, 0));
    assertThrows(IllegalArgumentException.class, () -> new NodeUsage("a", 0, 0, 0, -1));
  }

  @Test
  void read_storeWithoutInspection_usageAndNoBlocks() {
    try (IpamStore store = MemoryStores.open()) {
      store.allocate(TWO_SETS, AllocationRequest.of(TestPools.att("c1")));
      PoolStatus s = PoolStatus.read(store, TWO_SETS);
      assertEquals(store.usage(TWO_SETS), s.usage());
      assertFalse(s.hasBlocks());
    }
  }

  @Test
  void read_storeWithInspection_itsBlockUsage() {
    PoolBlocks answer = new PoolBlocks(new PoolUsage(List.of(1L, 0L), List.of(63L, 256L)),
        List.of(block(0, "198.18.0.0/26", "a", 1, 64)));
    try (IpamStore store = new InspectedStore(MemoryStores.open(), answer, Map.of(), null)) {
      PoolStatus s = PoolStatus.read(store, TWO_SETS);
      assertEquals(new PoolStatus(TWO_SETS, answer.usage(), answer.blocks()), s);
    }
  }
}
