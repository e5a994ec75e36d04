package io.jipam.core.cni;

import io.jipam.core.IpamException;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The store pools of one network: its default pool (the top-level ranges, under the network's
 * name) and its sub-pools ({@link SubPools}, each under {@code <network>+<name>}).
 *
 * <ul>
 *   <li><b>ADD</b> allocates from {@link #select}: the first sub-pool (in config order) that
 *       matches the pod and node, else the default pool; with no default and no match, {@code
 *       INVALID_CONFIG} (CNI code 7) naming the pod and the node: the config has no addresses
 *       for that pod.
 *   <li><b>DEL</b> and <b>GC</b> release in {@link #all} pools, because the selectors, the pod's
 *       labels of the config may have changed since the ADD; <b>CHECK</b> looks in all of them.
 * </ul>
 *
 * @param defaultPool null when the network has sub-pools only
 */
public record NetworkPools(Pool defaultPool, List<SubPool> subPools) {

  public NetworkPools {
    subPools = List.copyOf(subPools);
    if (defaultPool == null && subPools.isEmpty()) {
      throw new IllegalArgumentException("a network needs a default pool or a sub-pool");
    }
  }

  /** The pool an ADD of {@code pod} on the node {@code node} names allocates from. */
  public Pool select(PodRef pod, Supplier<String> node) {
    SubPool sub = matching(pod, node);
    if (sub != null) {
      return sub.pool();
    }
    if (defaultPool != null) {
      return defaultPool;
    }
    String nodeName = node.get();
    throw IpamException.invalidConfig("no sub-pool of network \"%s\" matches pod %s on node %s, and the network"
        + " has no ranges of its own to fall back on", network(), Printable.quote(pod.toString()),
        nodeName == null ? "(unknown)" : Printable.quote(nodeName));
  }

  /** The first sub-pool that matches, or null. */
  public SubPool matching(PodRef pod, Supplier<String> node) {
    Supplier<String> once = new Once(node);
    for (SubPool sub : subPools) {
      if (sub.matches(pod, once)) {
        return sub;
      }
    }
    return null;
  }

  /** Every pool of the network: the default (when there is one) first, then the sub-pools. */
  public List<Pool> all() {
    List<Pool> out = new ArrayList<>(subPools.size() + 1);
    if (defaultPool != null) {
      out.add(defaultPool);
    }
    for (SubPool sub : subPools) {
      out.add(sub.pool());
    }
    return out;
  }

  /** The sub-pool whose store pool is named {@code poolName}, or null (the default, or another). */
  public SubPool subPool(String poolName) {
    for (SubPool sub : subPools) {
      if (sub.pool().name().equals(poolName)) {
        return sub;
      }
    }
    return null;
  }

  /** The network's name. */
  public String network() {
    return defaultPool != null ? defaultPool.name() : subPools.get(0).network();
  }

  /** Asks the supplier at most once (the node name may mean reading a file). */
  private static final class Once implements Supplier<String> {
    private final Supplier<String> source;
    private boolean asked;
    private String value;

    Once(Supplier<String> source) {
      this.source = source;
    }

    @Override
    public String get() {
      if (!asked) {
        asked = true;
        value = source.get();
      }
      return value;
    }
  }
}
