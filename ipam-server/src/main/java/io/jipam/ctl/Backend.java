package io.jipam.ctl;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
import io.jipam.api.v1.UsageResponse;
import java.util.List;
import java.util.Set;

/**
 * What jipamctl's commands do with a store, wherever it is: a jipamd ({@link RemoteBackend}) or a
 * data dir or etcd store jipamctl opened itself ({@link DirectBackend}). Both answer as jipamd's
 * {@code jipam.v1} methods do ({@link io.jipam.server.grpc.ReadCalls} serves the reads of both). Blocking;
 * one command at a time.
 */
interface Backend extends AutoCloseable {
  /** For messages: {@code jipamd at unix:/run/jipam/jipam.sock}, {@code data dir /var/lib/...}, ... */
  String describe();

  /** The pools there are, by name. */
  List<Pool> pools();

  UsageResponse usage(Pool pool);

  /** The pool's allocations matching the filter fields of {@code filter}, with their nodes. */
  List<ListPages.Listed> list(Pool pool, ListRequest filter);

  List<Allocation> find(Pool pool, Attachment attachment);

  List<Allocation> release(Pool pool, Attachment attachment);

  List<Allocation> retainOnly(Pool pool, Set<Attachment> valid);

  /** What {@link #retainOnly} would release now; changes nothing. */
  List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid);

  /** What the store itself finds inconsistent in the pool (etcd: blocks and handles); empty elsewhere. */
  List<String> audit(Pool pool);

  AllocationOutcome allocate(Pool pool, AllocationRequest request);

  ReclaimNodeResponse reclaimNode(ReclaimNodeRequest request);

  boolean liftFence(String node);

  /**
   * The store's claims (holds, reservations, cool-downs: {@code reserve}, {@code unreserve},
   * {@code reservations}, and the claims {@code list}, {@code show} and {@code release} see);
   * empty when the store keeps none.
   */
  java.util.Optional<io.jipam.core.store.capability.Claims> claims();

  @Override
  void close();
}
