package io.jipam.core.store.memory;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.KeptPools;
import io.jipam.core.store.capability.LocalCalls;
import io.jipam.core.store.capability.NeverBlocks;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.store.capability.RetireOutcome;
import io.jipam.core.store.capability.RetirePools;
import io.jipam.core.store.spi.OtherPools;
import io.jipam.core.store.spi.PoolState;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@link IpamStore} in this process's memory. One lock (this object's monitor) guards every pool;
 * nothing is durable. When a pool is named with a changed config its allocations are carried over
 * into a fresh state for the new ranges, with its claims. Holds and cool-downs run on the clock
 * given at construction. An ADD asks the other pools of the network, under the same lock, for the
 * addresses they hold ({@link OtherPools}), and so does a reservation, for what they have on its
 * address: both are one step under the lock, so a reservation and an ADD or reservation of the
 * same address in another pool of the network never both succeed.
 */
final class InMemoryStore implements IpamStore, Claims, LocalCalls, NeverBlocks, KeptPools, RetirePools {
  private final Clock clock;
  /** @GuardedBy("this") */
  private final Map<String, PoolState> pools = new HashMap<>();

  InMemoryStore(Clock clock) {
    this.clock = clock;
  }

  private PoolState state(Pool pool) {
    PoolState state = pools.get(pool.name());
    if (state == null || !state.pool().equals(pool)) {
      PoolState fresh = new PoolState(pool, clock);
      if (state != null) {
        state.allocations().forEach(a -> fresh.load(a.address(), a.attachment(), a.pod(), a.origin()));
        state.storedClaims().forEach(fresh::loadClaim);
      }
      pools.put(pool.name(), fresh);
      state = fresh;
    }
    return state;
  }

  /**
   * The pool's state for a call that only releases or reads: a pool this store does not keep gets an
   * empty state that is not kept, so such calls keep nothing (as a retired pool stays retired).
   */
  private PoolState existing(Pool pool) {
    return pools.containsKey(pool.name()) ? state(pool) : new PoolState(pool, clock);
  }

  @Override
  public synchronized AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return state(pool).allocate(request, otherPools(pool));
  }

  @Override
  public synchronized List<Pool> keptPools(String network, Set<String> named, Pool like) {
    List<Pool> out = new ArrayList<>();
    for (PoolState s : pools.values()) {
      String name = s.pool().name();
      if (!named.contains(name) && Pool.networkOf(name).equals(network)) {
        out.add(s.pool());
      }
    }
    return out;
  }

  /** Under this store's lock, so no change of the pool comes between the look and the removal. */
  @Override
  public synchronized RetireOutcome retire(String pool) {
    Pool.requireName(pool);
    PoolState s = pools.get(pool);
    if (s == null) {
      return new RetireOutcome.NotFound(pool);
    }
    int allocations = s.allocations().size();
    int claims = s.claims().size();
    if (allocations > 0 || claims > 0) {
      return new RetireOutcome.InUse(pool, allocations, claims);
    }
    pools.remove(pool);
    return new RetireOutcome.Retired(pool);
  }

  /** What the other pools of the pool's network hold, read live from their states. */
  private OtherPools otherPools(Pool pool) {
    List<PoolState> others = new ArrayList<>();
    for (PoolState s : pools.values()) {
      if (pool.sharesNetworkWith(s.pool().name())) {
        others.add(s);
      }
    }
    if (others.isEmpty()) {
      return OtherPools.NONE;
    }
    return new OtherPools() {
      @Override
      public Held holderOf(IpAddress address) {
        for (PoolState s : others) {
          Allocation a = s.holderOf(address);
          if (a != null) {
            return new OtherPools.Held(s.pool().name(), a.attachment());
          }
          Claim c = s.claimOf(address);
          if (c != null && !c.expiredAt(clock.instant())) { // an expired claim there keeps nothing
            return new OtherPools.Held(s.pool().name(), null);
          }
        }
        return null;
      }

      @Override
      public List<Use> usesOf(IpAddress address) {
        List<Use> out = new ArrayList<>(1);
        for (PoolState s : others) {
          Allocation a = s.holderOf(address);
          Claim c = s.claimOf(address);
          if (a != null || c != null) {
            out.add(new Use(s.pool().name(), a == null ? null : a.attachment(), a == null ? null : a.pod(), c));
          }
        }
        return out;
      }
    };
  }

  @Override
  public synchronized List<Allocation> release(Pool pool, Attachment attachment) {
    return existing(pool).release(attachment);
  }

  @Override
  public synchronized List<Allocation> find(Pool pool, Attachment attachment) {
    return existing(pool).find(attachment);
  }

  @Override
  public synchronized List<Allocation> list(Pool pool) {
    return existing(pool).list();
  }

  @Override
  public synchronized List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    return existing(pool).retainOnly(valid);
  }

  @Override
  public synchronized PoolUsage usage(Pool pool) {
    return existing(pool).usage();
  }

  @Override
  public synchronized ReserveOutcome reserve(Pool pool, IpAddress address, PodRef podOrNamespace, boolean whenFree) {
    return state(pool).reserve(address, podOrNamespace, whenFree, otherPools(pool));
  }

  @Override
  public synchronized Optional<Claim> unreserve(Pool pool, IpAddress address) {
    return existing(pool).unreserve(address);
  }

  @Override
  public synchronized Optional<Claim> endHold(Pool pool, IpAddress address) {
    return existing(pool).endHold(address);
  }

  @Override
  public synchronized List<Claim> claims(Pool pool) {
    return existing(pool).claims();
  }

  /** Every pool's state; for invariant checks in tests. */
  synchronized List<PoolState> states() {
    return List.copyOf(pools.values());
  }

  @Override
  public void close() {}
}
