package io.jipam.server.grpc;

import io.jipam.api.Protos;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Printable;
import io.jipam.core.store.Pool;
import io.jipam.etcd.BlockUsage;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.PoolBlocks;
import io.jipam.api.v1.Blocks;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.NodeUsage;
import io.jipam.api.v1.UsageRequest;
import io.jipam.api.v1.UsageResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The read side of {@code jipam.v1.Ipam} (List, Usage, Audit, RetainOnly's dry run, the pools a
 * store defines) over any {@link IpamStore}, in process: jipamd's endpoint answers with it, and jipamctl uses it on a store it
 * opened itself, so both give the same answers. What depends on the store:
 *
 * <table>
 *   <caption>By store</caption>
 *   <tr><th>store</th><th>Usage</th><th>List's node</th><th>Audit</th><th>defined pools</th></tr>
 *   <tr><td>etcd</td><td>range sets, blocks and nodes, one read</td><td>from the handles</td>
 *       <td>blocks against handles, one read</td><td>those stored in etcd</td></tr>
 *   <tr><td>{@link RemoteStore}</td><td>passed on</td><td>passed on</td><td>passed on</td><td>none
 *       (ListPools asks)</td></tr>
 *   <tr><td>file, memory</td><td>range sets only; no {@code blocks}</td><td>empty; a node filter is
 *       refused (UNSUPPORTED_FIELD)</td><td>nothing</td><td>none</td></tr>
 * </table>
 * Stateless; thread-safe as the store is. Store I/O: call it on a worker, not an event loop.
 */
public final class Queries {
  public static final int DEFAULT_PAGE_SIZE = 500;
  public static final int MAX_PAGE_SIZE = 5000;

  private Queries() {}

  /** Usage of one pool; with {@code blocks} when the store has blocks. */
  public static UsageResponse usage(IpamStore store, Pool pool) {
    if (store instanceof RemoteStore remote) {
      return remote.usageDetail(pool);
    }
    if (store instanceof EtcdStore etcd) {
      PoolBlocks pb = etcd.blockUsage(pool);
      return UsageResponse.newBuilder().addAllRangeSets(Protos.usage(pb.usage())).setBlocks(blocks(pb)).build();
    }
    return UsageResponse.newBuilder().addAllRangeSets(Protos.usage(store.usage(pool))).build();
  }

  /** The usage request's answer for {@code pool} as a {@link UsageRequest} would get it. */
  static Blocks blocks(PoolBlocks pb) {
    Blocks.Builder out = Blocks.newBuilder();
    Map<String, long[]> byNode = new TreeMap<>(); // "node\0set" -> blocks, allocated, free
    for (BlockUsage b : pb.blocks()) {
      out.addBlocks(io.jipam.api.v1.BlockUsage.newBuilder().setRangeSetIndex(b.rangeSet())
          .setCidr(b.block().toString()).setNode(b.owner()).setAllocated(b.used()).setFree(b.free()));
      long[] n = byNode.computeIfAbsent(b.owner() + "\0" + String.format("%04d", b.rangeSet()), k -> new long[3]);
      n[0]++;
      n[1] += b.used();
      n[2] += b.free();
    }
    byNode.forEach((key, n) -> {
      int zero = key.indexOf('\0');
      out.addNodes(NodeUsage.newBuilder().setNode(key.substring(0, zero))
          .setRangeSetIndex(Integer.parseInt(key.substring(zero + 1))).setBlocks((int) n[0])
          .setAllocated(n[1]).setFree(n[2]));
    });
    return out.build();
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
    IpAddress after = r.getPageToken().isEmpty() ? null : Protos.address(r.getPageToken(), "page_token");
    if (!r.getNode().isEmpty()) {
      NodeName.require(r.getNode(), "List node filter", ErrorCode.INVALID_CONFIG);
    }
    if (store instanceof RemoteStore remote) {
      return remote.listPage(r.toBuilder().setPool(Protos.pool(pool)).setPageSize(size).build());
    }
    if (!r.getNode().isEmpty() && !(store instanceof EtcdStore)) {
      throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, "List by node " + Printable.quote(r.getNode()) + ": this store ("
          + store.getClass().getSimpleName() + ") records no node; only the etcd store does");
    }
    List<Allocation> all = store.list(pool);
    Map<Attachment, String> nodes = store instanceof EtcdStore etcd ? etcd.allocatingNodes(pool) : Map.of();
    ListResponse.Builder out = ListResponse.newBuilder();
    int taken = 0;
    for (Allocation a : all) {
      String node = nodes.getOrDefault(a.attachment(), "");
      if ((after != null && a.address().compareTo(after) <= 0) || !matches(r, a, node)) {
        continue;
      }
      if (taken == size) {
        out.setNextPageToken(out.getAllocations(size - 1).getAddress());
        break;
      }
      out.addAllocations(Protos.allocation(a).toBuilder().setNode(node));
      taken++;
    }
    return out.build();
  }

  private static boolean matches(ListRequest r, Allocation a, String node) {
    return (r.getContainerId().isEmpty() || r.getContainerId().equals(a.attachment().containerId()))
        && (r.getIfname().isEmpty() || r.getIfname().equals(a.attachment().ifname()))
        && (r.getPodNamespace().isEmpty() || r.getPodNamespace().equals(a.pod().namespace()))
        && (r.getPodName().isEmpty() || r.getPodName().equals(a.pod().name()))
        && (r.getNode().isEmpty() || r.getNode().equals(node));
  }

  /**
   * What {@link IpamStore#retainOnly} would release now, changing nothing: every allocation whose
   * attachment is not valid, and on the etcd store only those its node made (its retainOnly
   * touches no other node's). A snapshot: the store may change right after.
   */
  public static List<Allocation> retainOnlyPreview(IpamStore store, Pool pool, java.util.Set<Attachment> valid) {
    if (store instanceof RemoteStore remote) {
      return remote.retainOnlyPreview(pool, valid);
    }
    List<Allocation> all = store.list(pool);
    Map<Attachment, String> nodes = store instanceof EtcdStore etcd ? etcd.allocatingNodes(pool) : null;
    List<Allocation> out = new ArrayList<>();
    for (Allocation a : all) {
      if (!valid.contains(a.attachment())
          && (nodes == null || ((EtcdStore) store).node().equals(nodes.get(a.attachment())))) {
        out.add(a);
      }
    }
    return out;
  }

  /** What the store itself finds inconsistent in the pool (etcd: {@link EtcdStore#audit}); else nothing. */
  public static List<String> audit(IpamStore store, Pool pool) {
    if (store instanceof RemoteStore remote) {
      return remote.audit(pool);
    }
    return store instanceof EtcdStore etcd ? etcd.audit(pool) : List.of();
  }

  /**
   * The pools the store itself defines (the etcd store: those stored in etcd, order round-robin);
   * empty for stores whose pools are defined only by their callers' configs.
   */
  public static List<Pool> definedPools(IpamStore store) {
    return store instanceof EtcdStore etcd ? etcd.definedPools() : new ArrayList<>();
  }
}
