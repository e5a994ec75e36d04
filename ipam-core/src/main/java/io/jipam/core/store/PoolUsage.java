package io.jipam.core.store;

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

  /** Whether some range set has no free address left, so an ADD would fail. */
  public boolean anyExhausted() {
    return free.stream().anyMatch(f -> f == 0);
  }
}
