package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.Limits;
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
record CniArgs(List<IpAddress> requestedIps, PodRef pod) {
  private static final Set<String> KNOWN = Set.of("IgnoreUnknown", "IP", "K8S_POD_NAMESPACE",
      "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID");

  public CniArgs {
    requestedIps = List.copyOf(requestedIps);
  }

  public static final CniArgs NONE = new CniArgs(List.of(), PodRef.UNKNOWN);

  /**
   * @throws IpamException {@code INVALID_ENVIRONMENT} naming the malformed pair or unknown key, or
   *     quoting a pod namespace or name that is not a Kubernetes name ({@link PodRef#validated}):
   *     runtimes send them on every call, so a bad one is refused rather than dropped
   */
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
        case "IP" -> requested(value, ips);
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
    return new CniArgs(ips, PodRef.validated(namespace, name, "CNI_ARGS: K8S_POD_NAMESPACE",
        "CNI_ARGS: K8S_POD_NAME", ErrorCode.INVALID_ENVIRONMENT));
  }

  /**
   * {@code IP=}'s value: one or more addresses separated by commas, each {@code <ip>} or {@code
   * <ip>/<prefix>}. An empty value or an empty entry ({@code IP=}, {@code IP=,}) is an error, as
   * in host-local: it must not turn into "any address".
   */
  private static void requested(String value, List<IpAddress> out) {
    long entries = value.chars().filter(c -> c == ',').count() + 1;
    if (entries > Limits.MAX_REQUESTED_IPS) {
      // before parsing any: each entry is checked against the others, and a call gets one
      // address per range set at most
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_ARGS: IP= lists " + entries
          + " addresses; jipam allows at most " + Limits.MAX_REQUESTED_IPS);
    }
    int pos = 0;
    while (true) {
      int comma = value.indexOf(',', pos);
      String ip = value.substring(pos, comma < 0 ? value.length() : comma).trim();
      IpAddress address = null;
      try {
        address = ip.isEmpty() ? null : AddressWithPrefix.parse(ip).address();
      } catch (IpamException e) {
        address = null;
      }
      if (address == null) {
        throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_ARGS: IP \"" + ip
            + "\" is not an IP address (in IP=" + value + ")");
      }
      if (!out.contains(address)) {
        out.add(address);
      }
      if (comma < 0) {
        return;
      }
      pos = comma + 1;
    }
  }
}
