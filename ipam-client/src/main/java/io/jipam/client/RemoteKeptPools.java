package io.jipam.client;

import io.jipam.core.store.Pool;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * {@link io.jipam.core.store.capability.KeptPools} for a store behind another jipamd: the pools of
 * a network that jipamd defines (its ListPools of that network with definitions only: no usage
 * read; on etcd the network's pool definitions only), read again at most every {@link
 * #REFRESH_MILLIS} per network.
 *
 * <h2>Why a kept list</h2>
 * The CNI handler asks on every call. One ListPools per call would add a round trip to each of a
 * node's calls to the central jipamd; one per network per half minute adds nothing measurable. What
 * the list can miss is a pool defined at the other jipamd since it was read. A pool a config stops
 * naming (a sub-pool renamed or removed) was defined before that change, so a DEL with the new
 * config misses it only when the pool was defined, filled and renamed away within one refresh; and
 * a pool this store allocated in is never missed: it is added to the list as it is named.
 *
 * <p>An older jipamd ignores the network a ListPools names and answers every pool it defines: the
 * pools of other networks in an answer are not kept.
 *
 * <p>Thread-safe: each network's list is replaced whole; two callers may both read it when it is
 * due. One list is kept per network asked about (the networks of the node's configs).
 */
final class RemoteKeptPools {
  /** How long a read list of pools answers before it is read again. */
  static final long REFRESH_MILLIS = 30_000;

  /** The pools the other jipamd defines of a network (or, an older one, of every network). */
  private final Function<String, List<Pool>> definedPools;
  private final Clock clock;
  /** The last read of each network asked about, by network. */
  private final ConcurrentHashMap<String, Read> reads = new ConcurrentHashMap<>();
  /** The pools this store's ADDs named, by name: kept whatever the last read says. */
  private final ConcurrentHashMap<String, Pool> allocatedIn = new ConcurrentHashMap<>();

  private record Read(long atMillis, List<Pool> pools) {}

  RemoteKeptPools(Function<String, List<Pool>> definedPools, Clock clock) {
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
   * Forgets a pool this store retired: it is no longer one it allocated in, and its network is read
   * again at the next question.
   */
  void retired(String pool) {
    allocatedIn.remove(pool);
    reads.remove(Pool.networkOf(pool));
  }

  /**
   * The pools of {@code network} the other jipamd defines, or this store allocated in, that {@code
   * named} does not name, in {@code like}'s order.
   */
  List<Pool> keptPools(String network, Set<String> named, Pool like) {
    List<Pool> out = null;
    Set<String> seen = null;
    for (Pool p : read(network).pools()) {
      if (!named.contains(p.name())) {
        if (out == null) {
          out = new ArrayList<>(2);
          seen = new HashSet<>();
        }
        seen.add(p.name());
        out.add(inOrder(p, like));
      }
    }
    for (Pool p : allocatedIn.values()) {
      if (!named.contains(p.name()) && Pool.networkOf(p.name()).equals(network)
          && (seen == null || !seen.contains(p.name()))) {
        if (out == null) {
          out = new ArrayList<>(2);
        }
        out.add(inOrder(p, like));
      }
    }
    return out == null ? List.of() : out;
  }

  /**
   * The network's last read, or a new one when there is none, it is due, or the clock went back:
   * the network's pools of the answer (an older jipamd's holds every network's).
   */
  private Read read(String network) {
    Read r = reads.get(network);
    long now = clock.millis();
    if (r == null || now - r.atMillis() >= REFRESH_MILLIS || now < r.atMillis()) {
      r = new Read(now, definedPools.apply(network).stream()
          .filter(p -> Pool.networkOf(p.name()).equals(network)).toList());
      reads.put(network, r);
    }
    return r;
  }

  /** The pool in the config's order: what ListPools gives for etcd (round-robin) does not say it. */
  private static Pool inOrder(Pool p, Pool like) {
    return p.order() == like.order() ? p : new Pool(p.name(), p.rangeSets(), like.order(), p.policy());
  }
}
