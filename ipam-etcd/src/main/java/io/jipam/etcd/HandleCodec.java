package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.util.ArrayList;
import java.util.List;

/**
 * Handles as etcd holds them.
 *
 * <table>
 *   <caption>Handle record</caption>
 *   <tr><th>Key</th><th>Value (lines)</th></tr>
 *   <tr><td>{@code <p>/v2/handles/<pool>/<containerID>/<ifname>}</td>
 *       <td>{@code jipam-handle 1}; {@code node <node>}; {@code pod <ns> <name>} (percent-encoded,
 *       {@code ~} for empty); then one {@code <set> <address> <origin>} per address, the origin
 *       an {@link AllocationOrigin#label()}, absent when not recorded (handles written before
 *       jipam kept it; readers ignore further fields)</td></tr>
 * </table>
 */
final class HandleCodec {
  private static final String MAGIC = "jipam-handle 1";

  private HandleCodec() {}

  /** A handle read from etcd; the attachment comes from its key. */
  static Handle decode(KeyValue kv) {
    String key = EtcdClient.text(kv.getKey());
    return decode(key, Keys.parseHandle(key), kv);
  }

  static Handle decode(String key, Attachment attachment, KeyValue kv) {
    String text = EtcdClient.text(kv.getValue());
    try {
      String[] lines = text.split("\n");
      if (!lines[0].equals(MAGIC)) {
        throw new IllegalArgumentException("not a jipam v1 handle");
      }
      String node = "";
      PodRef pod = PodRef.UNKNOWN;
      List<String[]> addrs = new ArrayList<>();
      for (int i = 1; i < lines.length; i++) {
        String line = lines[i];
        if (line.startsWith("node ")) {
          node = line.substring(5);
        } else if (line.startsWith("pod ")) {
          String[] f = line.substring(4).split(" ");
          pod = new PodRef(FieldEscaping.unesc(f[0]), FieldEscaping.unesc(f[1]));
        } else if (!line.isEmpty()) {
          addrs.add(line.split(" "));
        }
      }
      List<Allocation> allocations = new ArrayList<>();
      for (String[] f : addrs) {
        allocations.add(new Allocation(IpAddress.parse(f[1]), Integer.parseInt(f[0]), attachment, pod,
            f.length > 2 ? AddressCodec.origin(f[2]) : null));
      }
      return new Handle(node, pod, allocations, kv.getModRevision());
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: cannot read handle " + key + ": " + e.getMessage(), e);
    }
  }

  static String encode(Handle h) {
    StringBuilder out = new StringBuilder(96);
    out.append(MAGIC).append('\n').append("node ").append(h.node()).append('\n');
    out.append("pod ").append(FieldEscaping.esc(h.pod().namespace())).append(' ').append(FieldEscaping.esc(h.pod().name()))
        .append('\n');
    for (Allocation a : h.allocations()) {
      out.append(a.rangeSetIndex()).append(' ').append(a.address());
      if (a.origin() != null) {
        out.append(' ').append(a.origin().label());
      }
      out.append('\n');
    }
    return out.toString();
  }
}
