package io.jipam.core.store.capability;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link ApplyBy}: a store call's deadline, bounded by its caller's apply-by time on this thread. */
class ApplyByTest {
  private static final long NOW = 1_000_000_000L;
  private static final long TIMEOUT = 5_000_000_000L; // 5 s in nanoseconds
  private static final long WALL = 1_800_000_000_000L; // milliseconds since the epoch

  @Test
  void bound_applyByAgainstTheStoresTimeout_theSoonerDeadline() {
    record Row(String name, long applyBy, long deadline) {}
    for (Row row : List.of(
        new Row("none given", 0, NOW + TIMEOUT),
        new Row("later than the timeout", WALL + 60_000, NOW + TIMEOUT),
        new Row("sooner than the timeout", WALL + 1_500, NOW + 1_500_000_000L),
        new Row("now", WALL, NOW),
        new Row("passed", WALL - 10, NOW),
        new Row("far past", 1, NOW),
        new Row("far ahead", Long.MAX_VALUE, NOW + TIMEOUT))) {
      long got = ApplyBy.within(row.applyBy, () -> ApplyBy.bound(NOW, TIMEOUT, WALL));
      assertEquals(row.deadline, got, row.name);
    }
    assertEquals(NOW + TIMEOUT, ApplyBy.bound(NOW, TIMEOUT, WALL), "outside within: the store's own");
  }

  @Test
  void within_nested_innerAppliesOuterRestored() {
    long got = ApplyBy.within(WALL + 3_000, () -> {
      long inner = ApplyBy.within(WALL + 1_000, () -> ApplyBy.bound(NOW, TIMEOUT, WALL));
      assertEquals(NOW + 1_000_000_000L, inner);
      return ApplyBy.bound(NOW, TIMEOUT, WALL);
    });
    assertEquals(NOW + 3_000_000_000L, got);
  }

  @Test
  void lateBy_table() {
    assertEquals(0, ApplyBy.lateBy(0, WALL), "none given: never late");
    assertEquals(-5, ApplyBy.lateBy(WALL + 5, WALL));
    assertEquals(0, ApplyBy.lateBy(WALL, WALL), "at the time: not late");
    assertEquals(7, ApplyBy.lateBy(WALL - 7, WALL));
  }
}
