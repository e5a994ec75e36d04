package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class PoolUsageTest {
  @Test
  void of_tableOfCapacities_freeIsUnsignedRemainderOrSaturated() {
    record Row(long allocated, long capacity, long free) {}
    List<Row> rows = List.of(
        new Row(0, 253, 253),
        new Row(5, 5, 0),
        new Row(7, 5, 0), // a set holding more than its ranges allow now: none free, not negative
        new Row(3, -1L, -1L), // saturated at 2^64 - 1
        new Row(1, Long.MIN_VALUE, Long.MIN_VALUE - 1)); // 2^63 - 1 free, unsigned
    for (Row row : rows) {
      PoolUsage u = PoolUsage.of(new long[] {row.allocated()}, new long[] {row.capacity()});
      assertEquals(List.of(row.allocated()), u.allocated(), row.toString());
      assertEquals(List.of(row.free()), u.free(), row.toString());
    }
  }

  @Test
  void of_lengthsDiffer_rejectedNamingBoth() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PoolUsage.of(new long[2], new long[3]));
    assertEquals("usage of 2 range sets with capacities of 3", e.getMessage());
  }
}
