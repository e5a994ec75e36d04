package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.util.ArrayList;
import java.util.List;

/**
 * An attachment's record: which node allocated, the pod, and its addresses with their range set.
 * DEL, CHECK and a repeated ADD read it instead of scanning blocks. Immutable.
 *
 * <p>Stored as text: header, {@code node <node>}, {@code pod <namespace> <name>}, then one line
 * {@code <set> <address>} per address.
 */
record Handle(String node, PodRef pod, List<Allocation> allocations, long modRev) {
  private static final String MAGIC = "jipam-handle 1";

  Handle {
    allocations = List.copyOf(allocations);
  }

  Handle withModRev(long rev) {
    return new Handle(node, pod, allocations, rev);
  }

  String encode() {
    StringBuilder out = new StringBuilder(96);
    out.append(MAGIC).append('\n').append("node ").append(node).append('\n');
    out.append("pod ").append(Text.esc(pod.namespace())).append(' ').append(Text.esc(pod.name())).append('\n');
    for (Allocation a : allocations) {
      out.append(a.rangeSetIndex()).append(' ').append(a.address()).append('\n');
    }
    return out.toString();
  }

  static Handle decode(String key, Attachment attachment, String text, long modRev) {
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
          pod = new PodRef(Text.unesc(f[0]), Text.unesc(f[1]));
        } else if (!line.isEmpty()) {
          addrs.add(line.split(" "));
        }
      }
      List<Allocation> allocations = new ArrayList<>();
      for (String[] f : addrs) {
        allocations.add(new Allocation(IpAddress.parse(f[1]), Integer.parseInt(f[0]), attachment, pod));
      }
      return new Handle(node, pod, allocations, modRev);
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: cannot read handle " + key + ": " + e.getMessage(), e);
    }
  }

  /** Parses the attachment from a handle key's last two segments. */
  static Attachment attachmentOf(String key) {
    int slash = key.lastIndexOf('/');
    int before = key.lastIndexOf('/', slash - 1);
    return new Attachment(key.substring(before + 1, slash), key.substring(slash + 1));
  }
}
