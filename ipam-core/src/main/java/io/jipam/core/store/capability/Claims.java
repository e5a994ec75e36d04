package io.jipam.core.store.capability;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.Optional;

/**
 * The claims of a pool ({@link Claim}: holds, reservations, cool-downs) as operators see and change
 * them: {@code jipamctl reserve}, {@code unreserve}, {@code reservations}, {@code list} and {@code
 * release} of a hold. Every store offers it; each call is one atomic step against allocations, as
 * {@link io.jipam.core.store.IpamStore}'s methods are.
 */
public interface Claims {

  /**
   * Reserves the address for a pod ({@code namespace/name}) or a namespace (empty name). Changes
   * nothing unless the outcome is {@link ReserveOutcome.Reserved}.
   *
   * <ul>
   *   <li>outside every range of the pool, or a gateway or excluded:
   *       {@link ReserveOutcome.Unavailable};
   *   <li>allocated to an attachment of another pod, or held for another pod: {@link
   *       ReserveOutcome.InUse} naming the holder, unless {@code whenFree}, in which case the
   *       reservation is recorded and applies from the release on (the release makes no hold and
   *       no cool-down);
   *   <li>reserved already: for the same pod or namespace, {@link ReserveOutcome.Reserved} with the
   *       existing claim (idempotent); for another, {@link ReserveOutcome.InUse} naming it;
   *   <li>cooling: the reservation replaces the cool-down.
   * </ul>
   */
  ReserveOutcome reserve(Pool pool, IpAddress address, PodRef podOrNamespace, boolean whenFree);

  /**
   * Ends the reservation of the address; returns it, or empty when there was none. An allocation of
   * the address stays; an unallocated address becomes free.
   */
  Optional<Claim> unreserve(Pool pool, IpAddress address);

  /** Ends the hold on the address early; returns it, or empty when there was none. */
  Optional<Claim> endHold(Pool pool, IpAddress address);

  /** Every unexpired claim of the pool, ordered by address. */
  List<Claim> claims(Pool pool);
}
