package io.jipam.core.store.capability;

import io.jipam.core.store.Allocation;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What {@link NodeReclaim#previewReclaim} read: what a node holds now and whether a reclaim would be
 * refused. Read at one moment, changing nothing; the node may allocate or release right after.
 *
 * @param node the node
 * @param lastSeen when a store of the node last recorded a commit, or null when it never did
 * @param looksAlive the node committed within the policy's quiet period
 * @param fenced the node is fenced already (a reclaim goes on without judging it)
 * @param held per pool name, the allocations the node made, ordered by address
 */
public record ReclaimPreview(String node, Instant lastSeen, boolean looksAlive, boolean fenced,
    Map<String, List<Allocation>> held) {

  public ReclaimPreview {
    Map<String, List<Allocation>> copy = new TreeMap<>();
    held.forEach((pool, list) -> copy.put(pool, List.copyOf(list)));
    held = Collections.unmodifiableMap(copy);
  }

  /** True when {@link NodeReclaim#reclaimNode} with {@code policy} would refuse the node now. */
  public boolean refused(ReclaimPolicy policy) {
    return looksAlive && !fenced && !policy.force();
  }
}
