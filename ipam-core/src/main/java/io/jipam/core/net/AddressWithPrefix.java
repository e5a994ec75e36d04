package io.jipam.core.net;

import io.jipam.core.IpamException;

/**
 * An address together with the length of its subnet's prefix, as CNI results and requested
 * addresses spell it ({@code 198.18.0.5/24}). Host bits may be set; without a prefix the
 * length is the full width.
 */
public record AddressWithPrefix(IpAddress address, int prefixLength) {

  public AddressWithPrefix {
    if (address == null) {
      throw new IllegalArgumentException("address is null");
    }
    if (prefixLength < 0 || prefixLength > address.family().bits()) {
      throw IpamException.invalidConfig("invalid prefix length %d for %s", prefixLength, address);
    }
  }

  public static AddressWithPrefix parse(String text) {
    if (text == null) {
      throw IpamException.invalidConfig("address is missing");
    }
    int slash = text.indexOf('/');
    IpAddress address = IpAddress.tryParse(slash < 0 ? text : text.substring(0, slash));
    if (address == null) {
      throw IpamException.invalidConfig("invalid address \"%s\"", text);
    }
    if (slash < 0) {
      return new AddressWithPrefix(address, address.family().bits());
    }
    String digits = text.substring(slash + 1);
    boolean allDigits = !digits.isEmpty();
    for (int i = 0; i < digits.length(); i++) {
      allDigits &= digits.charAt(i) >= '0' && digits.charAt(i) <= '9';
    }
    if (!allDigits || digits.length() > 3 || (digits.length() > 1 && digits.charAt(0) == '0')) {
      throw IpamException.invalidConfig("invalid prefix length in \"%s\"", text);
    }
    int length = Integer.parseInt(digits);
    if (length > address.family().bits()) {
      throw IpamException.invalidConfig("invalid prefix length in \"%s\"", text);
    }
    return new AddressWithPrefix(address, length);
  }

  /** Whether the prefix is the full width (/32, /128): one host, as a text without a prefix gives. */
  public boolean isHostOnly() {
    return prefixLength == address.family().bits();
  }

  @Override
  public String toString() {
    return address + "/" + prefixLength;
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof AddressWithPrefix o && java.util.Objects.equals(address, o.address) && prefixLength == o.prefixLength;
  }

  @Override
  public int hashCode() {
    return address.hashCode() * 31 + prefixLength;
  }
}
