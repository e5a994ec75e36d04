package io.jipam.core.store;

import io.jipam.core.IpamException;
import java.util.regex.Pattern;

/**
 * What an address is allocated to: a container's interface, the key CNI uses for ADD, DEL, CHECK
 * and GC. Validated so that it is safe as part of a file name or an etcd key: the container ID as
 * the CNI spec defines it (alphanumeric first, then alphanumeric, {@code _ . -}), the interface
 * name as Linux allows it (1 to 15 bytes, no {@code /}, {@code :}, white space or control
 * characters, not {@code .} or {@code ..}).
 */
public record Attachment(String containerId, String ifname) {
  private static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.\\-]*");
  private static final Pattern IFNAME = Pattern.compile("[^/:\\s\\p{Cntrl}]{1,15}");

  public Attachment {
    if (containerId == null || containerId.isEmpty() || containerId.length() > 1024
        || !CONTAINER_ID.matcher(containerId).matches()) {
      throw IpamException.invalidConfig("invalid container ID \"%s\": it must start with a letter or"
          + " digit followed by letters, digits, '_', '.' or '-'", containerId);
    }
    if (ifname == null || !IFNAME.matcher(ifname).matches() || ifname.equals(".") || ifname.equals("..")) {
      throw IpamException.invalidConfig("invalid interface name \"%s\"", ifname);
    }
  }

  @Override
  public String toString() {
    return containerId + "/" + ifname;
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof Attachment o && java.util.Objects.equals(containerId, o.containerId) && java.util.Objects.equals(ifname, o.ifname);
  }

  @Override
  public int hashCode() {
    return containerId.hashCode() * 31 + ifname.hashCode();
  }
}
