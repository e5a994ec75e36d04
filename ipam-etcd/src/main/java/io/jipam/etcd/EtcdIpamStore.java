package io.jipam.etcd;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.IpamStore;
import java.util.List;
import java.util.Map;

/**
 * The clustered {@link IpamStore} on etcd, with the one operation beyond the store contract:
 * reclaiming what a node that no longer exists held.
 *
 * <p>Contract in addition to {@link IpamStore}'s:
 * <ul>
 *   <li><b>Atomic across the cluster.</b> Every change is one etcd transaction guarded by the mod
 *       revisions of the keys it was computed from; two stores (processes, nodes) never hand one
 *       address to two attachments.
 *   <li><b>Durable</b> as etcd is: a call that returned has been committed by a quorum of members.
 *   <li><b>Bounded.</b> Every call returns or throws within the configured timeout (plus a little
 *       scheduling slack); an unreachable etcd or one without quorum gives {@code TRY_AGAIN_LATER}.
 *       A call that times out either changed nothing or committed completely; repeating it is safe
 *       (ADD finds the handle, DEL is idempotent).
 *   <li><b>GC is per node.</b> {@link #retainOnly} releases only allocations made by this store's
 *       node; {@link #reclaimNode} is the cluster-wide counterpart.
 * </ul>
 */
public interface EtcdIpamStore extends IpamStore {

  /** The node name this store allocates for. */
  String node();

  /**
   * Releases every allocation, in every pool, that was made by {@code node}, and gives that
   * node's blocks back to the pool (empty ones are deleted; ones still holding other nodes'
   * allocations lose their affinity). For a node that no longer exists: calling it for a live
   * node takes its addresses away from running pods.
   *
   * @return per pool name, what was released, ordered by address
   */
  Map<String, List<Allocation>> reclaimNode(String node);
}
