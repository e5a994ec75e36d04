package io.jipam.etcd;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.PodRef;
import java.util.List;

/**
 * An attachment's record: which node allocated, the pod, and its addresses with their range set.
 * DEL, CHECK and a repeated ADD read it instead of scanning blocks. Immutable.
 * Stored by {@link HandleCodec}.
 */
record Handle(String node, PodRef pod, List<Allocation> allocations, long modRev) {
  Handle {
    allocations = List.copyOf(allocations);
  }

  Handle withModRev(long rev) {
    return new Handle(node, pod, allocations, rev);
  }
}
