package io.jipam.core.store.capability;

import io.jipam.core.store.Pool;
import java.util.List;
import java.util.Set;

/**
 * A store that can say which pools of a network it keeps, whichever config named them: so a DEL,
 * GC, CHECK or repeated ADD with a config that no longer names a pool (a sub-pool renamed or
 * removed) still finds the attachments there. Ask a store for it with {@code
 * store.capability(KeptPools.class)}.
 */
public interface KeptPools {

  /**
   * The pools of network {@code network} (its own pool and its sub-pools' {@code network+name},
   * {@link Pool#networkOf}) this store keeps, but for those {@code named} names, as pools to call
   * this store with: a store that keeps the definitions gives them; one that does not (the file
   * store, whose release, find and GC do not depend on the ranges) gives each the ranges and order
   * of {@code like}. Empty when there are none, which is what a network whose config never
   * changed gets. Changes nothing.
   *
   * @throws io.jipam.core.IpamException when the store cannot be read
   */
  List<Pool> keptPools(String network, Set<String> named, Pool like);
}
