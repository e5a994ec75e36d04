package io.jipam.core.cni;

import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.function.Supplier;

/**
 * One sub-pool of a network ({@link SubPools}): its store pool and the pods it is for.
 *
 * <p>A pod matches when every selector list that is not empty has an entry that matches it (the
 * lists are ANDed, the entries of one list ORed): {@code namespaces} globs against the pod's
 * namespace, {@code pods} patterns ({@link PodPattern}, {@code NAMESPACE/NAME}) against the pod,
 * {@code nodes} globs against the node's name. A pod whose namespace or name is unknown (no
 * {@code K8S_POD_*} in CNI_ARGS) matches no namespace or pod selector; an unknown node name
 * (null) matches no node selector. A sub-pool with no selectors matches every pod. Immutable and
 * thread-safe.
 *
 * @param name the sub-pool's name in the config (unique in its network)
 * @param pool the store pool: named {@code <network>+<name>} ({@link #poolName}), with the sub-pool's ranges and the
 *     network's order and address policy
 * @param index its place in the network's {@code subPools} list: an ADD takes the first that matches
 * @param defaultPool the name of the network's default pool (its own ranges), where an ADD that no
 *     sub-pool matches goes; null when the network has none (such an ADD fails)
 */
public record SubPool(String name, Pool pool, List<String> namespaces, List<PodPattern> pods, List<String> nodes,
    int index, String defaultPool) {

  public SubPool {
    if (name == null || pool == null || index < 0
        || !pool.name().endsWith(Pool.SUB_POOL_SEPARATOR + name) || pool.name().length() == name.length() + 1) {
      throw new IllegalArgumentException("sub-pool " + name + " at " + index + " cannot have store pool "
          + (pool == null ? null : pool.name()));
    }
    namespaces = List.copyOf(namespaces);
    pods = List.copyOf(pods);
    nodes = List.copyOf(nodes);
  }

  /**
   * The store pool name of sub-pool {@code name} of {@code network}: {@code <network>+<name>}
   * ({@link Pool#SUB_POOL_SEPARATOR}, which no network name holds, so that network {@code net.db}
   * and sub-pool {@code db} of network {@code net} never share a pool).
   */
  public static String poolName(String network, String name) {
    return network + Pool.SUB_POOL_SEPARATOR + name;
  }

  /** The network this sub-pool belongs to: its pool's name before the separator. */
  public String network() {
    return pool.name().substring(0, pool.name().length() - name.length() - 1);
  }

  /**
   * Whether the pod, on the node {@code node} names, belongs to this sub-pool. {@code node} is
   * asked only when this sub-pool has node selectors.
   */
  public boolean matches(PodRef pod, Supplier<String> node) {
    if (!namespaces.isEmpty() && !anyGlob(namespaces, pod.namespace())) {
      return false;
    }
    if (!pods.isEmpty()) {
      boolean any = false;
      for (PodPattern p : pods) {
        any |= p.matches(pod);
      }
      if (!any) {
        return false;
      }
    }
    if (!nodes.isEmpty()) {
      String nodeName = node.get();
      return nodeName != null && anyGlob(nodes, nodeName);
    }
    return true;
  }

  private static boolean anyGlob(List<String> globs, String text) {
    if (text.isEmpty()) {
      return false;
    }
    for (String g : globs) {
      if (PodPattern.glob(g, text)) {
        return true;
      }
    }
    return false;
  }

  /** The selectors as the config writes them, for messages and {@code jipamctl}. */
  public String selectors() {
    StringBuilder out = new StringBuilder();
    if (!namespaces.isEmpty()) {
      out.append("namespaces=").append(String.join(",", namespaces));
    }
    if (!pods.isEmpty()) {
      out.append(out.isEmpty() ? "" : " ").append("pods=");
      for (int i = 0; i < pods.size(); i++) {
        out.append(i == 0 ? "" : ",").append(pods.get(i));
      }
    }
    if (!nodes.isEmpty()) {
      out.append(out.isEmpty() ? "" : " ").append("nodes=").append(String.join(",", nodes));
    }
    return out.isEmpty() ? "any pod" : out.toString();
  }
}
