package io.jipam.ctl;

import static io.jipam.ctl.Formats.e;

import io.jipam.core.cni.SubPool;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code jipamctl pools} says of sub-pools ({@code ipam.subPools}): for a sub-pool, its
 * network, its place in the network's list, its selectors and where an ADD no sub-pool matches
 * goes; for a network's default pool, its sub-pools. Nothing for a pool that is neither, so the
 * output of networks without sub-pools stays as it was. Every name and selector escaped ({@link
 * Formats#e}). Immutable.
 */
final class SubPoolLines {
  private final Map<String, SubPool> byPool = new HashMap<>();
  /** Per network, its sub-pools' store pools in config order. */
  private final Map<String, List<String>> byNetwork = new HashMap<>();

  SubPoolLines(List<SubPool> subPools) {
    List<SubPool> ordered = new ArrayList<>(subPools);
    ordered.sort(Comparator.comparingInt(SubPool::index));
    for (SubPool sub : ordered) {
      byPool.put(sub.pool().name(), sub);
      byNetwork.computeIfAbsent(sub.network(), n -> new ArrayList<>()).add(sub.pool().name());
    }
  }

  /**
   * The line after the pool's title: {@code sub-pool ipam.subPools[0] of network net: namespaces=db-*;
   * no match: pool net} or {@code default pool of network net, for pods no sub-pool matches;
   * sub-pools: net+db, net+edge}; nothing for other pools.
   */
  void text(PrintWriter out, Pool pool) {
    SubPool sub = byPool.get(pool.name());
    if (sub != null) {
      out.println("  sub-pool ipam.subPools[" + sub.index() + "] of network " + e(sub.network()) + ": "
          + e(sub.selectors()) + "; no match: " + (sub.defaultPool() == null ? "no default pool (the ADD fails)"
          : "pool " + e(sub.defaultPool())));
      return;
    }
    List<String> subs = byNetwork.get(pool.name());
    if (subs != null) {
      List<String> names = new ArrayList<>();
      subs.forEach(n -> names.add(e(n)));
      out.println("  default pool of network " + e(pool.name()) + ", for pods no sub-pool matches; sub-pools: "
          + String.join(", ", names));
    }
  }

  /**
   * The same into a pool's JSON object: {@code subPool} ({@code network, name, index, namespaces,
   * pods, nodes, defaultPool}) for a sub-pool, {@code subPools} (their pool names) for a default
   * pool; nothing for other pools.
   */
  void json(JsonObject out, Pool pool) {
    SubPool sub = byPool.get(pool.name());
    if (sub != null) {
      JsonArray pods = new JsonArray();
      sub.pods().forEach(p -> pods.add(p.toString()));
      out.put("subPool", new JsonObject().put("network", sub.network()).put("name", sub.name())
          .put("index", sub.index()).put("namespaces", new JsonArray(sub.namespaces())).put("pods", pods)
          .put("nodes", new JsonArray(sub.nodes())).put("defaultPool", sub.defaultPool()));
      return;
    }
    List<String> subs = byNetwork.get(pool.name());
    if (subs != null) {
      out.put("subPools", new JsonArray(subs));
    }
  }
}
