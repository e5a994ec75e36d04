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
   *
   * <p>The other pools of the pool's network ({@code N} and its sub-pools {@code N+x}, {@link
   * Pool#networkOf}) share its addresses, so what they have on the address counts too, after the
   * pool's own refusals above; a refusal is {@link ReserveOutcome.InUse} whose holder text names
   * that pool and whose {@link ReserveOutcome.InUse#pool()} is it:
   *
   * <ul>
   *   <li>reserved there, for another pod or namespace or for the same one: refused, {@code
   *       whenFree} or not (one address, one reservation per network; unreserve it there first);
   *   <li>allocated there to an attachment of a pod the reservation does not admit, or held there
   *       for such a pod: refused, unless {@code whenFree}, in which case the reservation is
   *       recorded here and the other pool keeps its allocation or hold: this pool never hands the
   *       address out while another pool of the network holds it, so the reservation applies once
   *       that pool has released it (and any hold or cool-down its release made there has ended);
   *   <li>allocated or held there for a pod the reservation admits, or cooling there: recorded,
   *       applying as just said.
   * </ul>
   *
   * The check and the write are one atomic step against ADDs and reservations in the other pools
   * as far as each store guarantees it (its javadoc says how); pools of other networks never count.
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
