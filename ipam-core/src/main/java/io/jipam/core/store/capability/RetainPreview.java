package io.jipam.core.store.capability;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * RetainOnly's dry run computed by the store itself (a remote store asks its jipamd). A store
 * without it is previewed by its caller from {@code list} (and, for stores whose GC is per node,
 * {@link Inspection#allocatingNodes}). Ask with {@code store.capability(RetainPreview.class)}.
 */
public interface RetainPreview {

  /** What {@code retainOnly(pool, valid)} would release now, changing nothing. */
  List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid);

  /**
   * The store's own preview when it has this capability; else one from its {@link IpamStore#list}:
   * every allocation whose attachment is not valid, and on a store whose GC is per node
   * ({@link NodeView}) only those its node made ({@link Inspection#allocatingNodes}). A snapshot:
   * the store may change right after.
   */
  static RetainPreview of(IpamStore store) {
    Optional<RetainPreview> own = store.capability(RetainPreview.class);
    if (own.isPresent()) {
      return own.get();
    }
    return (pool, valid) -> {
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
    };
  }
}
