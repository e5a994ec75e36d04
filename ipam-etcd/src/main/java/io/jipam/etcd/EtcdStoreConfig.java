package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.NodeName;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * How to reach etcd and how this node uses it: the {@code "store"} object of the plugin's
 * {@code ipam} config with {@code "type": "etcd"}.
 *
 * <p>JSON keys read by {@link #fromJson}: {@code endpoints} (list of URLs, required),
 * {@code node} (this node's name; default: env {@code JIPAM_NODE_NAME}, then {@code NODE_NAME},
 * then the host name), {@code timeoutMillis} (bound on every store call, default 3000),
 * {@code blockSizeV4} / {@code blockSizeV6} (block prefix lengths, default 26 / 122),
 * {@code strictAffinity} (default false), {@code prefix} (key prefix, default {@code /jipam}; keys
 * live under {@code <prefix>/v2/}), {@code tls} ({@code {"ca", "cert", "key"}} file paths; the key
 * must be PEM PKCS#8), {@code user} / {@code password}. {@code type} is ignored; any other key is
 * refused, naming it.
 *
 * @param endpoints etcd client URLs ({@code http://127.0.0.1:2379}; {@code https://} with TLS)
 * @param node the name of this node: blocks are claimed for it and GC releases only its own
 * @param timeout the longest any one store call may take before it fails with
 *     {@code TRY_AGAIN_LATER}
 * @param blockSizeV4 prefix length of IPv4 blocks (16 to 30); the first store to define a pool
 *     fixes it for that pool
 * @param blockSizeV6 prefix length of IPv6 blocks (112 to 126); fixed per pool likewise
 * @param strictAffinity when true a node never allocates from another node's block
 * @param tls TLS files, or null for plain text
 * @param user etcd user, or null
 * @param password the user's password, or null
 * @param prefix key prefix, starting with {@code /}, without a trailing {@code /}
 */
public record EtcdStoreConfig(List<String> endpoints, String node, Duration timeout, int blockSizeV4,
    int blockSizeV6, boolean strictAffinity, Tls tls, String user, String password, String prefix) {

  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(3);
  public static final int DEFAULT_BLOCK_V4 = 26;
  public static final int DEFAULT_BLOCK_V6 = 122;
  public static final String DEFAULT_PREFIX = "/jipam";

  private static final Pattern PREFIX = Pattern.compile("(/[A-Za-z0-9_.\\-]+)+");
  private static final Set<String> KEYS = Set.of("type", "endpoints", "node", "timeoutMillis",
      "blockSizeV4", "blockSizeV6", "strictAffinity", "tls", "user", "password", "prefix");

  /**
   * TLS material, as file paths.
   *
   * @param ca CA bundle that signed the etcd servers' certificates (null: the JVM's defaults)
   * @param cert client certificate for client-certificate auth (null: none)
   * @param key the client certificate's private key, PEM PKCS#8 (with cert)
   */
  public record Tls(Path ca, Path cert, Path key) {
    public Tls {
      if ((cert == null) != (key == null)) {
        throw IpamException.invalidConfig("etcd tls: \"cert\" and \"key\" go together (cert %s, key %s)",
            cert, key);
      }
      for (Path p : new Path[] {ca, cert, key}) {
        if (p != null && !Files.isReadable(p)) {
          throw IpamException.invalidConfig("etcd tls: cannot read file %s", p);
        }
      }
    }
  }

  public EtcdStoreConfig {
    if (endpoints == null || endpoints.isEmpty()) {
      throw IpamException.invalidConfig("etcd store: \"endpoints\" must list at least one URL");
    }
    List<String> normal = new ArrayList<>();
    for (String e : endpoints) {
      normal.add(normalizeEndpoint(e, tls != null));
    }
    endpoints = List.copyOf(normal);
    NodeName.require(node, "etcd store: \"node\"", ErrorCode.INVALID_CONFIG);
    timeout = timeout == null ? DEFAULT_TIMEOUT : timeout;
    if (timeout.toMillis() < 100 || timeout.toMinutes() > 10) {
      throw IpamException.invalidConfig("etcd store: timeoutMillis %d out of 100..600000", timeout.toMillis());
    }
    if (blockSizeV4 < 16 || blockSizeV4 > 30) {
      throw IpamException.invalidConfig("etcd store: blockSizeV4 %d out of 16..30", blockSizeV4);
    }
    if (blockSizeV6 < 112 || blockSizeV6 > 126) {
      throw IpamException.invalidConfig("etcd store: blockSizeV6 %d out of 112..126", blockSizeV6);
    }
    prefix = prefix == null ? DEFAULT_PREFIX : prefix;
    if (!PREFIX.matcher(prefix).matches() || prefix.length() > 200) {
      throw IpamException.invalidConfig("etcd store: invalid key prefix \"%s\": like /jipam, no trailing '/'",
          prefix);
    }
    if ((user == null) != (password == null)) {
      throw IpamException.invalidConfig("etcd store: \"user\" and \"password\" go together");
    }
  }

  /** Defaults for everything but the endpoints and the node name. */
  public static EtcdStoreConfig of(List<String> endpoints, String node) {
    return builder(endpoints, node).build();
  }

  /** A builder with the defaults for everything but the endpoints and the node name. */
  private static Builder builder(List<String> endpoints, String node) {
    return new Builder(endpoints, node);
  }

  /** A builder holding this config's values. */
  private Builder toBuilder() {
    Builder b = new Builder(endpoints, node);
    b.timeout = timeout;
    b.blockSizeV4 = blockSizeV4;
    b.blockSizeV6 = blockSizeV6;
    b.strictAffinity = strictAffinity;
    b.tls = tls;
    b.user = user;
    b.password = password;
    b.prefix = prefix;
    return b;
  }

  public EtcdStoreConfig withNode(String n) {
    return toBuilder().node(n).build();
  }

  public EtcdStoreConfig withTimeout(Duration t) {
    return toBuilder().timeout(t).build();
  }

  public EtcdStoreConfig withBlockSizes(int v4, int v6) {
    return toBuilder().blockSizes(v4, v6).build();
  }

  public EtcdStoreConfig withStrictAffinity(boolean strict) {
    return toBuilder().strictAffinity(strict).build();
  }

  public EtcdStoreConfig withPrefix(String p) {
    return toBuilder().prefix(p).build();
  }

  public EtcdStoreConfig withTls(Tls t) {
    return toBuilder().tls(t).build();
  }

  public EtcdStoreConfig withCredentials(String u, String p) {
    return toBuilder().credentials(u, p).build();
  }

  /**
   * Collects values for {@link #fromJson} and the {@code withX} copies; {@link #build} validates
   * (the record's constructor) and throws {@code INVALID_CONFIG} naming the bad value. Private: the
   * one public way to make a config is {@link #of} and the {@code withX} copies. Not thread-safe.
   */
  private static final class Builder {
    private List<String> endpoints;
    private String node;
    private Duration timeout = DEFAULT_TIMEOUT;
    private int blockSizeV4 = DEFAULT_BLOCK_V4;
    private int blockSizeV6 = DEFAULT_BLOCK_V6;
    private boolean strictAffinity;
    private Tls tls;
    private String user;
    private String password;
    private String prefix = DEFAULT_PREFIX;

    private Builder(List<String> endpoints, String node) {
      this.endpoints = endpoints;
      this.node = node;
    }

    public Builder endpoints(List<String> e) {
      this.endpoints = e;
      return this;
    }

    public Builder node(String n) {
      this.node = n;
      return this;
    }

    /** Null: {@link #DEFAULT_TIMEOUT}. */
    public Builder timeout(Duration t) {
      this.timeout = t;
      return this;
    }

    public Builder blockSizes(int v4, int v6) {
      this.blockSizeV4 = v4;
      this.blockSizeV6 = v6;
      return this;
    }

    public Builder strictAffinity(boolean strict) {
      this.strictAffinity = strict;
      return this;
    }

    /** Null: {@link #DEFAULT_PREFIX}. */
    public Builder prefix(String p) {
      this.prefix = p;
      return this;
    }

    /** Null: plain text. */
    public Builder tls(Tls t) {
      this.tls = t;
      return this;
    }

    /** Both null, or both given. */
    public Builder credentials(String u, String p) {
      this.user = u;
      this.password = p;
      return this;
    }

    public EtcdStoreConfig build() {
      return new EtcdStoreConfig(endpoints, node, timeout, blockSizeV4, blockSizeV6, strictAffinity, tls, user,
          password, prefix);
    }
  }

  /**
   * Reads the parsed {@code "store"} object of the plugin config (JSON numbers as any {@link
   * Number}, lists as {@link List}, objects as {@link Map}).
   *
   * @throws IpamException INVALID_CONFIG naming the offending key or value
   */
  public static EtcdStoreConfig fromJson(Map<String, ?> json) {
    Objects.requireNonNull(json, "json");
    for (String key : json.keySet()) {
      if (!KEYS.contains(key)) {
        throw IpamException.invalidConfig("etcd store: unknown key \"%s\" (known: %s)", key,
            String.join(", ", KEYS.stream().sorted().toList()));
      }
    }
    Object eps = json.get("endpoints");
    List<String> endpoints = new ArrayList<>();
    if (eps instanceof String s) {
      for (String part : s.split(",")) {
        endpoints.add(part.trim());
      }
    } else if (eps instanceof List<?> list) {
      for (Object o : list) {
        if (!(o instanceof String s)) {
          throw IpamException.invalidConfig("etcd store: \"endpoints\" must be a list of strings, found %s", o);
        }
        endpoints.add(s);
      }
    } else {
      throw IpamException.invalidConfig("etcd store: \"endpoints\" (a list of URLs) is required");
    }
    String node = string(json, "node");
    if (node == null) {
      node = defaultNodeName();
    }
    Long timeoutMillis = number(json, "timeoutMillis");
    Long v4 = number(json, "blockSizeV4");
    Long v6 = number(json, "blockSizeV6");
    Object strict = json.get("strictAffinity");
    if (strict != null && !(strict instanceof Boolean)) {
      throw IpamException.invalidConfig("etcd store: \"strictAffinity\" must be true or false, found %s", strict);
    }
    Tls tls = null;
    Object t = json.get("tls");
    if (t != null) {
      if (!(t instanceof Map<?, ?> m)) {
        throw IpamException.invalidConfig("etcd store: \"tls\" must be an object {\"ca\", \"cert\", \"key\"}");
      }
      for (Object k : m.keySet()) {
        if (!Set.of("ca", "cert", "key").contains(k)) {
          throw IpamException.invalidConfig("etcd store: unknown key \"tls.%s\" (known: ca, cert, key)", k);
        }
      }
      tls = new Tls(path(m.get("ca"), "ca"), path(m.get("cert"), "cert"), path(m.get("key"), "key"));
    }
    Builder b = builder(endpoints, node)
        .timeout(timeoutMillis == null ? null : Duration.ofMillis(timeoutMillis))
        .strictAffinity(Boolean.TRUE.equals(strict))
        .tls(tls)
        .credentials(string(json, "user"), string(json, "password"))
        .prefix(string(json, "prefix"));
    b.blockSizes(prefixLength(v4, "blockSizeV4", DEFAULT_BLOCK_V4), prefixLength(v6, "blockSizeV6", DEFAULT_BLOCK_V6));
    return b.build();
  }

  private static Path path(Object o, String name) {
    if (o == null) {
      return null;
    }
    if (!(o instanceof String s) || s.isEmpty()) {
      throw IpamException.invalidConfig("etcd store: \"tls.%s\" must be a file path, found %s", name, o);
    }
    return Path.of(s);
  }

  private static String string(Map<String, ?> json, String key) {
    Object o = json.get(key);
    if (o == null) {
      return null;
    }
    if (!(o instanceof String s)) {
      // a password given as a number or a list is still a secret: named by its JSON type only
      Object shown = key.equals("password") ? "a " + jsonType(o) : o;
      throw IpamException.invalidConfig("etcd store: \"%s\" must be a string, found %s", key, shown);
    }
    return s;
  }

  private static String jsonType(Object o) {
    return o instanceof Number ? "number" : o instanceof Boolean ? "boolean" : o instanceof Map ? "object"
        : o instanceof java.util.List ? "list" : "value";
  }

  /** A block size as given, checked to be a prefix length before it is narrowed (4294967322 is not 26). */
  private static int prefixLength(Long value, String key, int absent) {
    if (value == null) {
      return absent;
    }
    if (value < 0 || value > 128) {
      throw IpamException.invalidConfig("etcd store: \"%s\" %d is not a prefix length", key, value);
    }
    return value.intValue();
  }

  private static Long number(Map<String, ?> json, String key) {
    Object o = json.get(key);
    if (o == null) {
      return null;
    }
    if (!(o instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
        || Math.abs(n.doubleValue()) > 1e12) {
      throw IpamException.invalidConfig("etcd store: \"%s\" must be an integer, found %s", key, o);
    }
    return n.longValue();
  }

  /**
   * The node name when none is configured: env {@code JIPAM_NODE_NAME}, then {@code NODE_NAME},
   * then the host name.
   */
  public static String defaultNode() {
    return defaultNodeName();
  }

  static String defaultNodeName() {
    for (String env : List.of("JIPAM_NODE_NAME", "NODE_NAME")) {
      String v = System.getenv(env);
      if (v != null && !v.isBlank()) {
        return v.trim();
      }
    }
    try {
      Path etc = Path.of("/etc/hostname");
      if (Files.isReadable(etc)) {
        String h = Files.readString(etc).trim();
        if (!h.isEmpty()) {
          return h;
        }
      }
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      throw IpamException.invalidConfig("etcd store: no \"node\" given and the host name is unknown: %s", e);
    }
  }

  private static String normalizeEndpoint(String e, boolean tls) {
    if (e == null || e.isBlank()) {
      throw IpamException.invalidConfig("etcd store: empty endpoint");
    }
    String text = e.trim();
    if (!text.contains("://")) {
      text = (tls ? "https://" : "http://") + text;
    }
    try {
      URI uri = new URI(text);
      if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
          || uri.getPort() <= 0) {
        throw IpamException.invalidConfig("etcd store: invalid endpoint \"%s\": want http(s)://host:port", e);
      }
      return uri.getScheme() + "://" + uri.getHost() + ":" + uri.getPort();
    } catch (URISyntaxException x) {
      throw IpamException.invalidConfig("etcd store: invalid endpoint \"%s\": %s", e, x.getMessage());
    }
  }

  @Override
  public String toString() {
    return "EtcdStoreConfig[endpoints=" + endpoints + ", node=" + node + ", timeout=" + timeout.toMillis()
        + "ms, blocks=/" + blockSizeV4 + ",/" + blockSizeV6 + ", strictAffinity=" + strictAffinity + ", tls="
        + (tls != null) + ", user=" + user + ", prefix=" + prefix + "]";
  }
}
