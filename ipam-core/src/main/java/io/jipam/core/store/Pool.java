package io.jipam.core.store;

import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.Overlap;
import io.jipam.core.net.RangeSet;
import java.util.ArrayList;
import java.util.List;

/**
 * A named pool: the network's range sets (one address per set per attachment), the order in
 * which addresses are handed out, and what happens to an address between attachments ({@link
 * AddressPolicy}). The name is the CNI network name, or for a sub-pool {@code <network>+<sub-pool>}
 * ({@link #isName}); it is safe as a file name, an etcd key segment and a metric label. Range sets
 * never overlap.
 */
public record Pool(String name, List<RangeSet> rangeSets, AllocationOrder order, AddressPolicy policy) {

  /** A pool with no holds and no cool-down ({@link AddressPolicy#NONE}), as host-local's. */
  public Pool(String name, List<RangeSet> rangeSets, AllocationOrder order) {
    this(name, rangeSets, order, AddressPolicy.NONE);
  }

  public Pool {
    if (!isName(name)) {
      throw invalidName(name);
    }
    if (rangeSets == null || rangeSets.isEmpty()) {
      throw IpamException.invalidConfig("network \"%s\" has no ranges", name);
    }
    Limits.check("network \"" + name + "\"", "range sets", rangeSets.size(), Limits.MAX_RANGE_SETS);
    rangeSets = List.copyOf(rangeSets);
    if (rangeSets.size() > 1) {
      // each set's ranges are disjoint already, so an overlap among all ranges is across sets
      List<IpRange> all = new ArrayList<>();
      List<Integer> owner = new ArrayList<>();
      for (int i = 0; i < rangeSets.size(); i++) {
        for (IpRange r : rangeSets.get(i).ranges()) {
          all.add(r);
          owner.add(i);
        }
      }
      int[] pair = Overlap.find(all);
      if (pair != null) {
        int i = owner.get(pair[1]);
        int j = owner.get(pair[0]);
        throw IpamException.invalidConfig("range set %d %s overlaps range set %d %s",
            i, rangeSets.get(i), j, rangeSets.get(j));
      }
    }
    order = order == null ? AllocationOrder.ROUND_ROBIN : order;
    policy = policy == null ? AddressPolicy.NONE : policy;
  }

  /** Separates a network's name from a sub-pool's in the sub-pool's store pool name. */
  public static final char SUB_POOL_SEPARATOR = '+';

  /**
   * Whether {@code name} may name a pool: a CNI network name ({@link Attachment#isSafeName}, at
   * most 253 characters), or two of them joined by {@link #SUB_POOL_SEPARATOR}, the store pool of a
   * sub-pool. A network name never holds the separator, so a network and a sub-pool never share a
   * pool.
   */
  public static boolean isName(String name) {
    if (name == null || name.length() > 253) {
      return false;
    }
    int plus = name.indexOf(SUB_POOL_SEPARATOR);
    return plus < 0 ? Attachment.isSafeName(name)
        : Attachment.isSafeName(name.substring(0, plus)) && Attachment.isSafeName(name.substring(plus + 1));
  }

  /**
   * Whether {@code name} may name a network: a pool name without {@link #SUB_POOL_SEPARATOR}, the
   * name of the network's own pool ({@link #isName}).
   */
  public static boolean isNetworkName(String name) {
    return isName(name) && name.indexOf(SUB_POOL_SEPARATOR) < 0;
  }

  /**
   * {@code name}, when it may name a network ({@link #isNetworkName}).
   *
   * @throws IpamException INVALID_CONFIG naming {@code name} (escaped) when it may not
   */
  public static String requireNetworkName(String name) {
    if (!isNetworkName(name)) {
      throw invalidName(name);
    }
    return name;
  }

  /**
   * {@code name}, when it may name a pool ({@link #isName}): a network's own pool or a sub-pool
   * {@code network+name}.
   *
   * @throws IpamException INVALID_CONFIG naming {@code name} (escaped) when it may not
   */
  public static String requireName(String name) {
    if (!isName(name)) {
      throw IpamException.invalidConfig("invalid pool name \"%s\": it must be a network name (a letter or digit"
          + " followed by letters, digits, '_', '.' or '-'), or one followed by '%s' and a sub-pool's name of the"
          + " same kind", Printable.escape(name), SUB_POOL_SEPARATOR);
    }
    return name;
  }

  private static IpamException invalidName(String name) {
    return IpamException.invalidConfig("invalid network name \"%s\": it must start with a letter or"
        + " digit followed by letters, digits, '_', '.' or '-'", Printable.escape(name));
  }

  /**
   * The network a pool belongs to: the pool's name up to {@link #SUB_POOL_SEPARATOR}, or the whole
   * name for a network's own pool. A network's pools share its address space (no two of them hand
   * out one address: {@link io.jipam.core.store.IpamStore}'s contract).
   */
  public static String networkOf(String poolName) {
    int plus = poolName.indexOf(SUB_POOL_SEPARATOR);
    return plus < 0 ? poolName : poolName.substring(0, plus);
  }

  /** Whether {@code other} names another pool of this pool's network ({@link #networkOf}). */
  public boolean sharesNetworkWith(String other) {
    return !other.equals(name) && networkOf(other).equals(networkOf(name));
  }

  /** This pool with another address policy. */
  public Pool withPolicy(AddressPolicy newPolicy) {
    return new Pool(name, rangeSets, order, newPolicy);
  }

  /** Index of the range set holding the address, or -1. */
  public int rangeSetIndexOf(IpAddress address) {
    for (int i = 0; i < rangeSets.size(); i++) {
      if (rangeSets.get(i).contains(address)) {
        return i;
      }
    }
    return -1;
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof Pool o && java.util.Objects.equals(name, o.name) && java.util.Objects.equals(rangeSets, o.rangeSets) && order == o.order
        && java.util.Objects.equals(policy, o.policy);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(name, rangeSets, order, policy);
  }
}
