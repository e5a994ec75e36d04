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

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof Allocation o && java.util.Objects.equals(address, o.address) && rangeSetIndex == o.rangeSetIndex && java.util.Objects.equals(attachment, o.attachment) && java.util.Objects.equals(pod, o.pod);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(address, rangeSetIndex, attachment, pod);
  }
}
