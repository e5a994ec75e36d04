package io.jipam.core.store.capability;

import io.jipam.core.store.Pool;
import java.util.List;

/**
 * A store that keeps pool definitions of its own (the etcd store), besides those its callers'
 * configs carry. Ask a store for it with {@code store.capability(PoolDefinitions.class)}.
 */
public interface PoolDefinitions {

  /**
   * Every pool the store defines, by name. Changes nothing.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached
   */
  List<Pool> definedPools();
}
