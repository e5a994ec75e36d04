package io.jipam.core.store;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where allocations live: the one contract every store (in memory, host-local files, etcd)
 * implements and that {@code IpamStoreContractTest} checks.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li><b>Atomic.</b> Each method is one atomic step against every other caller of the same
 *       store, in this process or (for durable stores) in any other: {@link #allocate} reserves an
 *       address in every range set or none, and no two attachments ever hold one address.
 *   <li><b>A network's pools share its addresses.</b> {@link #allocate} in pool {@code N} or in a
 *       sub-pool's {@code N+x} never hands out an address another pool of network {@code N} holds
 *       ({@link Pool#networkOf}), whatever ranges each pool was named with: a search passes over
 *       it, a request for it is {@link AllocationOutcome.Taken} naming that pool (or {@link
 *       AllocationOutcome.Unavailable} when that pool only keeps it for a claim). So renaming or
 *       removing a sub-pool, or moving ranges between a network's pools, never puts two
 *       attachments on one address. Pools of different networks are separate address spaces.
 *   <li><b>Idempotent.</b> Allocating for an attachment that already holds addresses returns
 *       them ({@link AllocationOutcome.Allocated#existing()}); releasing what is not held succeeds.
 *   <li><b>Outcomes, not exceptions.</b> A taken, reserved or exhausted address is an {@link
 *       AllocationOutcome}. Exceptions ({@link io.jipam.core.IpamException}) mean the store could
 *       not do its job (I/O, unreachable, corrupt) and are always raised, never swallowed; when one
 *       is raised nothing was changed, or the change is complete and durable as far as the store
 *       promises (each store documents its durability).
 *   <li><b>Origins kept.</b> Each allocation is stored with why it was given ({@link
 *       Allocation#origin()}, the origin {@link #allocate} reported for it); {@link #find}, {@link
 *       #list} and {@link #release} return it, and a repeated ADD never changes it.
 *   <li><b>Thread-safe.</b> Every implementation may be called from many threads.
 * </ul>
 */
public interface IpamStore extends AutoCloseable {

  /** Reserves one address per range set of the pool for the request's attachment. */
  AllocationOutcome allocate(Pool pool, AllocationRequest request);

  /** Releases every address the attachment holds in the pool; returns what was released. */
  List<Allocation> release(Pool pool, Attachment attachment);

  /** The addresses the attachment holds in the pool, in range set order. */
  List<Allocation> find(Pool pool, Attachment attachment);

  /** Every allocation of the pool, ordered by address. */
  List<Allocation> list(Pool pool);

  /**
   * Garbage collection: releases every allocation of the pool whose attachment is not in {@code
   * valid}; returns what was released.
   */
  List<Allocation> retainOnly(Pool pool, Set<Attachment> valid);

  /** How full the pool is. */
  PoolUsage usage(Pool pool);

  @Override
  void close();

  /**
   * An optional ability of this store beyond the contract (the interfaces of
   * {@code io.jipam.core.store.capability}: {@code Inspection}, {@code NodeReclaim}, ...), or empty
   * when it has none such. Callers ask for the ability, never for a store class. The default
   * answers by what this object implements; a store that wraps another may answer for it.
   */
  default <T> Optional<T> capability(Class<T> ability) {
    return ability.isInstance(this) ? Optional.of(ability.cast(this)) : Optional.empty();
  }

}
