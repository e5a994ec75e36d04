package io.jipam.core.store.capability;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.Set;

/**
 * RetainOnly's dry run computed by the store itself (a remote store asks its jipamd). A store
 * without it is previewed by its caller from {@code list} (and, for stores whose GC is per node,
 * {@link Inspection#allocatingNodes}). Ask with {@code store.capability(RetainPreview.class)}.
 */
public interface RetainPreview {

  /** What {@code retainOnly(pool, valid)} would release now, changing nothing. */
  List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid);
}
