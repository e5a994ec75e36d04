package io.jipam.server.grpc;

import io.jipam.api.WireMapping;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Inspection;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeView;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.PoolDefinitions;
import io.jipam.core.store.capability.RetainPreview;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.UsageResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The read side of {@code jipam.v1.Ipam} (List, Usage, Audit, RetainOnly's dry run, the pools a
 * store defines) over any {@link IpamStore}, for jipamd's endpoint: the wire on one side, on the
 * other the store's capabilities and their fallbacks in core ({@link PoolStatus#read},
 * {@link ListPages#of}, {@link RetainPreview#of}), which jipamctl calls directly on a store it
 * opened itself, so both give the same answers. The store's optional abilities decide (asked with
 * {@link IpamStore#capability}, never by class):
 *
 * <table>
 *   <caption>By ability</caption>
 *   <tr><th>ability</th><th>Usage</th><th>List's node</th><th>Audit</th><th>RetainOnly's dry run</th></tr>
 *   <tr><td>{@link Inspection} (etcd, remote)</td><td>range sets, blocks and nodes</td>
 *       <td>{@link Inspection#allocatingNodes}</td><td>{@link Inspection#audit}</td><td>-</td></tr>
 *   <tr><td>none (file, memory)</td><td>range sets only; no {@code blocks}</td><td>empty; a node filter
 *       is refused (UNSUPPORTED_FIELD)</td><td>nothing</td><td>every allocation not kept</td></tr>
 *   <tr><td>{@link NodeView} (etcd)</td><td>-</td><td>-</td><td>-</td><td>only those its node made</td></tr>
 *   <tr><td>{@link RetainPreview} (remote)</td><td>-</td><td>-</td><td>-</td><td>the store's own</td></tr>
 * </table>
 * List pages through {@link ListPages} where the store has it (etcd: bounded reads from the token
 * on; remote: passed on), so a page costs what it holds; other stores are listed whole and cut.
 * The pools a store defines itself come from {@link PoolDefinitions} (etcd); others define none.
 * Stateless; thread-safe as the store is. Store I/O: call it on a worker, not an event loop.
 */
final class ReadCalls {
  static final int DEFAULT_PAGE_SIZE = 500;
  static final int MAX_PAGE_SIZE = 5000;

  private ReadCalls() {}

  /** Usage of one pool; with {@code blocks} when the store can be inspected ({@link PoolStatus#read}). */
  static UsageResponse usage(IpamStore store, Pool pool) {
    return WireMapping.usageResponse(PoolStatus.read(store, pool));
  }

  /**
   * One page of the pool's allocations matching the request's filters, ordered by address, and the
   * token of the next page (empty on the last): {@link ListPages#of} the store.
   *
   * <p>{@code r}'s node filter is a node name or empty ({@link Access#list} checked it first).
   *
   * @throws IpamException INVALID_CONFIG for a negative page size or a bad token;
   *     UNSUPPORTED_FIELD for a node filter on a store that records no node
   */
  static ListResponse list(IpamStore store, Pool pool, ListRequest r) {
    if (r.getPageSize() < 0) {
      throw IpamException.invalidConfig("page_size %d is negative", r.getPageSize());
    }
    int size = r.getPageSize() == 0 ? DEFAULT_PAGE_SIZE : Math.min(r.getPageSize(), MAX_PAGE_SIZE);
    IpAddress after = r.getPageToken().isEmpty() ? null : WireMapping.address(r.getPageToken(), "page_token");
    return WireMapping.listResponse(ListPages.of(store).page(pool, WireMapping.filter(r), after, size));
  }

  /** What {@link IpamStore#retainOnly} would release now, changing nothing ({@link RetainPreview#of}). */
  static List<Allocation> retainOnlyPreview(IpamStore store, Pool pool, Set<Attachment> valid) {
    return RetainPreview.of(store).retainOnlyPreview(pool, valid);
  }

  /** What the store itself finds inconsistent in the pool ({@link Inspection#audit}); else nothing. */
  static List<String> audit(IpamStore store, Pool pool) {
    return store.capability(Inspection.class).map(i -> i.audit(pool)).orElse(List.of());
  }

  /**
   * The pools the store itself defines ({@link PoolDefinitions}: the etcd store's, order
   * round-robin), of network {@code network} only ({@link PoolDefinitions#definedPools(String)})
   * unless it is null; empty for stores whose pools are defined only by their callers' configs.
   */
  static List<Pool> definedPools(IpamStore store, String network) {
    return store.capability(PoolDefinitions.class)
        .map(d -> (List<Pool>) new ArrayList<>(network == null ? d.definedPools() : d.definedPools(network)))
        .orElseGet(ArrayList::new);
  }
}
