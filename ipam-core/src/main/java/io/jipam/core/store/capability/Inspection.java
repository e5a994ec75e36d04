package io.jipam.core.store.capability;

import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.Map;

/**
 * Reads a store that cuts pools into blocks and records which node made each allocation can
 * answer beyond the {@link io.jipam.core.store.IpamStore} contract: per-block usage, the node behind
 * each attachment, and a consistency audit. Ask a store for it with
 * {@code store.capability(Inspection.class)}; the etcd store and a remote store have it, the file
 * and memory stores do not. Every method changes nothing; thread-safe as the store is.
 */
public interface Inspection {

  /**
   * The pool's usage per range set and per block (with each block's owner), read at one point in
   * time.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached
   */
  PoolBlocks blockUsage(Pool pool);

  /**
   * The node that made each attachment's allocation in the pool.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached
   */
  Map<Attachment, String> allocatingNodes(Pool pool);

  /**
   * What the store finds inconsistent in the pool: one line per disagreement, naming the address,
   * the attachment and the record; empty when its records agree.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached
   */
  List<String> audit(Pool pool);
}
