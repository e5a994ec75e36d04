package io.jipam.core.store.spi;

import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;

/**
 * The rules for the addresses an ADD asks for ({@link AllocationRequest#requested()}), in one place
 * for every store. A requested address is refused, in this order, when it
 *
 * <ol>
 *   <li>lies in no range of the pool ({@link AllocationOutcome.Unavailable});
 *   <li>falls in a range set where the attachment already holds another address, or where another
 *       requested address falls ({@link AllocationOutcome.Unavailable}); the same address asked
 *       for twice is asked for once;
 *   <li>is reserved in its range: the gateway or excluded (the network address and the IPv4
 *       broadcast are in a range only when its explicit bounds include them, and then are free)
 *       ({@link AllocationOutcome.Unavailable});
 *   <li>is held by another attachment ({@link AllocationOutcome.Taken}).
 * </ol>
 *
 * <p>Stateless; the store supplies what the attachment holds and who holds an address, read from
 * its own state. Used on the plugin's exec path: no lambdas here.
 */
public final class RequestedAddresses {
  private RequestedAddresses() {}

  /** Who holds an address now, as the calling store knows it. */
  public interface Holders {
    /** The attachment holding the address in the range set, or null when it is free. */
    Attachment holderOf(int rangeSet, IpAddress address);
  }

  /**
   * Checks every requested address of an attachment that may already hold some.
   *
   * @param held per range set, the allocation the attachment holds, or null
   * @param fresh out: per range set, the new allocation of each requested address not held yet,
   *     with the origin to record ({@link AllocationRequest#recordedOrigin}: {@link
   *     AllocationOrigin#REQUESTED} but for a copy; entries of other sets are left alone);
   *     meaningful only when this returns null
   * @return null when every requested address is acceptable, else the refusal of the first that
   *     is not
   */
  public static AllocationOutcome check(Pool pool, AllocationRequest request, Allocation[] held,
      Holders holders, Allocation[] fresh) {
    for (IpAddress wanted : request.requested()) {
      int set = pool.rangeSetIndexOf(wanted);
      if (set < 0) {
        return outsideEveryRange(pool, wanted);
      }
      if (held[set] != null) {
        if (held[set].address().equals(wanted)) {
          continue;
        }
        return holdsAnother(pool, request.attachment(), held[set], wanted, set);
      }
      if (fresh[set] != null) {
        if (fresh[set].address().equals(wanted)) {
          continue; // the same address asked for twice is asked for once
        }
        return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted
            + ": another requested address is in the same range set " + pool.rangeSets().get(set));
      }
      RangeSet rangeSet = pool.rangeSets().get(set);
      IpRange range = rangeSet.ranges().get(rangeSet.indexOf(wanted));
      if (range.isReserved(wanted)) {
        return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted
            + " is reserved in range " + range + (wanted.equals(range.gateway()) ? ": it is the gateway"
            : ": it is excluded"));
      }
      Attachment holder = holders.holderOf(set, wanted);
      if (holder != null) {
        return new AllocationOutcome.Taken(wanted, holder);
      }
      fresh[set] = new Allocation(wanted, set, request.attachment(), request.pod(), request.recordedOrigin(wanted));
    }
    return null;
  }

  /**
   * Checks the requested addresses against what the attachment holds, when what it holds answers
   * the ADD as it is (a store that never completes a held allocation): each must lie in a range
   * of the pool and, where the attachment holds an address in its range set, be that address.
   *
   * @param held per range set, the allocation the attachment holds, or null
   * @return null when the held allocations answer the request, else the refusal
   */
  public static AllocationOutcome checkHeld(Pool pool, AllocationRequest request, Allocation[] held) {
    for (IpAddress wanted : request.requested()) {
      int set = pool.rangeSetIndexOf(wanted);
      if (set < 0) {
        return outsideEveryRange(pool, wanted);
      }
      if (held[set] != null && !held[set].address().equals(wanted)) {
        return holdsAnother(pool, request.attachment(), held[set], wanted, set);
      }
    }
    return null;
  }

  private static AllocationOutcome outsideEveryRange(Pool pool, IpAddress wanted) {
    return new AllocationOutcome.Unavailable(wanted,
        "requested address " + wanted + " is in no range of network " + pool.name());
  }

  private static AllocationOutcome holdsAnother(Pool pool, Attachment attachment, Allocation held,
      IpAddress wanted, int set) {
    return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted + ": " + attachment
        + " already holds " + held.address() + " in range set " + pool.rangeSets().get(set));
  }
}
