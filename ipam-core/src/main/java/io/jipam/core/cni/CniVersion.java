package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import java.util.List;

/** The CNI spec versions jipam speaks, oldest first, and what each allows. */
public enum CniVersion {
  V0_3_0("0.3.0"),
  V0_3_1("0.3.1"),
  V0_4_0("0.4.0"),
  V1_0_0("1.0.0"),
  V1_1_0("1.1.0");

  /** Every supported version as the spec spells it, for VERSION's {@code supportedVersions}. */
  public static final List<String> SUPPORTED = List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0");

  private final String text;

  CniVersion(String text) {
    this.text = text;
  }

  /** @throws IpamException {@code INCOMPATIBLE_VERSION} naming the version when unsupported */
  public static CniVersion parse(String text) {
    for (CniVersion v : values()) {
      if (v.text.equals(text)) {
        return v;
      }
    }
    throw new IpamException(ErrorCode.INCOMPATIBLE_VERSION, "cniVersion " + Printable.quote(text)
        + " is not supported; jipam supports " + String.join(", ", SUPPORTED));
  }

  public static CniVersion latest() {
    return V1_1_0;
  }

  public String text() {
    return text;
  }

  /** Results before 1.0.0 carry {@code ips[].version}. */
  public boolean hasIpVersionField() {
    return compareTo(V1_0_0) < 0;
  }

  public boolean supportsCheck() {
    return compareTo(V0_4_0) >= 0;
  }

  /** GC and STATUS, and the route fields mtu, advmss, priority, table, scope. */
  public boolean isAtLeast1_1() {
    return compareTo(V1_1_0) >= 0;
  }

  @Override
  public String toString() {
    return text;
  }
}
