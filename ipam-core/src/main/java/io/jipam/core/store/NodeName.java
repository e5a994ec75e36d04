package io.jipam.core.store;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;

/**
 * The one rule for node names, wherever a name enters jipam: the etcd store's {@code node}, the
 * gRPC {@code ReclaimNode}, {@code LiftFence} and {@code List} node filter, and jipamctl's node
 * arguments. A node name is 1 to {@value #MAX_LENGTH} characters: ASCII letters, digits,
 * {@code _}, {@code .} and {@code -}, starting with a letter or digit. Every Kubernetes node name
 * (a DNS subdomain) and every host name passes; a name can never hold {@code /}, so it is safe as
 * one component of a store key, and never starts with {@code .}, so it is never {@code .} or
 * {@code ..}.
 *
 * <p>Loops, no regex: stateless and thread-safe.
 */
public final class NodeName {
  /** The longest node name, as a Kubernetes DNS subdomain. */
  public static final int MAX_LENGTH = 253;

  private NodeName() {}

  /** Why {@code name} is not a node name, or null when it is one. */
  public static String problem(String name) {
    if (name == null || name.isEmpty()) {
      return "it is empty";
    }
    if (name.length() > MAX_LENGTH) {
      return "it is " + name.length() + " characters long; at most " + MAX_LENGTH + " are allowed";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean alnum = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
      if (i == 0 && !alnum) {
        return "it must start with a letter or digit";
      }
      if (!alnum && c != '_' && c != '.' && c != '-') {
        return "only letters, digits, '_', '.' and '-' are allowed";
      }
    }
    return null;
  }

  /**
   * This host's node name when nothing names one: {@code JIPAM_NODE_NAME}, then {@code NODE_NAME}
   * from {@code env}, then {@code /etc/hostname}, then the host name; null when none of them is a
   * node name. What sub-pool node selectors match when the plugin runs without jipamd (jipamd
   * uses its {@code --node-name}, defaulting the same way).
   */
  public static String local(java.util.Map<String, String> env) {
    for (String variable : new String[] {"JIPAM_NODE_NAME", "NODE_NAME"}) {
      String v = env.get(variable);
      if (v != null && !v.isBlank()) {
        return isValid(v.trim()) ? v.trim() : null;
      }
    }
    try {
      java.nio.file.Path etc = java.nio.file.Path.of("/etc/hostname");
      String h = java.nio.file.Files.isReadable(etc) ? java.nio.file.Files.readString(etc).trim() : "";
      if (h.isEmpty()) {
        h = java.net.InetAddress.getLocalHost().getHostName();
      }
      return isValid(h) ? h : null;
    } catch (java.io.IOException | RuntimeException e) {
      return null;
    }
  }

  /** Whether {@code name} is a node name. */
  public static boolean isValid(String name) {
    return problem(name) == null;
  }

  /**
   * {@code name} when it is a node name.
   *
   * @param where what names the node, for the message (e.g. {@code "etcd store: node"})
   * @throws IpamException {@code code}, quoting the name (escaped, shortened) and saying why
   */
  public static String require(String name, String where, ErrorCode code) {
    String problem = problem(name);
    if (problem != null) {
      throw new IpamException(code, where + ": invalid node name " + Printable.quote(name) + ": " + problem);
    }
    return name;
  }
}
