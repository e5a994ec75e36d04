package io.jipam.core.cni;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The sub-pools of the networks seen so far, by store pool name, as the last config naming each
 * network defined them: selectors may change between calls while the pool's ranges stay.
 *
 * <p>Thread-safe. Bounded by the number of sub-pools operators define.
 */
public final class SubPoolIndex {
  private final ConcurrentHashMap<String, SubPool> byPool = new ConcurrentHashMap<>();

  /**
   * Records the sub-pools of {@code network} as its config has them now: each one replaces what
   * was known for its pool, and a sub-pool the network no longer has is forgotten. Costs nothing
   * when no network has sub-pools (the common case, on every call's path).
   */
  public void defined(NetworkPools network) {
    if (network.subPools().isEmpty() && byPool.isEmpty()) {
      return;
    }
    Set<String> now = new HashSet<>();
    for (SubPool sub : network.subPools()) {
      now.add(sub.pool().name());
      byPool.put(sub.pool().name(), sub);
    }
    String name = network.network();
    byPool.values().removeIf(s -> s.network().equals(name) && !now.contains(s.pool().name()));
  }

  /** Records one sub-pool (read back from a file, or named by a request), replacing what was known for its pool. */
  public void put(SubPool sub) {
    byPool.put(sub.pool().name(), sub);
  }

  /** The sub-pool whose store pool is {@code poolName}; null when none is known. */
  public SubPool get(String poolName) {
    return byPool.isEmpty() ? null : byPool.get(poolName);
  }

  /** Forgets every sub-pool. */
  public void clear() {
    byPool.clear();
  }
}
