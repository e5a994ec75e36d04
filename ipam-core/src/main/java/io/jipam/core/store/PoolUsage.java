package io.jipam.core.store;

import java.util.ArrayList;
import java.util.List;

/**
 * How full each range set of a pool is; STATUS and operators read it.
 *
 * @param allocated per range set, addresses held
 * @param free per range set, addresses that may still be handed out (unsigned, saturated)
 */
public record PoolUsage(List<Long> allocated, List<Long> free) {
  public PoolUsage {
    allocated = List.copyOf(allocated);
    free = List.copyOf(free);
  }

  /**
   * The usage of range sets from what each holds and can hold, the one place free addresses are
   * counted: free is capacity less allocated (unsigned), 0 when a set holds more than it can (a
   * store that kept addresses of ranges since made smaller), and -1 (2^64 - 1) when the capacity
   * is saturated.
   *
   * @param allocated per range set, addresses held
   * @param capacity per range set, addresses that may be handed out, unsigned, -1 when saturated
   */
  public static PoolUsage of(long[] allocated, long[] capacity) {
    if (allocated.length != capacity.length) {
      throw new IllegalArgumentException(
          "usage of " + allocated.length + " range sets with capacities of " + capacity.length);
    }
    List<Long> used = new ArrayList<>(allocated.length);
    List<Long> free = new ArrayList<>(allocated.length);
    for (int i = 0; i < allocated.length; i++) {
      used.add(allocated[i]);
      long cap = capacity[i];
      free.add(cap == -1L ? -1L : Long.compareUnsigned(allocated[i], cap) >= 0 ? 0L : cap - allocated[i]);
    }
    return new PoolUsage(used, free);
  }

  /** Whether some range set has no free address left, so an ADD would fail. */
  public boolean anyExhausted() {
    return free.stream().anyMatch(f -> f == 0);
  }
}
