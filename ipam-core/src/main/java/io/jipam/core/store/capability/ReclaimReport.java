package io.jipam.core.store.capability;

import io.jipam.core.store.Allocation;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What {@link NodeReclaim#reclaimNode} did.
 *
 * @param node the reclaimed node
 * @param lastSeen when a store of the node last recorded a commit (before the fence), or null when
 *     it never did
 * @param forced true when the node looked alive and the policy forced the reclaim
 * @param released per pool name, the allocations released, ordered by address
 * @param blocksDeleted the node's empty blocks deleted
 * @param blocksOrphaned the node's blocks that still hold other nodes' (borrowed) addresses and lost
 *     their owner
 * @param affinitiesRemoved the node's affinity keys deleted
 */
public record ReclaimReport(String node, Instant lastSeen, boolean forced, Map<String, List<Allocation>> released,
    int blocksDeleted, int blocksOrphaned, int affinitiesRemoved) {

  public ReclaimReport {
    Map<String, List<Allocation>> copy = new TreeMap<>();
    released.forEach((pool, list) -> copy.put(pool, List.copyOf(list)));
    released = java.util.Collections.unmodifiableMap(copy);
  }

  /** The allocations released, over all pools. */
  public int allocationsReleased() {
    return released.values().stream().mapToInt(List::size).sum();
  }
}
