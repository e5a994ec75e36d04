package io.jipam.core.cni;

import com.fasterxml.jackson.core.JsonGenerator;
import io.jipam.core.IpamException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Encodes what the plugin prints on stdout: results in the shape of each cniVersion, the error
 * object, and VERSION's answer. Stateless and thread-safe.
 */
public final class CniJson {
  private CniJson() {}

  /** A pretty-printing generator over {@code out}. */
  private static JsonGenerator start(ByteArrayOutputStream out) throws IOException {
    JsonGenerator g = JsonTree.FACTORY.createGenerator(out);
    g.useDefaultPrettyPrinter();
    return g;
  }

  private static byte[] finish(JsonGenerator g, ByteArrayOutputStream out) throws IOException {
    g.close();
    out.write('\n');
    return out.toByteArray();
  }

  /**
   * The ADD result: {@code ips[].version} before 1.0.0, the 1.1.0 route attributes from 1.1.0 on.
   */
  public static byte[] result(CniVersion version, CniResult result) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(512);
    try {
      JsonGenerator g = start(out);
      g.writeStartObject();
      g.writeStringField("cniVersion", version.text());
      g.writeArrayFieldStart("ips");
      for (CniResult.IpConfig ip : result.ips()) {
        g.writeStartObject();
        if (version.hasIpVersionField()) {
          g.writeStringField("version", ip.address().address().family().cniVersionField());
        }
        g.writeStringField("address", ip.address().toString());
        if (ip.gateway() != null) {
          g.writeStringField("gateway", ip.gateway().toString());
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      if (!result.routes().isEmpty()) {
        g.writeArrayFieldStart("routes");
        for (Route r : result.routes()) {
          g.writeStartObject();
          g.writeStringField("dst", r.dst().toString());
          if (r.gw() != null) {
            g.writeStringField("gw", r.gw().toString());
          }
          if (version.isAtLeast1_1()) {
            optional(g, "mtu", r.mtu());
            optional(g, "advmss", r.advmss());
            optional(g, "priority", r.priority());
            optional(g, "table", r.table());
            optional(g, "scope", r.scope());
          }
          g.writeEndObject();
        }
        g.writeEndArray();
      }
      g.writeObjectFieldStart("dns");
      Dns dns = result.dns();
      if (!dns.nameservers().isEmpty()) {
        stringArray(g, "nameservers", dns.nameservers());
      }
      if (dns.domain() != null) {
        g.writeStringField("domain", dns.domain());
      }
      if (!dns.search().isEmpty()) {
        stringArray(g, "search", dns.search());
      }
      if (!dns.options().isEmpty()) {
        stringArray(g, "options", dns.options());
      }
      g.writeEndObject();
      g.writeEndObject();
      return finish(g, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // writing to memory
    }
  }

  /** The spec's error object; {@code version} is the config's cniVersion text when known. */
  public static byte[] error(String version, IpamException e) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try {
      JsonGenerator g = start(out);
      g.writeStartObject();
      g.writeStringField("cniVersion", version != null ? version : CniVersion.latest().text());
      g.writeNumberField("code", e.code().cniCode());
      g.writeStringField("msg", e.getMessage());
      if (e.getCause() != null && e.getCause().getMessage() != null
          && !e.getMessage().contains(e.getCause().getMessage())) {
        g.writeStringField("details", e.getCause().getMessage());
      }
      g.writeEndObject();
      return finish(g, out);
    } catch (IOException io) {
      throw new UncheckedIOException(io); // writing to memory
    }
  }

  /** VERSION's answer. */
  public static byte[] versionInfo() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(128);
    try {
      JsonGenerator g = start(out);
      g.writeStartObject();
      g.writeStringField("cniVersion", CniVersion.latest().text());
      stringArray(g, "supportedVersions", CniVersion.SUPPORTED);
      g.writeEndObject();
      return finish(g, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // writing to memory
    }
  }

  private static void optional(JsonGenerator g, String name, Long value) throws IOException {
    if (value != null) {
      g.writeNumberField(name, value);
    }
  }

  private static void stringArray(JsonGenerator g, String name, Iterable<String> values) throws IOException {
    g.writeArrayFieldStart(name);
    for (String v : values) {
      g.writeString(v);
    }
    g.writeEndArray();
  }
}
