package io.jipam.core.store.capability;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import java.util.List;
import java.util.Optional;

/**
 * A pool, how full each of its range sets is, and, when its store cuts pools into blocks, each
 * block's usage and owner: what operators read for a pool ({@code jipamctl pools} and {@code usage},
 * jipamd's ListPools). Immutable.
 *
 * @param pool the pool
 * @param usage per range set of {@code pool}, as {@link IpamStore#usage} gives it
 * @param blocks every block, in range set then address order; null when the store has no blocks
 *     (files, memory), which is not the same as a store with blocks that has none yet (empty)
 */
public record PoolStatus(Pool pool, PoolUsage usage, List<BlockUsage> blocks) {

  public PoolStatus {
    if (pool == null || usage == null) {
      throw new IllegalArgumentException("a pool status needs a pool and its usage");
    }
    int sets = pool.rangeSets().size();
    if (usage.allocated().size() != sets || usage.free().size() != sets) {
      throw new IllegalArgumentException("pool " + pool.name() + " has " + sets + " range sets, its usage "
          + usage.allocated().size() + " allocated and " + usage.free().size() + " free counts");
    }
    blocks = blocks == null ? null : List.copyOf(blocks);
  }

  /**
   * The status of {@code pool} in {@code store}: with blocks when the store has {@link Inspection}
   * (one read of its blocks), else its {@link IpamStore#usage}. Changes nothing.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached
   */
  public static PoolStatus read(IpamStore store, Pool pool) {
    Optional<Inspection> inspection = store.capability(Inspection.class);
    if (inspection.isPresent()) {
      PoolBlocks pb = inspection.get().blockUsage(pool);
      return new PoolStatus(pool, pb.usage(), pb.blocks());
    }
    return new PoolStatus(pool, store.usage(pool), null);
  }

  /** True when the store has blocks (even none yet). */
  public boolean hasBlocks() {
    return blocks != null;
  }

  /** The blocks summed per owning node and range set ({@link NodeUsage#of}); empty without blocks. */
  public List<NodeUsage> nodes() {
    return blocks == null ? List.of() : NodeUsage.of(blocks);
  }
}
