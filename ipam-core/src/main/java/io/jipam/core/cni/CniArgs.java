package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.PodRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * CNI_ARGS as runtimes send it: {@code KEY=VALUE} pairs separated by {@code ;}, for example
 * kubelet's {@code IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name;...}. jipam reads
 * {@code IP} (deprecated form of a requested address; several separated by {@code ,}) and the pod
 * namespace and name. A key it does not know is an error unless {@code IgnoreUnknown} is
 * {@code 1} or {@code true}, as in the reference plugins.
 */
public record CniArgs(List<IpAddress> requestedIps, PodRef pod) {
  private static final Set<String> KNOWN = Set.of("IgnoreUnknown", "IP", "K8S_POD_NAMESPACE",
      "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID");

  public CniArgs {
    requestedIps = List.copyOf(requestedIps);
  }

  public static final CniArgs NONE = new CniArgs(List.of(), PodRef.UNKNOWN);

  /** @throws IpamException {@code INVALID_ENVIRONMENT} naming the malformed pair or unknown key */
  public static CniArgs parse(String text) {
    if (text == null || text.isEmpty()) {
      return NONE;
    }
    String namespace = null;
    String name = null;
    boolean ignoreUnknown = false;
    List<String> unknown = new ArrayList<>();
    List<IpAddress> ips = new ArrayList<>();
    for (String pair : text.split(";")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new IpamException(ErrorCode.INVALID_ENVIRONMENT,
            "CNI_ARGS: \"" + pair + "\" is not KEY=VALUE");
      }
      String key = pair.substring(0, eq);
      String value = pair.substring(eq + 1);
      switch (key) {
        case "IgnoreUnknown" -> ignoreUnknown = value.equals("1") || value.equalsIgnoreCase("true");
        case "K8S_POD_NAMESPACE" -> namespace = value;
        case "K8S_POD_NAME" -> name = value;
        case "IP" -> {
          for (String ip : value.split(",")) {
            try {
              ips.add(AddressWithPrefix.parse(ip.trim()).address());
            } catch (IpamException e) {
              throw new IpamException(ErrorCode.INVALID_ENVIRONMENT,
                  "CNI_ARGS: IP \"" + ip + "\" is not an IP address");
            }
          }
        }
        default -> {
          if (!KNOWN.contains(key)) {
            unknown.add(key);
          }
        }
      }
    }
    if (!unknown.isEmpty() && !ignoreUnknown) {
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_ARGS: unknown key(s) "
          + String.join(", ", unknown) + " (add IgnoreUnknown=1 to ignore them)");
    }
    return new CniArgs(ips, new PodRef(namespace, name));
  }
}
