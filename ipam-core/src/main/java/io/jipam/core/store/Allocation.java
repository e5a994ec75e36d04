package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.util.Objects;

/**
 * One address held by one attachment: the unit every store persists.
 *
 * @param rangeSetIndex which range set of the pool the address belongs to; -1 when it lies in no
 *     range set of the pool as configured now (the config changed since it was allocated)
 * @param origin why the attachment got the address, as recorded by the ADD that allocated it (a
 *     repeated ADD keeps it, so it is never {@link AllocationOrigin#EXISTING}); null when not
 *     recorded (an allocation written before stores kept it, or by host-local)
 */
public record Allocation(IpAddress address, int rangeSetIndex, Attachment attachment, PodRef pod,
    AllocationOrigin origin) {
  public Allocation {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(attachment, "attachment");
    pod = pod == null ? PodRef.UNKNOWN : pod;
    if (rangeSetIndex < -1) {
      throw new IllegalArgumentException("rangeSetIndex " + rangeSetIndex + " < -1");
    }
    if (origin == AllocationOrigin.EXISTING) {
      throw new IllegalArgumentException("origin EXISTING is what a repeated ADD reports, not why " + address
          + " was allocated");
    }
  }

  /** An allocation whose origin is not recorded. */
  public Allocation(IpAddress address, int rangeSetIndex, Attachment attachment, PodRef pod) {
    this(address, rangeSetIndex, attachment, pod, null);
  }

  /** This allocation with {@code why} as its origin. */
  public Allocation withOrigin(AllocationOrigin why) {
    return why == origin ? this : new Allocation(address, rangeSetIndex, attachment, pod, why);
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof Allocation o && java.util.Objects.equals(address, o.address) && rangeSetIndex == o.rangeSetIndex && java.util.Objects.equals(attachment, o.attachment) && java.util.Objects.equals(pod, o.pod)
        && origin == o.origin;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(address, rangeSetIndex, attachment, pod, origin);
  }
}
