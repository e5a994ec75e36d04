package io.jipam.core.store;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;

/**
 * Who holds an attachment, as kubelet names it in CNI_ARGS ({@code K8S_POD_NAMESPACE},
 * {@code K8S_POD_NAME}); kept with the allocation so operators can see it. Either part may be
 * empty when the runtime did not say.
 *
 * <p>What enters jipam is checked at its entry points with {@link #validated}: the namespace a
 * Kubernetes DNS label (at most {@value #MAX_NAMESPACE} characters), the name a DNS subdomain (at
 * most {@value #MAX_NAME}). The constructor itself accepts any text, because stores decode
 * records written before the check existed (or by hand); whoever prints a pod reference escapes
 * it ({@link Printable}).
 */
public record PodRef(String namespace, String name) {
  public static final PodRef UNKNOWN = new PodRef("", "");
  /** A namespace is a DNS label (RFC 1123) of at most this many characters. */
  public static final int MAX_NAMESPACE = 63;
  /** A pod name is a DNS subdomain (RFC 1123) of at most this many characters. */
  public static final int MAX_NAME = 253;

  public PodRef {
    namespace = namespace == null ? "" : namespace;
    name = name == null ? "" : name;
  }

  /**
   * The pod reference, when both parts are empty or valid Kubernetes names.
   *
   * @param namespaceField what the namespace is called where it came from, for the message
   *     ({@code CNI_ARGS K8S_POD_NAMESPACE}, {@code pod.namespace})
   * @param nameField the same for the name
   * @throws IpamException {@code code}, naming the field and quoting the value (escaped, shortened)
   */
  public static PodRef validated(String namespace, String name, String namespaceField, String nameField,
      ErrorCode code) {
    PodRef pod = new PodRef(namespace, name);
    String problem = dnsProblem(pod.namespace, MAX_NAMESPACE, DnsName.LABEL);
    if (problem != null) {
      throw new IpamException(code, namespaceField + " " + Printable.quote(pod.namespace)
          + " is not a Kubernetes namespace: " + problem);
    }
    problem = dnsProblem(pod.name, MAX_NAME, DnsName.SUBDOMAIN);
    if (problem != null) {
      throw new IpamException(code, nameField + " " + Printable.quote(pod.name) + " is not a Kubernetes pod name: "
          + problem);
    }
    return pod;
  }

  /** The two RFC 1123 name shapes Kubernetes uses. */
  private enum DnsName {
    /** One label: a namespace. */
    LABEL,
    /** Labels joined by {@code .}: a pod name. */
    SUBDOMAIN
  }

  /**
   * Why {@code text} is neither empty nor an RFC 1123 DNS name of that {@code shape} of at most
   * {@code max} characters; null when it is fine.
   */
  private static String dnsProblem(String text, int max, DnsName shape) {
    boolean dots = shape == DnsName.SUBDOMAIN;
    if (text.isEmpty()) {
      return null;
    }
    if (text.length() > max) {
      return "it is " + text.length() + " characters long; at most " + max + " are allowed";
    }
    char previous = '.';
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean alnum = c >= 'a' && c <= 'z' || c >= '0' && c <= '9';
      boolean edge = i == text.length() - 1 || dots && text.charAt(i + 1) == '.';
      if (c == '.' && dots) {
        if (previous == '.' || previous == '-') {
          return "each part between dots must start and end with a lowercase letter or digit";
        }
      } else if (c == '-' && previous != '.' && !edge) {
        // inside a label
      } else if (!alnum) {
        return c == '-' ? "it must start and end with a lowercase letter or digit"
            : "only lowercase letters, digits, '-'" + (dots ? ", '.'" : "") + " are allowed";
      }
      previous = c;
    }
    return previous == '.' ? "it must end with a lowercase letter or digit" : null;
  }

  public boolean isKnown() {
    return !namespace.isEmpty() || !name.isEmpty();
  }

  @Override
  public String toString() {
    return isKnown() ? namespace + "/" + name : "-";
  }

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof PodRef o && java.util.Objects.equals(namespace, o.namespace) && java.util.Objects.equals(name, o.name);
  }

  @Override
  public int hashCode() {
    return namespace.hashCode() * 31 + name.hashCode();
  }
}
