package io.jipam.core.net;

import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One range of a range set: a subnet and the inclusive bounds {@code [rangeStart, rangeEnd]} that
 * may be handed out, a gateway that never is, and excluded prefixes that never are either.
 *
 * <p>As in the reference host-local, the addresses handed out are exactly those of {@code
 * [rangeStart, rangeEnd]} but the gateway and the excluded prefixes. The defaults keep the network
 * address and the IPv4 broadcast out: {@code rangeStart} = network + 1, {@code rangeEnd} = the last
 * address of the subnet (before the broadcast for IPv4), {@code gateway} = network + 1; bounds
 * given explicitly are honoured as given, so {@code rangeStart} = the network address or {@code
 * rangeEnd} = the broadcast hands those out. A subnet of fewer than two host bits (IPv4 /31 and
 * /32, IPv6 /127 and /128) is refused, as host-local refuses it.
 *
 * <p>A range may hold at most 2^64 - 1 addresses (all of an IPv6 /64 but its network address);
 * offsets into it are unsigned longs, so {@code -1L} is never a valid offset.
 */
public record IpRange(Cidr subnet, IpAddress rangeStart, IpAddress rangeEnd, IpAddress gateway,
    List<Cidr> exclude) {

  /** Orders offset intervals by their unsigned start (a class, not a lambda: start-up cost). */
  private static final Comparator<long[]> BY_START = new Comparator<>() {
    @Override
    public int compare(long[] a, long[] b) {
      return Long.compareUnsigned(a[0], b[0]);
    }
  };

  public IpRange {
    if (subnet == null) {
      throw IpamException.invalidConfig("range has no subnet");
    }
    int bits = subnet.family().bits();
    if (subnet.prefixLength() > bits - 2) {
      throw IpamException.invalidConfig("network %s is too small to allocate from", subnet);
    }
    for (var named : List.of(new Object[] {"rangeStart", rangeStart}, new Object[] {"rangeEnd", rangeEnd},
        new Object[] {"gateway", gateway})) {
      IpAddress a = (IpAddress) named[1];
      if (a == null) {
        throw IpamException.invalidConfig("range %s has no %s", subnet, named[0]);
      }
      if ("gateway".equals(named[0])) {
        // host-local takes a gateway outside the subnet (an IPv6 link-local fe80::1, a routed
        // 169.254.1.1): it is returned in the result and never handed out; only its family must fit
        if (a.family() != subnet.family()) {
          throw IpamException.invalidConfig("gateway %s is not of the family of subnet %s", a, subnet);
        }
      } else if (!subnet.contains(a)) {
        throw IpamException.invalidConfig("%s %s is not in subnet %s", named[0], a, subnet);
      }
    }
    if (rangeStart.compareTo(rangeEnd) > 0) {
      throw IpamException.invalidConfig("rangeStart %s is after rangeEnd %s", rangeStart, rangeEnd);
    }
    boolean tooLarge;
    try {
      tooLarge = rangeEnd.offsetFrom(rangeStart) == -1L;
    } catch (IllegalArgumentException e) {
      tooLarge = true;
    }
    if (tooLarge) {
      throw IpamException.invalidConfig(
          "range %s-%s holds 2^64 addresses or more; narrow it with rangeStart/rangeEnd",
          rangeStart, rangeEnd);
    }
    exclude = List.copyOf(exclude == null ? List.of() : exclude);
    Limits.check("range " + subnet, "exclude entries", exclude.size(), Limits.MAX_EXCLUDES);
    for (Cidr x : exclude) {
      if (x.family() != subnet.family()) {
        throw IpamException.invalidConfig("exclude %s is not of the family of subnet %s", x, subnet);
      }
    }
  }

  /** A range with host-local's defaults for every bound left null. */
  public static IpRange withDefaults(Cidr subnet, IpAddress rangeStart, IpAddress rangeEnd,
      IpAddress gateway, List<Cidr> exclude) {
    if (subnet == null) {
      throw IpamException.invalidConfig("range has no subnet");
    }
    if (subnet.prefixLength() > subnet.family().bits() - 2) {
      throw IpamException.invalidConfig("network %s is too small to allocate from", subnet);
    }
    IpAddress first = subnet.network().plus(1);
    IpAddress last = subnet.last();
    if (subnet.family() == IpFamily.V4) {
      last = IpAddress.v4(last.low() - 1);
    }
    return new IpRange(subnet, rangeStart != null ? rangeStart : first,
        rangeEnd != null ? rangeEnd : last, gateway != null ? gateway : first, exclude);
  }

  public IpFamily family() {
    return subnet.family();
  }

  /** Whether the address lies within {@code [rangeStart, rangeEnd]} (reserved or not). */
  public boolean contains(IpAddress address) {
    return address.family() == family() && address.compareTo(rangeStart) >= 0
        && address.compareTo(rangeEnd) <= 0;
  }

  /** The offset of the last address: size - 1, unsigned. */
  public long lastOffset() {
    return rangeEnd.offsetFrom(rangeStart);
  }

  public IpAddress addressAt(long offset) {
    return rangeStart.plus(offset);
  }

  public long offsetOf(IpAddress address) {
    return address.offsetFrom(rangeStart);
  }

  /**
   * Whether this range never hands the address out: it lies outside {@code [rangeStart, rangeEnd]},
   * is the gateway, or is in an excluded prefix. The network address and the IPv4 broadcast are
   * not reserved as such: the default bounds leave them out, explicit bounds may include them.
   */
  public boolean isReserved(IpAddress address) {
    if (!contains(address) || address.equals(gateway)) {
      return true;
    }
    for (Cidr x : exclude) {
      if (x.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The never-handed-out parts of this range (the gateway and the excluded prefixes, clipped to the
   * bounds) as sorted, disjoint, inclusive offset intervals {@code [from, to]} (unsigned).
   */
  public List<long[]> reservedOffsets() {
    List<long[]> intervals = new ArrayList<>();
    addClipped(intervals, gateway, gateway);
    for (Cidr x : exclude) {
      addClipped(intervals, x.network(), x.last());
    }
    intervals.sort(BY_START);
    List<long[]> merged = new ArrayList<>();
    for (long[] i : intervals) {
      long[] tail = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (tail != null && (Long.compareUnsigned(i[0], tail[1]) <= 0 || i[0] == tail[1] + 1)) {
        if (Long.compareUnsigned(i[1], tail[1]) > 0) {
          tail[1] = i[1];
        }
      } else {
        merged.add(i);
      }
    }
    return merged;
  }

  private void addClipped(List<long[]> out, IpAddress from, IpAddress to) {
    IpAddress lo = from.compareTo(rangeStart) < 0 ? rangeStart : from;
    IpAddress hi = to.compareTo(rangeEnd) > 0 ? rangeEnd : to;
    if (lo.compareTo(hi) <= 0) {
      out.add(new long[] {offsetOf(lo), offsetOf(hi)});
    }
  }

  /** Whether the two ranges share an address. */
  public boolean overlaps(IpRange other) {
    return family() == other.family() && rangeStart.compareTo(other.rangeEnd) <= 0
        && other.rangeStart.compareTo(rangeEnd) <= 0;
  }

  @Override
  public String toString() {
    return rangeStart + "-" + rangeEnd;
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof IpRange o && java.util.Objects.equals(subnet, o.subnet) && java.util.Objects.equals(rangeStart, o.rangeStart) && java.util.Objects.equals(rangeEnd, o.rangeEnd) && java.util.Objects.equals(gateway, o.gateway) && java.util.Objects.equals(exclude, o.exclude);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(subnet, rangeStart, rangeEnd, gateway, exclude);
  }
}
