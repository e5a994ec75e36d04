package io.jipam.ctl;

import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.Set;

/**
 * What jipamctl's commands do with a store, wherever it is: a jipamd ({@link RemoteBackend}) or a
 * data dir or etcd store jipamctl opened itself ({@link DirectBackend}), in the store's domain
 * types. Both answer alike: jipamd answers from the same store capabilities (and their fallbacks in
 * core) that {@link DirectBackend} calls. Blocking; one command at a time.
 */
interface Backend extends AutoCloseable {
  /** For messages: {@code jipamd at unix:/run/jipam/jipam.sock}, {@code data dir /var/lib/...}, ... */
  String describe();

  /** The pools there are, by name. */
  List<Pool> pools();

  /**
   * The pools of network {@code network} (its own pool and its sub-pools, {@link Pool#networkOf}),
   * by name. This default lists them all and keeps the network's; a jipamd is asked for the
   * network's only.
   */
  default List<Pool> pools(String network) {
    return pools().stream().filter(p -> Pool.networkOf(p.name()).equals(network)).toList();
  }

  /**
   * The sub-pools among {@link #pools}, with their networks and selectors, as far as they are known
   * here: to a data dir or etcd store, from the {@code --conf} files; to jipamd, from the CNI calls
   * it served (and, on files, kept with its pool definitions). Empty by default.
   */
  default List<io.jipam.core.cni.SubPool> subPools() {
    return List.of();
  }

  /** The pool's usage, with its blocks where the store has blocks. */
  PoolStatus status(Pool pool);

  /** The pool's allocations matching {@code filter}, with their nodes, in address order. */
  List<ListPages.Listed> list(Pool pool, ListPages.Filter filter);

  List<Allocation> find(Pool pool, Attachment attachment);

  List<Allocation> release(Pool pool, Attachment attachment);

  List<Allocation> retainOnly(Pool pool, Set<Attachment> valid);

  /** What {@link #retainOnly} would release now; changes nothing. */
  List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid);

  /** What the store itself finds inconsistent in the pool (etcd: blocks and handles); empty elsewhere. */
  List<String> audit(Pool pool);

  AllocationOutcome allocate(Pool pool, AllocationRequest request);

  /** Fences the node and releases what it held (NOT_AVAILABLE when it looks alive, unforced). */
  ReclaimReport reclaimNode(String node, ReclaimPolicy policy);

  /** What {@link #reclaimNode} would release now and whether it would refuse; changes nothing. */
  ReclaimPreview previewReclaim(String node, ReclaimPolicy policy);

  boolean liftFence(String node);

  /**
   * Retires an emptied pool ({@link io.jipam.core.store.capability.RetirePools}); UNSUPPORTED_FIELD
   * naming the store when it cannot.
   */
  io.jipam.core.store.capability.RetireOutcome retirePool(String pool);

  /**
   * The store's claims (holds, reservations, cool-downs: {@code reserve}, {@code unreserve},
   * {@code reservations}, and the claims {@code list}, {@code show} and {@code release} see);
   * empty when the store keeps none (the default).
   */
  default java.util.Optional<io.jipam.core.store.capability.Claims> claims() {
    return java.util.Optional.empty();
  }

  @Override
  void close();
}
