package io.jipam.core.store.capability;

import io.jipam.core.store.Pool;

/**
 * A store that allocates for one node from blocks that node owns (the etcd store): its node, and
 * the usage of its own blocks. Ask a store for it with {@code store.capability(NodeView.class)}.
 */
public interface NodeView {

  /** The node name this store allocates for. */
  String node();

  /**
   * The usage of this store's node's blocks in the pool, per block and per range set. Changes
   * nothing.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached
   */
  PoolBlocks nodeBlockUsage(Pool pool);
}
