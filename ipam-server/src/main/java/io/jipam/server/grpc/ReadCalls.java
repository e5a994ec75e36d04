package io.jipam.server.grpc;

import io.jipam.api.WireMapping;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Printable;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Inspection;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeView;
import io.jipam.core.store.capability.PoolBlocks;
import io.jipam.core.store.capability.PoolDefinitions;
import io.jipam.core.store.capability.RetainPreview;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.UsageRequest;
import io.jipam.api.v1.UsageResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The read side of {@code jipam.v1.Ipam} (List, Usage, Audit, RetainOnly's dry run, the pools a
 * store defines) over any {@link IpamStore}, in process: jipamd's endpoint answers with it, and jipamctl uses it on a store it
 * opened itself, so both give the same answers. What depends on the store:
 *
 * The store's optional abilities decide (asked with {@link IpamStore#capability}, never by class):
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
public final class ReadCalls {
  public static final int DEFAULT_PAGE_SIZE = 500;
  public static final int MAX_PAGE_SIZE = 5000;

  private ReadCalls() {}

  /** Usage of one pool; with {@code blocks} when the store can be inspected. */
  public static UsageResponse usage(IpamStore store, Pool pool) {
    Optional<Inspection> inspection = store.capability(Inspection.class);
    if (inspection.isPresent()) {
      PoolBlocks pb = inspection.get().blockUsage(pool);
      return UsageResponse.newBuilder().addAllRangeSets(WireMapping.usage(pb.usage())).setBlocks(WireMapping.blocks(pb.blocks()))
          .build();
    }
    return UsageResponse.newBuilder().addAllRangeSets(WireMapping.usage(store.usage(pool))).build();
  }

  /**
   * One page of the pool's allocations matching the request's filters, ordered by address, and the
   * token of the next page (empty on the last).
   *
   * @throws IpamException INVALID_CONFIG for a negative page size or a bad token;
   *     UNSUPPORTED_FIELD for a node filter on a store that records no node
   */
  public static ListResponse list(IpamStore store, Pool pool, ListRequest r) {
    if (r.getPageSize() < 0) {
      throw IpamException.invalidConfig("page_size %d is negative", r.getPageSize());
    }
    int size = r.getPageSize() == 0 ? DEFAULT_PAGE_SIZE : Math.min(r.getPageSize(), MAX_PAGE_SIZE);
    IpAddress after = r.getPageToken().isEmpty() ? null : WireMapping.address(r.getPageToken(), "page_token");
    if (!r.getNode().isEmpty()) {
      NodeName.require(r.getNode(), "List node filter", ErrorCode.INVALID_CONFIG);
    }
    ListPages.Filter filter = new ListPages.Filter(r.getContainerId(), r.getIfname(), r.getPodNamespace(),
        r.getPodName(), r.getNode());
    Optional<ListPages> pages = store.capability(ListPages.class);
    if (pages.isPresent()) {
      ListPages.Page page = pages.get().page(pool, filter, after, size);
      ListResponse.Builder out = ListResponse.newBuilder();
      for (ListPages.Listed l : page.allocations()) {
        out.addAllocations(WireMapping.allocation(l.allocation()).toBuilder().setNode(l.node()));
      }
      return out.setNextPageToken(page.next() == null ? "" : page.next().toString()).build();
    }
    Optional<Inspection> inspection = store.capability(Inspection.class);
    if (!r.getNode().isEmpty() && inspection.isEmpty()) {
      throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, "List by node " + Printable.quote(r.getNode()) + ": this store ("
          + store.getClass().getSimpleName() + ") records no node; only the etcd store does");
    }
    List<Allocation> all = store.list(pool);
    Map<Attachment, String> nodes = inspection.map(i -> i.allocatingNodes(pool)).orElse(Map.of());
    ListResponse.Builder out = ListResponse.newBuilder();
    int taken = 0;
    for (Allocation a : all) {
      String node = nodes.getOrDefault(a.attachment(), "");
      if ((after != null && a.address().compareTo(after) <= 0) || !filter.matches(a, node)) {
        continue;
      }
      if (taken == size) {
        out.setNextPageToken(out.getAllocations(size - 1).getAddress());
        break;
      }
      out.addAllocations(WireMapping.allocation(a).toBuilder().setNode(node));
      taken++;
    }
    return out.build();
  }

  /**
   * What {@link IpamStore#retainOnly} would release now, changing nothing: the store's own preview
   * when it has one; else every allocation whose attachment is not valid, and on a store whose GC
   * is per node ({@link NodeView}) only those its node made. A snapshot: the store may change right
   * after.
   */
  public static List<Allocation> retainOnlyPreview(IpamStore store, Pool pool, Set<Attachment> valid) {
    Optional<RetainPreview> own = store.capability(RetainPreview.class);
    if (own.isPresent()) {
      return own.get().retainOnlyPreview(pool, valid);
    }
    List<Allocation> all = store.list(pool);
    Optional<NodeView> view = store.capability(NodeView.class);
    Map<Attachment, String> nodes = view.isEmpty() ? null
        : store.capability(Inspection.class).map(i -> i.allocatingNodes(pool)).orElse(null);
    List<Allocation> out = new ArrayList<>();
    for (Allocation a : all) {
      if (!valid.contains(a.attachment()) && (nodes == null || view.get().node().equals(nodes.get(a.attachment())))) {
        out.add(a);
      }
    }
    return out;
  }

  /** What the store itself finds inconsistent in the pool ({@link Inspection#audit}); else nothing. */
  public static List<String> audit(IpamStore store, Pool pool) {
    return store.capability(Inspection.class).map(i -> i.audit(pool)).orElse(List.of());
  }

  /**
   * The pools the store itself defines ({@link PoolDefinitions}: the etcd store's, order
   * round-robin); empty for stores whose pools are defined only by their callers' configs.
   */
  public static List<Pool> definedPools(IpamStore store) {
    return store.capability(PoolDefinitions.class).map(d -> (List<Pool>) new ArrayList<>(d.definedPools()))
        .orElseGet(ArrayList::new);
  }
}
