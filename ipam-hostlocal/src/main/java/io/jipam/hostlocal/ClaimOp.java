package io.jipam.hostlocal;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.store.spi.OtherPools;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One {@link io.jipam.core.store.capability.Claims} call on a pool's whole state, with its files
 * written ({@link ClaimFiles#persist}); both file stores run it under the pool's locks, and a
 * reservation ({@link #needsNetwork}) also under the network's lock, as an ADD ({@link
 * NetworkPoolDirs}). Not thread-safe: one call's.
 */
abstract class ClaimOp<T> {
  /** The address the call is about; null for a read of every claim. */
  private final IpAddress address;

  private ClaimOp(IpAddress address) {
    this.address = address;
  }

  /** {@code others}: what the network's other pools hold; {@link OtherPools#NONE} unless {@link #needsNetwork}. */
  abstract T apply(PoolState st, OtherPools others);

  /**
   * Whether the call asks the network's other pools (a reservation): the store runs it holding the
   * network's lock, as an ADD, so that no ADD or reservation of the address in another pool of the
   * network runs between its check and its write.
   */
  boolean needsNetwork() {
    return false;
  }

  /** Undoes {@link #apply} when its marker could not be created (a file appeared meanwhile). */
  T takenMeanwhile(PoolState st) {
    throw new IllegalStateException("no marker is created by this call");
  }

  /**
   * Runs the call on the state and persists what it changed; null when the address has a file the
   * state does not know (a change the stamp missed): the caller rebuilds and runs it again.
   */
  final T run(PoolSession h, PoolState st) throws IOException {
    if (address != null && st.holderOf(address) == null && st.claimOf(address) == null
        && h.dir.readHolder(address) != null) {
      return null;
    }
    Set<IpAddress> marked = ClaimFiles.marked(st);
    T result = apply(st, h.others());
    if (!ClaimFiles.persist(h, st, marked, Set.of())) {
      result = takenMeanwhile(st);
      ClaimFiles.persist(h, st, ClaimFiles.marked(st), Set.of());
    }
    return result;
  }

  static ClaimOp<ReserveOutcome> reserve(IpAddress address, PodRef podOrNamespace, boolean whenFree) {
    return new ClaimOp<>(address) {
      @Override
      ReserveOutcome apply(PoolState st, OtherPools others) {
        return st.reserve(address, podOrNamespace, whenFree, others);
      }

      @Override
      boolean needsNetwork() {
        return true;
      }

      @Override
      ReserveOutcome takenMeanwhile(PoolState st) {
        st.unreserve(address);
        return new ReserveOutcome.InUse(address, "taken meanwhile by a process that is not jipam (host-local?)");
      }
    };
  }

  static ClaimOp<Optional<Claim>> unreserve(IpAddress address) {
    return new ClaimOp<>(address) {
      @Override
      Optional<Claim> apply(PoolState st, OtherPools others) {
        return st.unreserve(address);
      }
    };
  }

  static ClaimOp<Optional<Claim>> endHold(IpAddress address) {
    return new ClaimOp<>(address) {
      @Override
      Optional<Claim> apply(PoolState st, OtherPools others) {
        return st.endHold(address);
      }
    };
  }

  static ClaimOp<List<Claim>> list() {
    return new ClaimOp<>(null) {
      @Override
      List<Claim> apply(PoolState st, OtherPools others) {
        return st.claims();
      }
    };
  }
}
