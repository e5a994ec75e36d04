package io.jipam.core.cni;

import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.List;

/**
 * What an IPAM plugin returns for ADD: the abbreviated result (no interfaces), encoded per
 * cniVersion by {@link CniJson#result}.
 */
record CniResult(List<IpConfig> ips, List<Route> routes, Dns dns) {

  /** One address with its subnet's prefix length and its range's gateway (null if unknown). */
  public record IpConfig(AddressWithPrefix address, IpAddress gateway) {}

  public CniResult {
    ips = List.copyOf(ips);
    routes = List.copyOf(routes);
  }

  /** The result for an attachment's allocations in a pool configured as given. */
  public static CniResult of(List<Allocation> allocations, Pool pool, IpamConfig config) {
    List<IpConfig> ips = new ArrayList<>(allocations.size());
    for (Allocation a : allocations) {
      ips.add(ipConfig(a.address(), pool));
    }
    return new CniResult(ips, config.routes(), config.dns());
  }

  private static IpConfig ipConfig(IpAddress address, Pool pool) {
    for (RangeSet set : pool.rangeSets()) {
      for (IpRange range : set.ranges()) {
        if (range.contains(address)) {
          return new IpConfig(new AddressWithPrefix(address, range.subnet().prefixLength()), range.gateway());
        }
      }
    }
    return new IpConfig(new AddressWithPrefix(address, address.family().bits()), null);
  }
}
