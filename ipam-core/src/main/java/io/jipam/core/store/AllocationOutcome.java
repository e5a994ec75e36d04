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
   * @param origins per allocation, why the attachment got it ({@link AllocationOrigin})
   */
  record Allocated(List<Allocation> allocations, boolean existing, List<AllocationOrigin> origins)
      implements AllocationOutcome {
    public Allocated {
      allocations = List.copyOf(allocations);
      origins = List.copyOf(origins);
      if (origins.size() != allocations.size()) {
        throw new IllegalArgumentException(origins.size() + " origins for " + allocations.size() + " allocations");
      }
    }

    /** What a repeated ADD answers: the addresses the attachment held before; nothing was written. */
    public static Allocated held(List<Allocation> allocations) {
      return new Allocated(allocations, true);
    }

    /** New allocations, each with why the attachment got it. */
    public static Allocated fresh(List<Allocation> allocations, List<AllocationOrigin> origins) {
      return new Allocated(allocations, false, origins);
    }

    /**
     * Allocations of a store that knows no claims: {@link AllocationOrigin#EXISTING} each when
     * {@code existing}, else {@link AllocationOrigin#FREE}.
     */
    public Allocated(List<Allocation> allocations, boolean existing) {
      this(allocations, existing, java.util.Collections.nCopies(allocations.size(),
          existing ? AllocationOrigin.EXISTING : AllocationOrigin.FREE));
    }
  }

  /**
   * A requested address is held by another attachment.
   *
   * @param pool null when it holds the address in the pool allocated in; else the other pool of
   *     the network that holds it (a network's pools share its addresses: {@link IpamStore})
   */
  record Taken(IpAddress address, Attachment holder, String pool) implements AllocationOutcome {
    /** Held in the pool allocated in. */
    public Taken(IpAddress address, Attachment holder) {
      this(address, holder, null);
    }
  }

  /** A requested address is outside every range set, or is reserved (gateway, excluded). */
  record Unavailable(IpAddress address, String reason) implements AllocationOutcome {}

  /**
   * The range set has no free address.
   *
   * @param claimed how many of its addresses no attachment holds but a claim keeps from this ADD
   *     (held for another sticky pod, or reserved for another pod or namespace), as far as the store
   *     knows them at the refusal: what an operator looks at first when a pool that is not full of
   *     allocations refuses ADDs; 0 when none (or not known)
   */
  record Exhausted(int rangeSetIndex, long claimed) implements AllocationOutcome {
    public Exhausted {
      if (claimed < 0) {
        throw new IllegalArgumentException("claimed " + claimed + " < 0");
      }
    }

    /** Exhausted with no claimed address. */
    public Exhausted(int rangeSetIndex) {
      this(rangeSetIndex, 0);
    }
  }
}
