package io.jipam.server;

import io.jipam.core.IpamException;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The pool definitions this jipamd serves: the first request that names a pool defines it; a
 * later request that names it with other ranges or another order is refused ({@code
 * INVALID_CONFIG}), so two nodes with different conflists for one network cannot both allocate
 * from it. The etcd store also checks against the definition stored in etcd, which outlives
 * jipamd; for the file and memory stores the definition lives as long as this process.
 *
 * <p>Thread-safe. Bounded by the number of networks, which operators define.
 */
final class PoolRegistry {
  /** Bound of {@link #decoded}: definitions are few; past it the cache starts over. */
  private static final int DECODED_MAX = 1024;

  private final ConcurrentHashMap<String, Pool> pools = new ConcurrentHashMap<>();
  /**
   * Pool messages already decoded and checked: every request carries its pool's definition, and
   * decoding it (CIDRs, ranges) costs more than hashing the message.
   */
  private final ConcurrentHashMap<io.jipam.server.v1.Pool, Pool> decoded = new ConcurrentHashMap<>();

  /** Decodes the request's pool message ({@link Protos#pool}) and {@link #check}s it; cached. */
  Pool check(io.jipam.server.v1.Pool message) {
    Pool known = decoded.get(message);
    if (known != null) {
      return known; // checked when first decoded; a name's definition never changes
    }
    Pool pool = check(Protos.pool(message));
    if (decoded.size() >= DECODED_MAX) {
      decoded.clear();
    }
    decoded.put(message, pool);
    return pool;
  }

  /** Registers the pool or checks it against the registered definition; returns it. */
  Pool check(Pool pool) {
    Pool known = pools.putIfAbsent(pool.name(), pool);
    if (known != null && !known.equals(pool)) {
      throw IpamException.invalidConfig("network \"%s\" is served with ranges %s (order %s); this request"
          + " names ranges %s (order %s). A pool's definition is fixed while jipamd runs: use another"
          + " network name, or restart jipamd once the pool is no longer used",
          pool.name(), known.rangeSets(), known.order().configName(), pool.rangeSets(),
          pool.order().configName());
    }
    return pool;
  }

  List<Pool> all() {
    List<Pool> out = new ArrayList<>(pools.values());
    out.sort(Comparator.comparing(Pool::name));
    return out;
  }
}
