package io.jipam.core.cni;

import io.jipam.core.IpamException;

/**
 * Encodes what the plugin prints on stdout: results in the shape of each cniVersion, the error
 * object, and VERSION's answer. Stateless and thread-safe.
 */
public final class CniJson {
  private CniJson() {}

  /**
   * The ADD result: {@code ips[].version} before 1.0.0, the 1.1.0 route attributes from 1.1.0 on.
   */
  static byte[] result(CniVersion version, CniResult result) {
    JsonWriter g = new JsonWriter();
    g.startObject();
    g.field("cniVersion", version.text());
    g.startArray("ips");
    for (CniResult.IpConfig ip : result.ips()) {
      g.startObject();
      if (version.hasIpVersionField()) {
        g.field("version", ip.address().address().family().cniVersionField());
      }
      g.field("address", ip.address().toString());
      if (ip.gateway() != null) {
        g.field("gateway", ip.gateway().toString());
      }
      g.endObject();
    }
    g.endArray();
    if (!result.routes().isEmpty()) {
      g.startArray("routes");
      for (Route r : result.routes()) {
        g.startObject();
        g.field("dst", r.dst().toString());
        if (r.gw() != null) {
          g.field("gw", r.gw().toString());
        }
        if (version.isAtLeast1_1()) {
          optional(g, "mtu", r.mtu());
          optional(g, "advmss", r.advmss());
          optional(g, "priority", r.priority());
          optional(g, "table", r.table());
          optional(g, "scope", r.scope());
        }
        g.endObject();
      }
      g.endArray();
    }
    g.startObject("dns");
    Dns dns = result.dns();
    if (!dns.nameservers().isEmpty()) {
      stringArray(g, "nameservers", dns.nameservers());
    }
    if (dns.domain() != null) {
      g.field("domain", dns.domain());
    }
    if (!dns.search().isEmpty()) {
      stringArray(g, "search", dns.search());
    }
    if (!dns.options().isEmpty()) {
      stringArray(g, "options", dns.options());
    }
    g.endObject();
    return g.endObject().toBytes();
  }

  /**
   * The spec's error object; {@code version} is the config's cniVersion text when known (a version
   * jipam does not support is not echoed: the error is written in its latest). Message and details
   * are cut at {@link #MAX_MESSAGE} characters.
   */
  public static byte[] error(String version, IpamException e) {
    JsonWriter g = new JsonWriter();
    g.startObject();
    g.field("cniVersion", version != null && CniVersion.SUPPORTED.contains(version) ? version
        : CniVersion.latest().text());
    g.field("code", e.code().cniCode());
    g.field("msg", bounded(e.getMessage()));
    if (e.getCause() != null && e.getCause().getMessage() != null
        && !e.getMessage().contains(e.getCause().getMessage())) {
      g.field("details", bounded(e.getCause().getMessage()));
    }
    return g.endObject().toBytes();
  }

  /**
   * The most characters of a message or details an error prints: escaped, an error stays far
   * under the 1 MiB a daemon client reads, so a config error quoting a huge value is still that
   * error, not "answer too large, try again" (code 11, which runtimes retry).
   */
  static final int MAX_MESSAGE = 16 * 1024;

  private static String bounded(String text) {
    if (text == null || text.length() <= MAX_MESSAGE) {
      return text;
    }
    int cut = Character.isHighSurrogate(text.charAt(MAX_MESSAGE - 1)) ? MAX_MESSAGE - 1 : MAX_MESSAGE;
    return text.substring(0, cut) + "... (" + text.length() + " characters)";
  }

  /** VERSION's answer. */
  public static byte[] versionInfo() {
    JsonWriter g = new JsonWriter();
    g.startObject();
    g.field("cniVersion", CniVersion.latest().text());
    stringArray(g, "supportedVersions", CniVersion.SUPPORTED);
    return g.endObject().toBytes();
  }

  private static void optional(JsonWriter g, String name, Long value) {
    if (value != null) {
      g.field(name, value);
    }
  }

  private static void stringArray(JsonWriter g, String name, Iterable<String> values) {
    g.startArray(name);
    for (String v : values) {
      g.value(v);
    }
    g.endArray();
  }
}
