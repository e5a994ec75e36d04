package io.jipam.core.store.capability;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@link ListPages} for a store without it ({@link ListPages#of}): every page lists the whole pool
 * and keeps the matching allocations after the position, so a page costs what the pool does.
 */
final class WholeListPages implements ListPages {
  private final IpamStore store;

  WholeListPages(IpamStore store) {
    this.store = store;
  }

  @Override
  public Page page(Pool pool, Filter filter, IpAddress after, int size) {
    if (size < 1) {
      throw new IllegalArgumentException("a list page of " + size + " allocations");
    }
    Optional<Inspection> inspection = store.capability(Inspection.class);
    if (!filter.node().isEmpty() && inspection.isEmpty()) {
      throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, "List by node " + Printable.quote(filter.node())
          + ": this store (" + store.getClass().getSimpleName() + ") records no node; only the etcd store does");
    }
    List<Allocation> all = store.list(pool);
    Map<Attachment, String> nodes = inspection.map(i -> i.allocatingNodes(pool)).orElse(Map.of());
    List<Listed> page = new ArrayList<>();
    for (Allocation a : all) {
      String node = nodes.getOrDefault(a.attachment(), "");
      if ((after != null && a.address().compareTo(after) <= 0) || !filter.matches(a, node)) {
        continue;
      }
      if (page.size() == size) {
        return new Page(page, page.get(size - 1).allocation().address());
      }
      page.add(new Listed(a, node));
    }
    return new Page(page, null);
  }
}
