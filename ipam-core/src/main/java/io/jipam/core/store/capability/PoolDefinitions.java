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

  /**
   * The pools of network {@code network} the store defines (its own pool {@code network} and its
   * sub-pools' {@code network+name}, {@link Pool#networkOf}), by name: those of {@link
   * #definedPools()} in that network. Changes nothing. This default reads every definition; a
   * store that can read one network's alone does.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG when {@code network} is no network name
   *     ({@link Pool#isNetworkName}), naming it; TRY_AGAIN_LATER when the store cannot be reached
   */
  default List<Pool> definedPools(String network) {
    Pool.requireNetworkName(network);
    return definedPools().stream().filter(p -> Pool.networkOf(p.name()).equals(network)).toList();
  }
}
