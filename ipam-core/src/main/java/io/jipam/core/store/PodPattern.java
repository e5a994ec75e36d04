package io.jipam.core.store;

import io.jipam.core.IpamException;

/**
 * A pattern over pods, written {@code NAMESPACE/NAME} where each side is a glob: {@code *} matches
 * any run of characters (also none), {@code ?} exactly one, every other character itself. {@code
 * "db/*"} is every pod of namespace {@code db}, {@code "*}{@code /web-*"} every pod whose name starts
 * with {@code web-}. A pattern never matches a pod whose namespace and name are both unknown
 * ({@link PodRef#isKnown()}), because such a pod cannot be recognised when it comes back.
 *
 * <p>Validated at construction: both sides non-empty, at most {@link PodRef#MAX_NAME} characters,
 * and made of the characters of Kubernetes names (lowercase letters, digits, {@code - .}) and the
 * two wildcards; anything else is {@code INVALID_CONFIG} (CNI code 7) naming the pattern. Matching
 * is a loop, not a regex (it runs on the plugin's exec path). Immutable and thread-safe.
 */
public record PodPattern(String namespace, String name) {

  public PodPattern {
    check(namespace, "namespace", namespace + "/" + name);
    check(name, "name", namespace + "/" + name);
  }

  /**
   * Parses {@code NAMESPACE/NAME}.
   *
   * @throws IpamException {@code INVALID_CONFIG} naming the text when it is not a pattern
   */
  public static PodPattern parse(String text) {
    int slash = text == null ? -1 : text.indexOf('/');
    if (slash < 0 || text.indexOf('/', slash + 1) >= 0) {
      throw IpamException.invalidConfig("pod pattern %s must be NAMESPACE/NAME with globs, e.g. \"db/*\"",
          Printable.quote(String.valueOf(text)));
    }
    return new PodPattern(text.substring(0, slash), text.substring(slash + 1));
  }

  /** Whether the pod is one this pattern names. */
  public boolean matches(PodRef pod) {
    return pod.isKnown() && glob(namespace, pod.namespace()) && glob(name, pod.name());
  }

  /** Whether the namespace side alone matches (for rules that name namespaces only). */
  public boolean matchesNamespace(String podNamespace) {
    return !podNamespace.isEmpty() && glob(namespace, podNamespace);
  }

  /** Glob matching with {@code *} and {@code ?}: iterative, with one backtrack point. */
  public static boolean glob(String pattern, String text) {
    int p = 0;
    int t = 0;
    int star = -1;
    int mark = 0;
    while (t < text.length()) {
      if (p < pattern.length() && (pattern.charAt(p) == '?' || pattern.charAt(p) == text.charAt(t))) {
        p++;
        t++;
      } else if (p < pattern.length() && pattern.charAt(p) == '*') {
        star = p++;
        mark = t;
      } else if (star >= 0) {
        p = star + 1;
        t = ++mark;
      } else {
        return false;
      }
    }
    while (p < pattern.length() && pattern.charAt(p) == '*') {
      p++;
    }
    return p == pattern.length();
  }

  /**
   * Checks one side of a glob (also used for node-name globs by pool selectors).
   *
   * @param what the side's name for the message ("namespace", "name", "node")
   * @param whole the whole pattern as written, for the message
   */
  public static void check(String side, String what, String whole) {
    if (side == null || side.isEmpty()) {
      throw IpamException.invalidConfig("pattern %s has an empty %s; use \"*\" for any",
          Printable.quote(String.valueOf(whole)), what);
    }
    if (side.length() > PodRef.MAX_NAME) {
      throw IpamException.invalidConfig("pattern %s: its %s is %d characters long; at most %d are allowed",
          Printable.quote(whole), what, side.length(), PodRef.MAX_NAME);
    }
    for (int i = 0; i < side.length(); i++) {
      char c = side.charAt(i);
      boolean ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '*' || c == '?';
      if (!ok) {
        throw IpamException.invalidConfig("pattern %s: %s %s may hold only lowercase letters, digits, '-', '.',"
            + " '*' and '?'", Printable.quote(whole), what, Printable.quote(side));
      }
    }
  }

  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
