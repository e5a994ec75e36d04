package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.util.Objects;

/**
 * One address held by one attachment: the unit every store persists.
 *
 * @param rangeSetIndex which range set of the pool the address belongs to; -1 when it lies in no
 *     range set of the pool as configured now (the config changed since it was allocated)
 */
public record Allocation(IpAddress address, int rangeSetIndex, Attachment attachment, PodRef pod) {
  public Allocation {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(attachment, "attachment");
    pod = pod == null ? PodRef.UNKNOWN : pod;
    if (rangeSetIndex < -1) {
      throw new IllegalArgumentException("rangeSetIndex " + rangeSetIndex + " < -1");
    }
  }
}
