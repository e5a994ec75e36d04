package io.jipam.etcd;

/**
 * Stores of many nodes over one etcd client: what a central jipamd serves its nodes with. Each
 * node gets a store of its own ({@link #forNode}): its own pool caches and commit queue (so calls
 * of different nodes commit in parallel, and each node allocates from its own affine blocks as if
 * it talked to etcd itself), sharing the client's connections and the commit threads.
 *
 * <p>Thread-safe. The stores it hands out need no closing (closing one only stops it taking
 * calls); {@link #close} closes the client under all of them, after which none of them works.
 */
public interface EtcdNodeStores extends AutoCloseable {

  /**
   * The store of the config's own node, which may act on every node's attachments: an operator's
   * (reclaim, audit, release of any attachment). One instance.
   */
  EtcdStore store();

  /**
   * A new store acting for {@code node} only, on the shared client: its blocks and handles are
   * that node's, its {@code retainOnly} releases that node's allocations only, and an attachment
   * another node made is refused to its ADD, DEL and find ({@code PERMISSION_DENIED}, CNI code
   * 103), writing nothing. The caller keeps it as long as it likes (a cache): two stores of one
   * node at once are as safe as two processes of that node.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG when {@code node} is not a valid node name
   */
  EtcdStore forNode(String node);

  @Override
  void close();
}
