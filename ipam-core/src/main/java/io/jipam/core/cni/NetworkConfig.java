package io.jipam.core.cni;

import static io.jipam.core.cni.JsonFields.list;
import static io.jipam.core.cni.JsonFields.object;
import static io.jipam.core.cni.JsonFields.string;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.Printable;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The network config a runtime passes on stdin, as the IPAM plugin needs it: version, name, the
 * {@code ipam} section, and what the runtime added (requested addresses from {@code
 * runtimeConfig.ips} and {@code args.cni.ips}, {@code prevResult}, GC's valid attachments).
 *
 * @param prevResult the raw {@code prevResult} object, null when absent
 * @param validAttachments GC's {@code cni.dev/valid-attachments} (or {@code cni.dev/attachments}),
 *     null when the config has neither
 */
public record NetworkConfig(CniVersion cniVersion, String name, IpamConfig ipam,
    List<IpAddress> requestedIps, Map<String, Object> prevResult, Set<Attachment> validAttachments) {

  public NetworkConfig {
    requestedIps = List.copyOf(requestedIps);
  }

  /**
   * The most a network config (the plugin's stdin) may hold, in every mode: a config with a GC
   * list of some ten thousand attachments fits. The plugin reads no more; jipamd refuses a daemon
   * request whose config is larger.
   */
  public static final int MAX_BYTES = 4 << 20;

  /**
   * Refuses a config of {@code length} bytes over {@link #MAX_BYTES}.
   *
   * @throws IpamException {@code INVALID_CONFIG} naming the limit
   */
  public static void checkSize(long length) {
    if (length > MAX_BYTES) {
      throw IpamException.invalidConfig("the network config on stdin is larger than %d bytes, jipam's limit",
          MAX_BYTES);
    }
  }

  /** The raw cniVersion text of a config, for error output; null when it cannot be read. */
  public static String versionText(Object parsed) {
    return parsed instanceof Map<?, ?> m && m.get("cniVersion") instanceof String s ? s : null;
  }

  /**
   * Validates a parsed config document (see {@link JsonReader#parse}).
   *
   * @throws IpamException {@code INCOMPATIBLE_VERSION}, {@code INVALID_CONFIG} or {@code
   *     DECODE_FAILURE} naming the offending key and value
   */
  public static NetworkConfig from(Object parsed) {
    if (!(parsed instanceof Map)) {
      throw new IpamException(ErrorCode.DECODE_FAILURE,
          "network config must be a JSON object, not " + JsonFields.describe(parsed));
    }
    Map<String, Object> conf = JsonFields.asObject(parsed, "network config");
    String where = "config";
    String versionText = string(conf, "cniVersion", where);
    if (versionText == null) {
      throw new IpamException(ErrorCode.INCOMPATIBLE_VERSION, "config has no cniVersion");
    }
    CniVersion version = CniVersion.parse(versionText);
    String name = string(conf, "name", where);
    if (name == null || name.isEmpty()) {
      throw IpamException.invalidConfig("config has no network name");
    }
    if (name.length() > 253 || !Attachment.isSafeName(name)) {
      throw IpamException.invalidConfig("invalid network name %s: it must start with a letter or digit followed"
          + " by letters, digits, '_', '.' or '-'", Printable.quote(name));
    }
    Map<String, Object> ipamSection = object(conf, "ipam", where);
    if (ipamSection == null) {
      throw IpamException.invalidConfig("config of network \"%s\" has no ipam section", name);
    }
    IpamConfig ipam = IpamConfig.parse(name, ipamSection);

    List<IpAddress> requested = new ArrayList<>();
    Map<String, Object> args = object(conf, "args", where);
    Map<String, Object> cniArgs = args == null ? null : object(args, "cni", "config.args");
    if (cniArgs != null) {
      addIps(requested, list(cniArgs, "ips", "config.args.cni"), "args.cni.ips");
    }
    Map<String, Object> runtime = object(conf, "runtimeConfig", where);
    if (runtime != null) {
      addIps(requested, list(runtime, "ips", "config.runtimeConfig"), "runtimeConfig.ips");
    }
    Map<String, Object> prevResult = object(conf, "prevResult", where);

    Set<Attachment> valid = null;
    for (String key : List.of("cni.dev/valid-attachments", "cni.dev/attachments")) {
      List<Object> entries = list(conf, key, where);
      if (entries == null) {
        continue;
      }
      valid = valid == null ? new LinkedHashSet<>() : valid;
      for (int i = 0; i < entries.size(); i++) {
        String entryWhere = key + "[" + i + "]";
        Map<String, Object> entry = JsonFields.asObject(entries.get(i), entryWhere);
        String id = string(entry, "containerID", entryWhere);
        String ifname = string(entry, "ifname", entryWhere);
        if (id == null || ifname == null) { // else the attachment's own check would name the value "null"
          throw IpamException.invalidConfig("%s has no \"%s\": each entry names a containerID and an ifname",
              entryWhere, id == null ? "containerID" : "ifname");
        }
        if (!InterfaceName.isUnicode(ifname) || InterfaceName.isMark(ifname)) {
          throw IpamException.invalidConfig("%s.ifname \"%s\" is not Unicode text (a lone surrogate escape)",
              entryWhere, InterfaceName.quote(ifname));
        }
        try {
          valid.add(new Attachment(id, ifname));
        } catch (IpamException e) {
          throw IpamConfig.inContext(entryWhere, e);
        }
      }
    }
    return new NetworkConfig(version, name, ipam, requested, prevResult,
        valid == null ? null : Set.copyOf(valid));
  }

  private static void addIps(List<IpAddress> out, List<Object> ips, String where) {
    if (ips == null) {
      return;
    }
    // before parsing any: each entry is checked against the others, and a call gets one address
    // per range set at most
    Limits.check(where, "entries", ips.size(), Limits.MAX_REQUESTED_IPS);
    for (Object ip : ips) {
      if (!(ip instanceof String s)) {
        throw IpamException.invalidConfig("%s entries must be strings, not %s", where, JsonFields.describe(ip));
      }
      IpAddress address;
      try {
        address = AddressWithPrefix.parse(s).address();
      } catch (IpamException e) {
        throw IpamConfig.inContext(where, e);
      }
      if (!out.contains(address)) {
        out.add(address);
      }
    }
  }
}
