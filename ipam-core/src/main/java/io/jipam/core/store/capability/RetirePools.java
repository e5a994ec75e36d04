package io.jipam.core.store.capability;

/**
 * Retiring an emptied pool: removing its state, so that the store no longer keeps it ({@link
 * KeptPools} no longer lists it, nor do {@code jipamctl pools} and {@code list}) and calls of its
 * network stop looking there. Ask a store for it with {@code store.capability(RetirePools.class)}.
 */
public interface RetirePools {

  /**
   * Removes pool {@code pool}'s state unless it holds anything. Refuses, changing nothing, while the
   * pool has any allocation or any live claim (a hold, a reservation, a cool-down): {@link
   * RetireOutcome.InUse}, counting them. Expired claims and empty blocks or files are removed with
   * the rest.
   *
   * <p>Atomic with respect to concurrent changes of the pool, in this process and in every other one
   * sharing the store: an ADD in the pool either lands first (the retire is then refused), or after
   * the retire (it then defines the pool again, from its own config, and allocates as in a new pool).
   * A config that still names the pool so brings it back. Never loses or duplicates an allocation.
   * Thread-safe.
   *
   * @param pool a pool name ({@link io.jipam.core.store.Pool#isName})
   * @return {@link RetireOutcome.Retired} when removed, {@link RetireOutcome.InUse} when refused,
   *     {@link RetireOutcome.NotFound} when the store keeps no pool of that name
   * @throws io.jipam.core.IpamException INVALID_CONFIG when {@code pool} is no pool name, naming it;
   *     TRY_AGAIN_LATER or IO_FAILURE when the store cannot be read or written (nothing or all of
   *     the retire applied: repeat the call)
   */
  RetireOutcome retire(String pool);
}
