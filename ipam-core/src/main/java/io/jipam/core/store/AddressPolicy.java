package io.jipam.core.store;

import io.jipam.core.IpamException;
import java.time.Duration;

/**
 * What a pool does with an address between two attachments: keep it for the same pod ({@link
 * StickyRule}), keep it out of use for a while ({@code reuseDelay}), and (through the store's
 * {@link io.jipam.core.store.capability.Claims} ability) reservations. Part of {@link Pool}; {@link
 * #NONE} is host-local's behaviour.
 *
 * <h2>The rules every store follows</h2>
 * Besides free and allocated, an address of a pool may carry one {@link Claim}:
 * <table>
 *   <caption>Claims</caption>
 *   <tr><th>claim</th><th>made by</th><th>ends</th><th>who may get the address</th></tr>
 *   <tr><td>hold</td><td>DEL (or GC) of a sticky pod's attachment</td><td>at its expiry, by an ADD of that pod, or by {@code jipamctl release}</td><td>that pod only</td></tr>
 *   <tr><td>reservation</td><td>an operator ({@code jipamctl reserve})</td><td>only by {@code jipamctl unreserve}</td><td>that pod, or any pod of that namespace; it stays while the pod holds the address</td></tr>
 *   <tr><td>cooling</td><td>DEL (or GC) in a pool with a reuse delay</td><td>at its expiry</td><td>the pod that released it, when it names the address ({@code ips}); anyone else only when nothing else is free (below)</td></tr>
 * </table>
 *
 * <p><b>ADD</b> of a pod P, for each range set where the attachment holds nothing yet, takes the
 * first of:
 * <ol>
 *   <li>the address the request names ({@code ips}); refused as {@link AllocationOutcome.Unavailable}
 *       when it is held, reserved or cooling for anyone but P;
 *   <li>an unallocated address reserved for P by name, then one reserved for P's namespace
 *       ({@link AllocationOrigin#RESERVED});
 *   <li>an address held for P; the hold ends ({@link AllocationOrigin#STICKY}). With a store shared
 *       by nodes the hold is found whichever node's block holds it;
 *   <li>the next free address in the pool's order, skipping every claimed one ({@link
 *       AllocationOrigin#FREE});
 *   <li>when only cooling addresses are left: the one whose cool-down ends first (with one reuse delay, the earliest release),
 *       and the store logs it ({@link AllocationOrigin#COOLED}). Keeping tight pools working is
 *       worth more than the delay;
 *   <li>otherwise the set is exhausted.
 * </ol>
 *
 * <p><b>DEL</b> (and GC, which releases as DEL does) of an attachment of pod P, for each address:
 * a reserved address stays reserved (unallocated); else, when the sticky rule applies to P and the
 * set's hold bound is not reached, it becomes a hold for P until now + hold; else, with a reuse
 * delay, it cools until now + delay; else it is free. GC never ends a claim.
 *
 * <p>A claim past its expiry is the same as none; stores drop expired claims when they next touch
 * them. Time is the store's injected clock. Free counts ({@link PoolUsage}) include cooling
 * addresses (they can be handed out in the last resort) and exclude held and reserved ones.
 *
 * @param sticky the pods whose addresses are held after DEL; null for none
 * @param reuseDelay how long a released address cools; {@link Duration#ZERO} for no delay, at most
 *     one day
 */
public record AddressPolicy(StickyRule sticky, Duration reuseDelay) {
  public static final Duration MAX_REUSE_DELAY = Duration.ofDays(1);
  public static final AddressPolicy NONE = new AddressPolicy(null, Duration.ZERO);

  public AddressPolicy {
    reuseDelay = reuseDelay == null ? Duration.ZERO : reuseDelay;
    if (reuseDelay.isNegative() || reuseDelay.compareTo(MAX_REUSE_DELAY) > 0) {
      throw IpamException.invalidConfig("reuseDelaySeconds %d is out of range: 0 to %d",
          reuseDelay.toSeconds(), MAX_REUSE_DELAY.toSeconds());
    }
  }

  /** Whether this pool behaves as host-local does: no holds, no cooling. */
  public boolean isNone() {
    return sticky == null && reuseDelay.isZero();
  }
}
