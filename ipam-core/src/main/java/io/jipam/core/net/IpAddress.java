package io.jipam.core.net;

import io.jipam.core.IpamException;

/**
 * An IPv4 or IPv6 address as an immutable value: 128 bits in two longs ({@code high} is always 0
 * for IPv4, whose 32 bits sit in the low half of {@code low}).
 *
 * <p>Parsing is strict and never touches DNS: dotted quads without leading zeros, RFC 4291 text
 * for IPv6 (an embedded dotted quad is accepted in the last 32 bits). {@link #toString()} is the
 * canonical form (RFC 5952 for IPv6), which is also the file name the host-local store uses.
 *
 * <p>Arithmetic works on unsigned 64-bit offsets: a range holds at most 2^64 addresses.
 */
public record IpAddress(IpFamily family, long high, long low) implements Comparable<IpAddress> {

  public IpAddress {
    if (family == null) {
      throw new IllegalArgumentException("family is null");
    }
    if (family == IpFamily.V4 && (high != 0 || (low >>> 32) != 0)) {
      throw new IllegalArgumentException("IPv4 address out of 32 bits: " + Long.toHexString(low));
    }
  }

  public static IpAddress v4(long value32) {
    return new IpAddress(IpFamily.V4, 0, value32 & 0xFFFF_FFFFL);
  }

  public static IpAddress v6(long high, long low) {
    return new IpAddress(IpFamily.V6, high, low);
  }

  /**
   * Parses an address literal.
   *
   * @throws IpamException with {@code INVALID_CONFIG} naming the text when it is not an address
   */
  public static IpAddress parse(String text) {
    IpAddress parsed = text == null ? null : tryParse(text);
    if (parsed == null) {
      throw IpamException.invalidConfig("invalid IP address \"%s\"", text);
    }
    return parsed;
  }

  /** Like {@link #parse} but returns null instead of throwing. */
  public static IpAddress tryParse(String text) {
    if (text == null || text.isEmpty() || text.length() > 45) {
      return null;
    }
    if (text.indexOf(':') >= 0) {
      return parseV6(text);
    }
    long v4 = parseV4(text, 0, text.length());
    return v4 < 0 ? null : v4(v4);
  }

  /** Parses a dotted quad in text[from, to); -1 when malformed. */
  private static long parseV4(String text, int from, int to) {
    long value = 0;
    int parts = 0;
    int i = from;
    while (i <= to) {
      int start = i;
      int octet = 0;
      while (i < to && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
        octet = octet * 10 + (text.charAt(i) - '0');
        if (octet > 255) {
          return -1;
        }
        i++;
      }
      int digits = i - start;
      if (digits == 0 || (digits > 1 && text.charAt(start) == '0')) {
        return -1;
      }
      value = (value << 8) | octet;
      parts++;
      if (i == to) {
        break;
      }
      if (text.charAt(i) != '.' || parts == 4) {
        return -1;
      }
      i++;
    }
    return parts == 4 ? value : -1;
  }

  private static IpAddress parseV6(String text) {
    int[] groups = new int[8];
    int count = 0;
    int gap = -1;
    int i = 0;
    int n = text.length();
    if (text.startsWith("::")) {
      gap = 0;
      i = 2;
      if (n == 2) {
        return v6(0, 0);
      }
    } else if (text.charAt(0) == ':') {
      return null;
    }
    while (i < n) {
      int start = i;
      int value = 0;
      while (i < n && hexDigit(text.charAt(i)) >= 0 && i - start < 4) {
        value = (value << 4) | hexDigit(text.charAt(i));
        i++;
      }
      if (i < n && text.charAt(i) == '.') {
        // embedded IPv4 in the last 32 bits
        long v4 = parseV4(text, start, n);
        if (v4 < 0 || count > 6) {
          return null;
        }
        groups[count++] = (int) (v4 >>> 16);
        groups[count++] = (int) (v4 & 0xFFFF);
        i = n;
        break;
      }
      if (i == start || count == 8) {
        return null;
      }
      groups[count++] = value;
      if (i == n) {
        break;
      }
      if (text.charAt(i) != ':') {
        return null;
      }
      i++;
      if (i < n && text.charAt(i) == ':') {
        if (gap >= 0) {
          return null;
        }
        gap = count;
        i++;
      } else if (i == n) {
        return null; // trailing single colon
      }
    }
    if (gap < 0 && count != 8 || gap >= 0 && count > 7) {
      return null;
    }
    int[] full = new int[8];
    if (gap < 0) {
      full = groups;
    } else {
      int tail = count - gap;
      System.arraycopy(groups, 0, full, 0, gap);
      System.arraycopy(groups, gap, full, 8 - tail, tail);
    }
    long high = 0;
    long low = 0;
    for (int g = 0; g < 4; g++) {
      high = (high << 16) | full[g];
      low = (low << 16) | full[g + 4];
    }
    return v6(high, low);
  }

  /** The value of an ASCII hex digit, or -1 (Character.digit also takes other scripts' digits). */
  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }

  public boolean isV4() {
    return family == IpFamily.V4;
  }

  /**
   * This address plus an unsigned 64-bit offset.
   *
   * @throws IllegalArgumentException when the result leaves the family's address space
   */
  public IpAddress plus(long unsignedOffset) {
    long newLow = low + unsignedOffset;
    long carry = Long.compareUnsigned(newLow, low) < 0 ? 1 : 0;
    long newHigh = high + carry;
    if (isV4()) {
      if ((newLow >>> 32) != 0 || carry != 0) {
        throw new IllegalArgumentException(this + " + " + Long.toUnsignedString(unsignedOffset) + " overflows IPv4");
      }
      return v4(newLow);
    }
    if (carry != 0 && newHigh == 0) {
      throw new IllegalArgumentException(this + " + " + Long.toUnsignedString(unsignedOffset) + " overflows IPv6");
    }
    return v6(newHigh, newLow);
  }

  /**
   * The unsigned distance {@code this - origin}.
   *
   * @throws IllegalArgumentException when origin is greater, of another family, or 2^64 or more away
   */
  public long offsetFrom(IpAddress origin) {
    if (family != origin.family || compareTo(origin) < 0) {
      throw new IllegalArgumentException(this + " is not at or after " + origin);
    }
    long diffLow = low - origin.low;
    long borrow = Long.compareUnsigned(low, origin.low) < 0 ? 1 : 0;
    long diffHigh = high - origin.high - borrow;
    if (diffHigh != 0) {
      throw new IllegalArgumentException(this + " is 2^64 or more after " + origin);
    }
    return diffLow;
  }

  /** The first address of the prefix of the given length that holds this one. */
  public IpAddress masked(int prefixLength) {
    long[] mask = mask(prefixLength);
    return new IpAddress(family, high & mask[0], low & mask[1]);
  }

  /** The last address of the prefix of the given length that holds this one. */
  public IpAddress lastInPrefix(int prefixLength) {
    long[] mask = mask(prefixLength);
    long hostHigh = isV4() ? 0 : ~mask[0];
    long hostLow = isV4() ? ~mask[1] & 0xFFFF_FFFFL : ~mask[1];
    return new IpAddress(family, high | hostHigh, low | hostLow);
  }

  private long[] mask(int prefixLength) {
    int bits = family.bits();
    if (prefixLength < 0 || prefixLength > bits) {
      throw new IllegalArgumentException("prefix length " + prefixLength + " out of 0.." + bits);
    }
    if (isV4()) {
      long m = prefixLength == 0 ? 0 : (0xFFFF_FFFFL << (32 - prefixLength)) & 0xFFFF_FFFFL;
      return new long[] {0, m};
    }
    long mh = prefixLength == 0 ? 0 : prefixLength >= 64 ? -1L : -1L << (64 - prefixLength);
    long ml = prefixLength <= 64 ? 0 : prefixLength == 128 ? -1L : -1L << (128 - prefixLength);
    return new long[] {mh, ml};
  }

  @Override
  public int compareTo(IpAddress other) {
    int byFamily = family.compareTo(other.family);
    if (byFamily != 0) {
      return byFamily;
    }
    int byHigh = Long.compareUnsigned(high, other.high);
    return byHigh != 0 ? byHigh : Long.compareUnsigned(low, other.low);
  }

  @Override
  public String toString() {
    if (isV4()) {
      return ((low >>> 24) & 0xFF) + "." + ((low >>> 16) & 0xFF) + "." + ((low >>> 8) & 0xFF) + "." + (low & 0xFF);
    }
    int[] g = new int[8];
    for (int i = 0; i < 4; i++) {
      g[i] = (int) ((high >>> (48 - 16 * i)) & 0xFFFF);
      g[i + 4] = (int) ((low >>> (48 - 16 * i)) & 0xFFFF);
    }
    // RFC 5952: compress the longest run (of two or more) of zero groups, the first on ties
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder out = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        out.append("::");
        i += bestLen - 1;
        continue;
      }
      if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
        out.append(':');
      }
      out.append(Integer.toHexString(g[i]));
    }
    return out.toString();
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof IpAddress o && family == o.family && high == o.high && low == o.low;
  }

  @Override
  public int hashCode() {
    return family.hashCode() * 31 + Long.hashCode(high * 0x9E3779B97F4A7C15L ^ low);
  }
}
