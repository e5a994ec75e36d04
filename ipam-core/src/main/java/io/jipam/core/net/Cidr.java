package io.jipam.core.net;

import io.jipam.core.IpamException;

/**
 * A network prefix such as {@code 198.18.0.0/16}: the network address (host bits zero, checked at
 * construction) and the prefix length.
 */
public record Cidr(IpAddress network, int prefixLength) {

  public Cidr {
    if (network == null) {
      throw new IllegalArgumentException("network is null");
    }
    if (prefixLength < 0 || prefixLength > network.family().bits()) {
      throw IpamException.invalidConfig("invalid prefix length %d for %s", prefixLength, network);
    }
    IpAddress masked = network.masked(prefixLength);
    if (!masked.equals(network)) {
      throw IpamException.invalidConfig(
          "network %s/%d has host bits set; for a /%d the network address is %s",
          network, prefixLength, prefixLength, masked);
    }
  }

  /**
   * Parses {@code address/prefix}; a bare address is a single-address prefix. Host bits must be
   * zero.
   */
  public static Cidr parse(String text) {
    AddressWithPrefix parsed = AddressWithPrefix.parse(text);
    return new Cidr(parsed.address(), parsed.prefixLength());
  }

  public IpFamily family() {
    return network.family();
  }

  /** The last address of the prefix (the IPv4 broadcast address). */
  public IpAddress last() {
    return network.lastInPrefix(prefixLength);
  }

  public boolean contains(IpAddress address) {
    return address.family() == family() && address.masked(prefixLength).equals(network);
  }

  @Override
  public String toString() {
    return network + "/" + prefixLength;
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof Cidr o && java.util.Objects.equals(network, o.network) && prefixLength == o.prefixLength;
  }

  @Override
  public int hashCode() {
    return network.hashCode() * 31 + prefixLength;
  }
}
