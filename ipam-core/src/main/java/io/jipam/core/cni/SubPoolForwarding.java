package io.jipam.core.cni;

/**
 * A store ability: passing the sub-pools of its callers' networks on with its allocations. A remote
 * store has it, so that the jipamd it calls knows which of its pools are sub-pools, with their
 * selectors, and shows them in ListPools and its metrics. Ask a store for it with {@code
 * store.capability(SubPoolForwarding.class)}. It lives beside {@link SubPool} (not with the other
 * abilities in {@code io.jipam.core.store.capability}) because the store package does not depend
 * on the CNI model.
 */
public interface SubPoolForwarding {

  /**
   * Records the sub-pools of {@code network} as the config of a call has them now ({@link
   * SubPoolIndex#defined}); later allocations from those pools carry theirs. Thread-safe; costs
   * nothing while no network has sub-pools.
   */
  void defined(NetworkPools network);
}
