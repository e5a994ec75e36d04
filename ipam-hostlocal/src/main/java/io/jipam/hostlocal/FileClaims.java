package io.jipam.hostlocal;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.ReserveOutcome;
import java.util.List;
import java.util.Optional;

/**
 * {@link Claims} as both file stores offer it: each call is one {@link ClaimOp} that the store
 * runs on the pool's whole state under its locks ({@link #claimCall}); a pool with no directory has
 * no claims. Thread safety and atomicity are the store's: a reservation, which asks the network's
 * other pools, also holds the network's lock as an ADD does ({@link NetworkPoolDirs}), so no ADD
 * or reservation of its address in another pool of the network runs between its check and its
 * write.
 */
interface FileClaims extends Claims {

  /** Runs the call on the pool's state under the store's locks and persists what it changed. */
  <T> T claimCall(Pool pool, ClaimOp<T> op);

  /** Whether the pool has a directory yet. */
  boolean poolExists(Pool pool);

  @Override
  default ReserveOutcome reserve(Pool pool, IpAddress address, PodRef podOrNamespace, boolean whenFree) {
    return claimCall(pool, ClaimOp.reserve(address, podOrNamespace, whenFree));
  }

  @Override
  default Optional<Claim> unreserve(Pool pool, IpAddress address) {
    return claimCall(pool, ClaimOp.unreserve(address));
  }

  @Override
  default Optional<Claim> endHold(Pool pool, IpAddress address) {
    return claimCall(pool, ClaimOp.endHold(address));
  }

  @Override
  default List<Claim> claims(Pool pool) {
    return poolExists(pool) ? claimCall(pool, ClaimOp.list()) : List.of();
  }
}
