package io.jipam.client;

import io.jipam.core.store.Pool;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@link io.jipam.core.store.capability.KeptPools} for a store behind another jipamd: the pools
 * that jipamd defines (its ListPools with definitions only: no usage read; on etcd every pool
 * defined there), read again at most every {@link #REFRESH_MILLIS}.
 *
 * <h2>Why a kept list</h2>
 * The CNI handler asks on every call. One ListPools per call would add a round trip to each of a
 * node's calls to the central jipamd; one per half minute adds nothing measurable. What the list
 * can miss is a pool defined at the other jipamd since it was read. A pool a config stops naming
 * (a sub-pool renamed or removed) was defined before that change, so a DEL with the new config
 * misses it only when the pool was defined, filled and renamed away within one refresh; and a
 * pool this store allocated in is never missed: it is added to the list as it is named.
 *
 * <p>Thread-safe: the list is replaced whole; two callers may both read it when it is due.
 */
final class RemoteKeptPools {
  /** How long a read list of pools answers before it is read again. */
  static final long REFRESH_MILLIS = 30_000;

  private final Supplier<List<Pool>> definedPools;
  private final Clock clock;
  private volatile Read last;
  /** The pools this store's ADDs named, by name: kept whatever the last read says. */
  private final java.util.concurrent.ConcurrentHashMap<String, Pool> allocatedIn = new java.util.concurrent.ConcurrentHashMap<>();

  private record Read(long atMillis, List<Pool> pools) {}

  RemoteKeptPools(Supplier<List<Pool>> definedPools, Clock clock) {
    this.definedPools = definedPools;
    this.clock = clock;
  }

  /** Notes a pool an ADD of this store names (defined there by that ADD, if not before). */
  void allocatingIn(Pool pool) {
    if (!allocatedIn.containsKey(pool.name())) {
      allocatedIn.putIfAbsent(pool.name(), pool);
    }
  }

  /**
   * The pools of {@code network} the other jipamd defines, or this store allocated in, that {@code
   * named} does not name, in {@code like}'s order.
   */
  List<Pool> keptPools(String network, Set<String> named, Pool like) {
    Read r = last;
    long now = clock.millis();
    if (r == null || now - r.atMillis() >= REFRESH_MILLIS || now < r.atMillis()) {
      r = new Read(now, List.copyOf(definedPools.get()));
      last = r;
    }
    List<Pool> out = null;
    java.util.Set<String> seen = null;
    for (Pool p : r.pools()) {
      if (!named.contains(p.name()) && Pool.networkOf(p.name()).equals(network)) {
        if (out == null) {
          out = new ArrayList<>(2);
          seen = new java.util.HashSet<>();
        }
        seen.add(p.name());
        out.add(inOrder(p, like));
      }
    }
    for (Pool p : allocatedIn.values()) {
      if (!named.contains(p.name()) && Pool.networkOf(p.name()).equals(network) && (seen == null || !seen.contains(p.name()))) {
        if (out == null) {
          out = new ArrayList<>(2);
        }
        out.add(inOrder(p, like));
      }
    }
    return out == null ? List.of() : out;
  }

  /** The pool in the config's order: what ListPools gives for etcd (round-robin) does not say it. */
  private static Pool inOrder(Pool p, Pool like) {
    return p.order() == like.order() ? p : new Pool(p.name(), p.rangeSets(), like.order(), p.policy());
  }
}
