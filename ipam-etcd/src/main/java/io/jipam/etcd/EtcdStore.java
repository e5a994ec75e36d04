package io.jipam.etcd;

import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.Inspection;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeReclaim;
import io.jipam.core.store.capability.NodeView;
import io.jipam.core.store.capability.PoolBlocks;
import io.jipam.core.store.capability.PoolDefinitions;
import io.jipam.core.store.capability.Probe;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import java.util.List;
import java.util.Map;

/**
 * The clustered {@link IpamStore} on etcd. Beyond the store contract it has the abilities of
 * {@code io.jipam.core.store.capability} ({@link Claims}, {@link Inspection}, {@link NodeReclaim}, {@link NodeView},
 * {@link PoolDefinitions}, {@link Probe}, {@code KeptPools}, {@code RetirePools} and {@code CommitCounters}); callers outside this module
 * ask for those with {@link IpamStore#capability}, not for this type.
 *
 * <p>Contract in addition to {@link IpamStore}'s:
 * <ul>
 *   <li><b>Atomic across the cluster.</b> Every change is one etcd transaction guarded by the mod
 *       revisions of the keys it was computed from; two stores (processes, nodes) never hand one
 *       address to two attachments.
 *   <li><b>Refusals are read, not remembered.</b> {@code Exhausted} and {@code Taken} hold at one
 *       etcd revision read after the call began, covering every block of the pool and the
 *       attachment's handle: as linearizable as a successful allocation.
 *   <li><b>Durable</b> as etcd is: a call that returned has been committed by a quorum of members.
 *   <li><b>Bounded.</b> Every call returns or throws within the configured timeout (plus a little
 *       scheduling slack); an unreachable etcd or one without quorum gives {@code TRY_AGAIN_LATER}.
 *       A call that failed is not applied later by this store; a transaction it had already sent
 *       applies only if it reaches etcd before that transaction's ticket lease ends (seconds), and
 *       never after a DEL of the same attachment returned (docs/etcd.md, "Failures"). Repeating a
 *       call is safe (ADD finds the handle, DEL is idempotent).
 *   <li><b>GC is per node.</b> {@link #retainOnly} releases only allocations made by this store's
 *       node; {@link #reclaimNode} is the cluster-wide counterpart.
 * </ul>
 */
public interface EtcdStore extends IpamStore, Claims, Inspection, ListPages, NodeReclaim, NodeView, PoolDefinitions,
    Probe {

  /** The node name this store allocates for. */
  String node();

  /**
   * Reads one key (this node's seen record) from etcd, changing nothing: returns when etcd answers
   * within the store's timeout. For health checks.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd does not answer in time
   */
  void ping();

  /**
   * The pool's usage per range set and per block (with each block's owner), from its block
   * records read at one etcd revision (in pages). Changes nothing; the pool is defined as by any call.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  PoolBlocks blockUsage(Pool pool);

  /**
   * One page of the pool's allocations in address order: up to {@code limit} (1 to 1,000) after
   * {@code after} (exclusive; null: from the first), from range reads of the address records at one
   * revision, each covering a bounded span of addresses (a response of at most about 100 KB; what
   * etcd visits for a page does not grow with the page's position or the pool's size, but for a
   * read across a gap of over 65,536 free addresses). A caller pages by passing the last address of
   * a page; pages are read at different revisions (like any paged listing): an allocation present
   * from the first page to the last is listed exactly once, one made or released meanwhile at most
   * once. Changes nothing.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG for a limit outside
   *     1..1000; TRY_AGAIN_LATER when etcd cannot be reached
   */
  List<io.jipam.core.store.Allocation> listPage(Pool pool, io.jipam.core.net.IpAddress after, int limit);

  /**
   * {@inheritDoc}
   *
   * <p>Filled from {@link #listPage} and the page's handles read by key; a filter matching few
   * allocations reads at most 20,000 address records for one page.
   */
  @Override
  default ListPages.Page page(Pool pool, ListPages.Filter filter, io.jipam.core.net.IpAddress after, int size) {
    return ListPaging.page(this, pool, filter, after, size);
  }

  /**
   * The usage of this store's node's blocks in the pool (its affinity keys and those blocks: the
   * node's own keys, whatever the pool's size): per block, and per range set summed over them
   * ({@code allocated} in them against their capacity). Changes nothing. For a node's metrics.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  PoolBlocks nodeBlockUsage(Pool pool);

  /**
   * The node that made each attachment's allocation in the pool (its handle's node), from the
   * pool's handles read at one revision (in pages). Changes nothing.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  Map<Attachment, String> allocatingNodes(Pool pool);

  /**
   * The node that made each of these attachments' allocations in the pool (absent: no handle),
   * from their handles read by key (a transaction per 100): a list page's nodes, at a cost of the
   * attachments asked for. Changes nothing.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  Map<Attachment, String> allocatingNodes(Pool pool, java.util.Collection<Attachment> attachments);

  /**
   * Checks that the pool's records agree, read in pages at one etcd revision: every address a
   * block holds has its address record, listed, in that range set, by its holder's handle, every
   * address a handle lists is held by that attachment, and every handle has its copy under its
   * node. Changes nothing.
   *
   * @return one line per disagreement, naming the address, the attachment and the key; empty when
   *     they agree
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  List<String> audit(Pool pool);

  /**
   * Every pool defined in etcd (under this store's prefix), by name, with its stored ranges. The
   * allocation order is not part of a stored definition: these pools say round-robin. Changes
   * nothing.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  List<Pool> definedPools();

  /**
   * The pools of network {@code network} defined in etcd (under this store's prefix), by name, as
   * {@link #definedPools()} gives them: one transaction reading the network's own pool's definition
   * ({@code <prefix>/v2/pools/<network>}) and its sub-pools' ({@code <prefix>/v2/pools/<network>+}),
   * no other network's. A pool of the network still in the previous layout is not among them (as in
   * its kept pools: every call to it is refused). Changes nothing.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG when {@code network} is no network name,
   *     naming it; TRY_AGAIN_LATER when etcd cannot be reached
   */
  @Override
  List<Pool> definedPools(String network);

  /** {@link #reclaimNode(String, ReclaimPolicy)} with {@link ReclaimPolicy#DEFAULT}. */
  default ReclaimReport reclaimNode(String node) {
    return reclaimNode(node, ReclaimPolicy.DEFAULT);
  }

  /**
   * Takes back what a node that no longer exists held: fences the node, releases every allocation,
   * in every pool, that it made, and gives its blocks back to the pool (empty ones are deleted; ones
   * still holding other nodes' allocations lose their owner).
   *
   * <p>Order and guarantees:
   * <ol>
   *   <li>A node whose stores recorded a commit within {@code policy.quietPeriod()} looks alive: it
   *       is refused ({@code NOT_AVAILABLE}, naming when it was last seen) and nothing changes,
   *       unless {@code policy.force()}. The check and the fence are one transaction, so a node that
   *       commits in between is refused too.
   *   <li>The fence ({@code fences/<node>}) is written first. From then on no transaction of that
   *       node that creates a handle can commit (each one requires the fence absent), so the node
   *       allocates nothing more; its stores answer ADD with {@code NOT_AVAILABLE} naming the
   *       fence. Its DELs still work.
   *   <li>Then its handles are listed and released. Because of the fence that list is complete:
   *       nothing the node allocated stays behind, and nothing it allocates later exists.
   * </ol>
   * The fence stays until {@link #liftFence}; a node that comes back under the same name must be
   * unfenced by an operator. Idempotent: reclaiming a fenced node again finishes an interrupted
   * reclaim.
   *
   * @throws io.jipam.core.IpamException NOT_AVAILABLE when the node looks alive and the policy does
   *     not force; TRY_AGAIN_LATER when etcd cannot be reached (repeat the call)
   */
  ReclaimReport reclaimNode(String node, ReclaimPolicy policy);

  /**
   * What {@link #reclaimNode(String, ReclaimPolicy)} would release now and whether it would refuse
   * the node, changing nothing (a dry run). Reads the node's seen record, its fence and its
   * copies of its handles in every pool (its own keys); not atomic with a later reclaim.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd cannot be reached
   */
  ReclaimPreview previewReclaim(String node, ReclaimPolicy policy);

  /**
   * Removes a node's fence, so that stores of that node name allocate again.
   *
   * @return true when there was a fence
   */
  boolean liftFence(String node);
}
