package io.jipam.core.store.capability;

import io.jipam.core.store.PoolUsage;
import java.util.List;

/**
 * A pool's usage per range set and per block, from one read of its blocks (one etcd revision), so
 * the blocks of a set add up to the set's {@code allocated}. Immutable.
 *
 * @param usage per range set, as {@link io.jipam.core.store.IpamStore#usage} gives it
 * @param blocks every block that exists, in range set then address order
 */
public record PoolBlocks(PoolUsage usage, List<BlockUsage> blocks) {
  public PoolBlocks {
    blocks = List.copyOf(blocks);
  }
}
