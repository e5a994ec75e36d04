package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which pools each network has, as one store last read them: what {@link
 * io.jipam.core.store.capability.KeptPools} answers from, with no round trip of its own once the
 * store has looked at the network.
 *
 * <p>Filled from the reads the store does anyway: every {@link NetworkPeers#load} (the network's
 * guard key and its pools' definitions, read at one revision, riding on the transaction that
 * checks a pool's definition or read again after an ADD's guard on the network key failed), and
 * every pool this store defines. A read replaces what an older read said (by the guard key's mod
 * revision, which every definition of a pool of the network moves), keeping this store's own
 * definitions made since; an older read only adds pools (definitions are immutable).
 *
 * <p>Staleness: a pool of the network that another store defined after this store's last read is
 * missing until a pool cache of the network reads the network again (at the latest when an ADD in
 * the network, whose transaction is guarded on the network key, fails that guard). A pool this
 * store allocated in is never missing: its own definition or its load put it here.
 *
 * <p>Thread-safe: each network's entry is an immutable snapshot replaced atomically.
 */
final class KnownNetworks {
  /** One pool's definition: as stored, its pool (ranges as stored), and the revision it was known defined at. */
  record Definition(String text, Pool pool, long revision) {}

  /**
   * What was read of one network: the guard key's mod revision then (0: absent), its pools by name;
   * and the read itself ({@link NetworkPeers#reads}' answers) when a store that had not looked at
   * the network read it for {@link io.jipam.core.store.capability.KeptPools}, for the caches of its
   * pools to start from ({@link PoolCache#seed}) until a newer read or definition replaces it (else
   * null).
   */
  record Known(long guardRev, Map<String, Definition> pools, List<GetResponse> read) {}

  private final ConcurrentHashMap<String, Known> networks = new ConcurrentHashMap<>();

  /** What is known of the network; null when this store never read it. */
  Known get(String network) {
    return networks.get(network);
  }

  /**
   * Takes the answers of {@link NetworkPeers#reads}: the network's guard key, then its pools'
   * definitions, all at one revision.
   */
  void read(Keys keys, String network, List<GetResponse> got, boolean keep) {
    long guardRev = got.get(0).getKvs().isEmpty() ? 0L : got.get(0).getKvs().get(0).getModRevision();
    Map<String, Definition> pools = definitions(keys, network, got.subList(1, got.size()));
    networks.compute(network, (n, old) -> {
      if (old == null) {
        return new Known(guardRev, Map.copyOf(pools), keep ? List.copyOf(got) : null);
      }
      if (guardRev < old.guardRev()) {
        // an older read: it can only add pools (a definition never changes)
        Map<String, Definition> merged = new LinkedHashMap<>(old.pools());
        pools.forEach(merged::putIfAbsent);
        return new Known(old.guardRev(), Map.copyOf(merged), old.read());
      }
      // as new as what is known: it replaces it, but for the definitions known made after it
      old.pools().forEach((name, d) -> {
        if (d.revision() > guardRev) {
          pools.putIfAbsent(name, d);
        }
      });
      return new Known(guardRev, Map.copyOf(pools), keep ? List.copyOf(got) : null);
    });
  }

  /**
   * The definitions of the network's pools among the answers of {@link
   * NetworkPeers#definitionReads}, by name in the answers' order: each pool with its stored ranges
   * (order round-robin: the order is not stored), and the revision it was created at. A key that
   * names no pool of the network is passed over.
   */
  static Map<String, Definition> definitions(Keys keys, String network, List<GetResponse> got) {
    Map<String, Definition> pools = new LinkedHashMap<>();
    for (GetResponse g : got) {
      for (KeyValue kv : g.getKvs()) {
        String name = keys.parsePool(EtcdClient.text(kv.getKey()));
        if (Pool.isName(name) && Pool.networkOf(name).equals(network)) {
          pools.put(name, new Definition(EtcdClient.text(kv.getValue()),
              parse(name, EtcdClient.text(kv.getValue())), kv.getCreateRevision()));
        }
      }
    }
    return pools;
  }

  /**
   * A pool this store defined (its transaction, at {@code revision}, put the definition and the
   * network key): added to a network already read. A network not read stays unread (one pool is
   * not the list of its pools).
   */
  void defined(String name, String definition, long revision) {
    String network = Pool.networkOf(name);
    Definition d = new Definition(definition, parse(name, definition), revision);
    networks.computeIfPresent(network, (n, old) -> {
      if (old.pools().containsKey(name)) {
        return old;
      }
      Map<String, Definition> merged = new LinkedHashMap<>(old.pools());
      merged.put(name, d);
      // the read kept for the caches misses this pool: it moved the network key
      return new Known(old.guardRev(), Map.copyOf(merged), null);
    });
  }

  /**
   * A pool this store retired (its transaction, at {@code revision}, deleted the definition and put
   * the network key): no longer known, and a read older than the retire no longer replaces what is
   * known.
   */
  void retired(String name, long revision) {
    networks.computeIfPresent(Pool.networkOf(name), (n, old) -> {
      Map<String, Definition> left = new LinkedHashMap<>(old.pools());
      left.remove(name);
      return new Known(Math.max(old.guardRev(), revision), Map.copyOf(left), null);
    });
  }

  /**
   * The network's known pools {@code named} does not name, with their stored ranges and {@code
   * like}'s allocation order (the order is not part of a definition). Empty when there are none.
   */
  static List<Pool> kept(Known known, Set<String> named, Pool like) {
    List<Pool> out = null;
    for (Map.Entry<String, Definition> e : known.pools().entrySet()) {
      if (!named.contains(e.getKey())) {
        if (out == null) {
          out = new ArrayList<>(2);
        }
        Pool p = e.getValue().pool();
        out.add(p.order() == like.order() ? p : new Pool(p.name(), p.rangeSets(), like.order()));
      }
    }
    if (out == null) {
      return List.of();
    }
    out.sort(java.util.Comparator.comparing(Pool::name));
    return out;
  }

  /**
   * Starts a new cache of a pool from the network's read kept in {@link Known#read}, when there is
   * one holding the pool's definition: its first batch then neither checks the definition nor reads
   * the network's pools.
   */
  void seed(PoolCache cache) {
    Known k = networks.get(Pool.networkOf(cache.pool.name()));
    Definition d = k == null || k.read() == null ? null : k.pools().get(cache.pool.name());
    if (d != null) {
      cache.seed(d.text(), d.revision(), k.read());
    }
  }

  private static Pool parse(String name, String definition) {
    return BlockLayout.parse(name, definition, AllocationOrder.ROUND_ROBIN).pool();
  }
}
