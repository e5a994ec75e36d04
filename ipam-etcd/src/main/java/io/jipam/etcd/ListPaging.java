package io.jipam.etcd;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ListPages;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The etcd store's {@link ListPages}: a page filled from {@link EtcdStore#listPage} (bounded reads
 * of the address records from the position on) and the nodes of what it returns (their handles,
 * read by key). What a page reads grows with the page, not with its position or the pool. A filter
 * that matches few allocations makes a page read at most {@value #MAX_SCAN} records and return what
 * matched, with the position of the last one read (possibly an empty page that is not the last).
 * Stateless.
 */
final class ListPaging {
  /** Address records one etcd read returns; a page reads more chunks to fill up. */
  private static final int CHUNK = 1000;
  /** The most address records one page reads (a filter matching few stops here). */
  static final int MAX_SCAN = 20_000;

  private ListPaging() {}

  static ListPages.Page page(EtcdStore etcd, Pool pool, ListPages.Filter filter, IpAddress after, int size) {
    if (size < 1) {
      throw new IllegalArgumentException("page size " + size);
    }
    List<Allocation> out = new ArrayList<>();
    IpAddress cursor = after;
    for (int scanned = 0; scanned < MAX_SCAN; ) {
      List<Allocation> chunk = etcd.listPage(pool, cursor, CHUNK);
      Map<Attachment, String> nodes = filter.node().isEmpty() ? Map.of()
          : etcd.allocatingNodes(pool, chunk.stream().map(Allocation::attachment).toList());
      for (Allocation a : chunk) {
        if (!filter.matches(a, nodes.getOrDefault(a.attachment(), ""))) {
          continue;
        }
        if (out.size() == size) {
          return withNodes(etcd, pool, out, out.get(size - 1).address());
        }
        out.add(a);
      }
      if (chunk.size() < CHUNK) {
        return withNodes(etcd, pool, out, null);
      }
      scanned += chunk.size();
      cursor = chunk.get(chunk.size() - 1).address();
    }
    return withNodes(etcd, pool, out, cursor);
  }

  /** The page with each allocation's node from its handle (a transaction per 100). */
  private static ListPages.Page withNodes(EtcdStore etcd, Pool pool, List<Allocation> listed, IpAddress next) {
    Map<Attachment, String> nodes = etcd.allocatingNodes(pool, listed.stream().map(Allocation::attachment).toList());
    List<ListPages.Listed> page = new ArrayList<>(listed.size());
    for (Allocation a : listed) {
      page.add(new ListPages.Listed(a, nodes.getOrDefault(a.attachment(), "")));
    }
    return new ListPages.Page(page, next);
  }
}
