package io.jipam.core.cni;

import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.IpAddress;

/**
 * A route for the result: destination, optional gateway, and the CNI 1.1.0 attributes (null when
 * not set; printed only for cniVersion 1.1.0 and later).
 */
record Route(AddressWithPrefix dst, IpAddress gw, Long mtu, Long advmss, Long priority,
    Long table, Long scope) {
  public Route {
    if (dst == null) {
      throw new IllegalArgumentException("route without dst");
    }
  }
}
