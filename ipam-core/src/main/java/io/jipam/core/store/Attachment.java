package io.jipam.core.store;

import io.jipam.core.IpamException;

/**
 * What an address is allocated to: a container's interface, the key CNI uses for ADD, DEL, CHECK
 * and GC. Validated so that it is safe as part of a file name or an etcd key: the container ID as
 * the CNI spec defines it (alphanumeric first, then alphanumeric, {@code _ . -}), the interface
 * name as the Linux kernel allows it, checked on its bytes (see {@link InterfaceName}: 1 to 15
 * bytes, no {@code /}, {@code :} or white space byte, not {@code .} or {@code ..}; a name that is
 * not UTF-8 is held losslessly), or one of {@link InterfaceName}'s marks, which stores use for
 * holders that are not one interface.
 */
public record Attachment(String containerId, String ifname) {

  public Attachment {
    if (containerId == null || containerId.isEmpty() || containerId.length() > 1024
        || !isSafeName(containerId)) {
      throw IpamException.invalidConfig("invalid container ID \"%s\": it must start with a letter or"
          + " digit followed by letters, digits, '_', '.' or '-'", Printable.escape(containerId));
    }
    if (!InterfaceName.isMark(ifname)) {
      String problem = InterfaceName.problem(ifname);
      if (problem != null) {
        throw IpamException.invalidConfig("invalid interface name \"%s\": %s", InterfaceName.quote(ifname), problem);
      }
    }
  }

  /**
   * Whether the text is a name safe in a file name or key: a letter or digit, then letters,
   * digits, {@code _ . -} (the CNI spec's container ID; also used for network names). A loop, not
   * a regex: compiling one costs a one-shot process more than the whole check.
   */
  public static boolean isSafeName(String text) {
    if (text == null || text.isEmpty()) {
      return false;
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return containerId + "/" + InterfaceName.quote(ifname);
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
