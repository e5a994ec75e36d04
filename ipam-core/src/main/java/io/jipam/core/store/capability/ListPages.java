package io.jipam.core.store.capability;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import java.util.List;

/**
 * Pages of a pool's allocations whose cost grows with the page, not with the pool or the page's
 * position: a store that can read from an address on (the etcd store) or pass the paging on (a
 * remote store) has it. Ask a store for it with {@code store.capability(ListPages.class)}; a store
 * without it is listed whole and cut into pages by the caller. Changes nothing; thread-safe as the
 * store is.
 */
public interface ListPages {

  /**
   * Up to {@code size} allocations of the pool matching {@code filter}, in address order, after
   * {@code after} (exclusive; null: from the first). Pages are read at different points in time, like
   * any paged listing: an allocation present from the first page to the last is listed exactly
   * once, one made or released meanwhile at most once. A filter that matches few allocations may
   * give a short or empty page with a {@link Page#next()}; only a page without one is the last.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when the store cannot be reached;
   *     UNSUPPORTED_FIELD for a node filter the store cannot answer
   */
  Page page(Pool pool, Filter filter, IpAddress after, int size);

  /**
   * The store's own pages when it has this capability; else pages cut from its whole
   * {@link IpamStore#list}, each allocation's node from {@link Inspection#allocatingNodes} where
   * the store has it (empty otherwise). Without either, a node filter is refused
   * (UNSUPPORTED_FIELD, naming the store).
   */
  static ListPages of(IpamStore store) {
    return store.capability(ListPages.class).orElseGet(() -> new WholeListPages(store));
  }

  /** An allocation and the node that made it ({@code ""} when the store records none). */
  record Listed(Allocation allocation, String node) {
    public Listed {
      if (allocation == null || node == null) {
        throw new IllegalArgumentException("a listed allocation needs an allocation and a node (\"\" for none)");
      }
    }
  }

  /** A page, and the address to go on after (null: this was the last page). */
  record Page(List<Listed> allocations, IpAddress next) {
    public Page {
      allocations = List.copyOf(allocations);
    }
  }

  /**
   * What a listed allocation must match; an empty field matches anything. Values are compared
   * exactly.
   */
  record Filter(String containerId, String ifname, String podNamespace, String podName, String node) {
    /** Matches every allocation. */
    public static final Filter ALL = new Filter("", "", "", "", "");

    public Filter {
      if (containerId == null || ifname == null || podNamespace == null || podName == null || node == null) {
        throw new IllegalArgumentException("a list filter's fields are \"\" when unset, never null");
      }
    }

    /** True when the allocation, made by {@code allocatingNode}, matches every set field. */
    public boolean matches(Allocation a, String allocatingNode) {
      return (containerId.isEmpty() || containerId.equals(a.attachment().containerId()))
          && (ifname.isEmpty() || ifname.equals(a.attachment().ifname()))
          && (podNamespace.isEmpty() || podNamespace.equals(a.pod().namespace()))
          && (podName.isEmpty() || podName.equals(a.pod().name()))
          && (node.isEmpty() || node.equals(allocatingNode));
    }
  }
}
