package io.jipam.core.net;

/** IPv4 or IPv6; the CNI result's {@code "version"} string is {@link #cniVersionField()}. */
public enum IpFamily {
  V4(32),
  V6(128);

  private final int bits;

  IpFamily(int bits) {
    this.bits = bits;
  }

  /** Address width in bits: 32 or 128. */
  public int bits() {
    return bits;
  }

  /** "4" or "6", as CNI results before 1.0.0 spell it. */
  public String cniVersionField() {
    return this == V4 ? "4" : "6";
  }
}
