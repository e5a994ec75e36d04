package io.jipam.core.net;

import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import java.util.List;

/**
 * The ranges one address of an attachment may come from: a pod gets one address from every range
 * set of its network (two sets of different families make dual stack). All ranges of a set are of
 * one family and disjoint.
 */
public record RangeSet(List<IpRange> ranges) {

  public RangeSet {
    if (ranges == null || ranges.isEmpty()) {
      throw IpamException.invalidConfig("range set is empty");
    }
    Limits.check("range set", "ranges", ranges.size(), Limits.MAX_RANGES_PER_SET);
    ranges = List.copyOf(ranges);
    IpFamily family = ranges.get(0).family();
    for (int i = 0; i < ranges.size(); i++) {
      IpRange r = ranges.get(i);
      if (r.family() != family) {
        throw IpamException.invalidConfig("range set %s mixes address families: %s and %s",
            describe(ranges), ranges.get(0).subnet(), r.subnet());
      }
    }
    int[] pair = Overlap.find(ranges);
    if (pair != null) {
      throw IpamException.invalidConfig("ranges %s and %s overlap", ranges.get(pair[0]), ranges.get(pair[1]));
    }
  }

  public IpFamily family() {
    return ranges.get(0).family();
  }

  /** Index of the range holding the address, or -1. */
  public int indexOf(IpAddress address) {
    for (int i = 0; i < ranges.size(); i++) {
      if (ranges.get(i).contains(address)) {
        return i;
      }
    }
    return -1;
  }

  public boolean contains(IpAddress address) {
    return indexOf(address) >= 0;
  }

  public boolean overlaps(RangeSet other) {
    for (IpRange a : ranges) {
      for (IpRange b : other.ranges) {
        if (a.overlaps(b)) {
          return true;
        }
      }
    }
    return false;
  }

  private static String describe(List<IpRange> ranges) {
    StringBuilder out = new StringBuilder("[");
    for (IpRange r : ranges) {
      out.append(out.length() > 1 ? "," : "").append(r);
    }
    return out.append(']').toString();
  }

  @Override
  public String toString() {
    return describe(ranges);
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof RangeSet o && java.util.Objects.equals(ranges, o.ranges);
  }

  @Override
  public int hashCode() {
    return ranges.hashCode();
  }
}
