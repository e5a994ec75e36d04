package io.jipam.core.store.capability;

/**
 * Taking back what a node that no longer exists held, in a store that keeps node affinity: the
 * etcd store does it, a remote store asks its jipamd. Ask a store for it with
 * {@code store.capability(NodeReclaim.class)}. The contract (fence first, then release; a node
 * seen within the quiet period refused unless forced) is the etcd store's
 * ({@code io.jipam.etcd.EtcdStore#reclaimNode}).
 */
public interface NodeReclaim {

  /**
   * Fences the node and releases every allocation, in every pool, that it made.
   *
   * @throws io.jipam.core.IpamException NOT_AVAILABLE when the node looks alive and the policy does
   *     not force; TRY_AGAIN_LATER when the store cannot be reached (repeat the call)
   */
  ReclaimReport reclaimNode(String node, ReclaimPolicy policy);

  /** What {@link #reclaimNode} would release now and whether it would refuse, changing nothing. */
  ReclaimPreview previewReclaim(String node, ReclaimPolicy policy);

  /**
   * Removes a node's fence, so that stores of that node name allocate again.
   *
   * @return true when there was a fence
   */
  boolean liftFence(String node);
}
