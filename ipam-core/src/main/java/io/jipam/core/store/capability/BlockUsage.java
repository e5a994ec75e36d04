package io.jipam.core.store.capability;

import io.jipam.core.net.Cidr;
import java.util.Objects;

/**
 * How full one block of a pool is, and which node it belongs to. Immutable.
 *
 * @param rangeSet the range set the block is cut from
 * @param block the block's prefix
 * @param owner the node whose block it is (its affinity); empty when it has none (orphaned by
 *     {@link NodeReclaim#reclaimNode})
 * @param used addresses held in the block, by any node (a borrowed address counts in the block it
 *     lies in)
 * @param capacity addresses of the block that may be handed out (inside the set's ranges, not
 *     a gateway or excluded, and not held or reserved for a pod while unallocated)
 */
public record BlockUsage(int rangeSet, Cidr block, String owner, long used, long capacity) {
  public BlockUsage {
    Objects.requireNonNull(block, "block");
    owner = owner == null ? "" : owner;
    if (rangeSet < 0 || used < 0 || capacity < 0) {
      throw new IllegalArgumentException("block " + block + ": set " + rangeSet + ", used " + used
          + ", capacity " + capacity);
    }
  }

  /** Addresses of the block that may still be handed out; 0 when it holds more than it may. */
  public long free() {
    return Math.max(0, capacity - used);
  }
}
