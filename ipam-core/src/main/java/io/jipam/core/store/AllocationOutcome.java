package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.util.List;

/**
 * What {@link IpamStore#allocate} did. Only {@link Allocated} changed anything; every other
 * outcome left the store as it was.
 */
public sealed interface AllocationOutcome {

  /**
   * The attachment holds these addresses, one per range set in set order.
   *
   * @param existing true when they were held before the call (a repeated ADD): nothing was written
   */
  record Allocated(List<Allocation> allocations, boolean existing) implements AllocationOutcome {
    public Allocated {
      allocations = List.copyOf(allocations);
    }
  }

  /** A requested address is held by another attachment. */
  record Taken(IpAddress address, Attachment holder) implements AllocationOutcome {}

  /** A requested address is outside every range set, or is reserved (network, gateway, excluded). */
  record Unavailable(IpAddress address, String reason) implements AllocationOutcome {}

  /** The range set has no free address. */
  record Exhausted(int rangeSetIndex) implements AllocationOutcome {}
}
