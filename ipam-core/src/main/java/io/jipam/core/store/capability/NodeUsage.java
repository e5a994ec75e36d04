package io.jipam.core.store.capability;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The blocks one node owns in one range set of a pool, summed. Immutable.
 *
 * @param node the owning node; empty for blocks with no owner
 * @param rangeSet the range set
 * @param blocks how many blocks
 * @param used addresses held in them
 * @param free addresses of them that may still be handed out
 */
public record NodeUsage(String node, int rangeSet, int blocks, long used, long free) {
  private static final Comparator<NodeUsage> ORDER =
      Comparator.comparing(NodeUsage::node).thenComparingInt(NodeUsage::rangeSet);

  public NodeUsage {
    if (node == null || rangeSet < 0 || blocks < 0 || used < 0 || free < 0) {
      throw new IllegalArgumentException("node usage of " + node + ": set " + rangeSet + ", blocks " + blocks
          + ", used " + used + ", free " + free);
    }
  }

  /** The blocks summed per owning node and range set, ordered by node, then range set. */
  public static List<NodeUsage> of(List<BlockUsage> blocks) {
    Map<NodeUsage, long[]> sums = new TreeMap<>(ORDER); // keyed by node and set; blocks, used, free
    for (BlockUsage b : blocks) {
      long[] n = sums.computeIfAbsent(new NodeUsage(b.owner(), b.rangeSet(), 0, 0, 0), k -> new long[3]);
      n[0]++;
      n[1] += b.used();
      n[2] += b.free();
    }
    List<NodeUsage> out = new ArrayList<>(sums.size());
    sums.forEach((k, n) -> out.add(new NodeUsage(k.node(), k.rangeSet(), Math.toIntExact(n[0]), n[1], n[2])));
    return List.copyOf(out);
  }
}
