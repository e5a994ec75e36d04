package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.util.Map;

/**
 * Blocks as etcd holds them.
 *
 * <table>
 *   <caption>Block record</caption>
 *   <tr><th>Key</th><th>Value (lines)</th></tr>
 *   <tr><td>{@code <p>/v1/blocks/<pool>/<set>/<net>_<len>}</td>
 *       <td>{@code jipam-block 1}; {@code owner <node>} ({@code ~}: none); {@code cursor <offset>};
 *       then per allocated address {@code <offset> <containerID> <ifname> <pod ns> <pod name>}
 *       (free-form fields percent-encoded, {@code ~} for empty)</td></tr>
 * </table>
 */
final class BlockCodec {
  private static final String MAGIC = "jipam-block 1";

  private final Keys keys;

  BlockCodec(Keys keys) {
    this.keys = keys;
  }

  /** The block a key names, from its value; absent when {@code kv} is null (no such key). */
  Block decode(BlockLayout layout, String key, KeyValue kv) {
    Keys.BlockRef ref = keys.parseBlock(layout.pool().name(), key);
    IpAddress net = ref.set() < layout.sets() ? layout.netOf(ref.set(), ref.id()) : null;
    if (net == null) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: block key " + key + " is not a block of pool "
          + layout.pool().name());
    }
    int hostBits = layout.hostBits(ref.set());
    return kv == null ? Block.absent(key, ref.set(), net, hostBits)
        : decode(key, ref.set(), net, hostBits, EtcdClient.text(kv.getValue()), kv.getModRevision());
  }

  /** A block read from etcd: its key and value. */
  Block decode(BlockLayout layout, KeyValue kv) {
    return decode(layout, EtcdClient.text(kv.getKey()), kv);
  }

  static String encode(Block b) {
    StringBuilder out = new StringBuilder(64 + b.entries.size() * 48);
    out.append(MAGIC).append('\n');
    out.append("owner ").append(FieldEscaping.esc(b.owner)).append('\n');
    out.append("cursor ").append(b.cursor).append('\n');
    for (Map.Entry<Integer, Block.Entry> e : b.entries.entrySet()) {
      Block.Entry v = e.getValue();
      out.append(e.getKey()).append(' ').append(v.attachment().containerId()).append(' ')
          .append(FieldEscaping.esc(v.attachment().ifname())).append(' ').append(FieldEscaping.esc(v.pod().namespace()))
          .append(' ').append(FieldEscaping.esc(v.pod().name())).append('\n');
    }
    return out.toString();
  }

  static Block decode(String key, int set, IpAddress net, int hostBits, String text, long modRev) {
    Block b = new Block(key, set, net, hostBits);
    b.modRev = modRev;
    String[] lines = text.split("\n");
    try {
      if (!lines[0].equals(MAGIC)) {
        throw new IllegalArgumentException("not a jipam v1 block");
      }
      for (int i = 1; i < lines.length; i++) {
        String line = lines[i];
        if (line.startsWith("owner ")) {
          b.owner = FieldEscaping.unesc(line.substring(6));
        } else if (line.startsWith("cursor ")) {
          b.cursor = Integer.parseInt(line.substring(7));
        } else if (!line.isEmpty()) {
          String[] f = line.split(" ");
          int offset = Integer.parseInt(f[0]);
          if (offset < 0 || offset >= b.size()) {
            throw new IllegalArgumentException("offset " + offset + " outside the block");
          }
          b.entries.put(offset, new Block.Entry(new Attachment(f[1], FieldEscaping.unesc(f[2])),
              new PodRef(FieldEscaping.unesc(f[3]), FieldEscaping.unesc(f[4]))));
        }
      }
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE,
          "etcd: cannot read block " + key + ": " + e.getMessage(), e);
    }
    return b;
  }
}
