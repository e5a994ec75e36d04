package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.util.List;
import java.util.Objects;

/**
 * An ADD: one address from every range set of the pool for the attachment; where {@code
 * requested} names an address in a set, exactly that one.
 */
public record AllocationRequest(Attachment attachment, List<IpAddress> requested, PodRef pod) {
  public AllocationRequest {
    Objects.requireNonNull(attachment, "attachment");
    requested = List.copyOf(requested == null ? List.of() : requested);
    pod = pod == null ? PodRef.UNKNOWN : pod;
  }

  public static AllocationRequest of(Attachment attachment) {
    return new AllocationRequest(attachment, List.of(), PodRef.UNKNOWN);
  }
}
