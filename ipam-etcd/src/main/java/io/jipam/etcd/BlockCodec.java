package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import java.time.Instant;
import java.util.Base64;
import java.util.BitSet;

/**
 * Blocks as etcd holds them: a few bytes whatever the block holds.
 *
 * <table>
 *   <caption>Block record</caption>
 *   <tr><th>Key</th><th>Value (lines)</th></tr>
 *   <tr><td>{@code <p>/v2/blocks/<pool>/<set>/<net>_<len>}</td>
 *       <td>{@code jipam-block 2}; {@code owner <node>} ({@code ~}: none); {@code cursor <offset>};
 *       {@code used <count>}; {@code bits <base64>} (the allocated offsets, bit i of byte i/8 for
 *       offset i, little-endian as {@link BitSet#toByteArray}; empty when none); then, only when the
 *       block has claims, one {@code claim <offset> <kind> <until> <pod ns> <pod name> <containerID>
 *       <ifname>} per claimed address: kind {@code h} hold, {@code r} reservation, {@code c}
 *       cooling; until in epoch milliseconds ({@code ~} for a reservation); the releasing
 *       attachment {@code ~ ~} when none (free-form fields percent-encoded)</td></tr>
 * </table>
 *
 * <p>A /26 block's value is about 60 bytes; a /20 one's (4,096 addresses) under 800; the largest
 * allowed (/16, /112: 65,536 addresses) about 11 KB.
 */
final class BlockCodec {
  private static final String MAGIC = "jipam-block 2";

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
    String bits = Base64.getEncoder().withoutPadding().encodeToString(b.used.toByteArray());
    return MAGIC + "\nowner " + FieldEscaping.esc(b.owner) + "\ncursor " + b.cursor + "\nused " + b.usedCount()
        + "\nbits " + bits + "\n" + (b.claims.isEmpty() ? "" : claimLines(b));
  }

  private static String claimLines(Block b) {
    StringBuilder out = new StringBuilder(b.claims.size() * 48);
    b.claims.forEach((offset, c) -> {
      out.append("claim ").append(offset).append(' ').append(KINDS.charAt(c.kind().ordinal())).append(' ')
          .append(c.until() == null ? "~" : Long.toString(c.until().toEpochMilli())).append(' ')
          .append(FieldEscaping.esc(c.pod().namespace())).append(' ').append(FieldEscaping.esc(c.pod().name()))
          .append(' ');
      Attachment by = c.releasedBy();
      out.append(by == null ? "~ ~" : FieldEscaping.esc(by.containerId()) + " " + FieldEscaping.esc(by.ifname()))
          .append('\n');
    });
    return out.toString();
  }

  /** Claim kinds by ordinal of {@link Claim.Kind}: hold, reservation, cooling. */
  private static final String KINDS = "hrc";

  private static void claim(Block b, String line) {
    String[] f = line.split(" ");
    if (f.length != 8) {
      throw new IllegalArgumentException("claim line with " + f.length + " fields");
    }
    int offset = Integer.parseInt(f[1]);
    if (offset < 0 || offset >= b.size() || f[2].length() != 1 || KINDS.indexOf(f[2].charAt(0)) < 0) {
      throw new IllegalArgumentException("bad claim " + line);
    }
    Claim.Kind kind = Claim.Kind.values()[KINDS.indexOf(f[2].charAt(0))];
    Instant until = f[3].equals("~") ? null : Instant.ofEpochMilli(Long.parseLong(f[3]));
    PodRef pod = new PodRef(FieldEscaping.unesc(f[4]), FieldEscaping.unesc(f[5]));
    Attachment by = f[6].equals("~") ? null : new Attachment(FieldEscaping.unesc(f[6]), FieldEscaping.unesc(f[7]));
    b.claims.put(offset, new Claim(b.addressAt(offset), kind, pod, until, by));
  }

  static Block decode(String key, int set, IpAddress net, int hostBits, String text, long modRev) {
    Block b = new Block(key, set, net, hostBits);
    b.modRev = modRev;
    String[] lines = text.split("\n");
    try {
      if (!lines[0].equals(MAGIC)) {
        throw new IllegalArgumentException("not a jipam layout-v2 block");
      }
      int count = -1;
      boolean bits = false;
      for (int i = 1; i < lines.length; i++) {
        String line = lines[i];
        if (line.startsWith("owner ")) {
          b.owner = FieldEscaping.unesc(line.substring(6));
        } else if (line.startsWith("cursor ")) {
          b.cursor = Integer.parseInt(line.substring(7));
        } else if (line.startsWith("used ")) {
          count = Integer.parseInt(line.substring(5));
        } else if (line.startsWith("bits ")) {
          b.used.or(BitSet.valueOf(Base64.getDecoder().decode(line.substring(5))));
          bits = true;
        } else if (line.startsWith("claim ")) {
          claim(b, line);
        } else if (!line.isEmpty()) {
          throw new IllegalArgumentException("unexpected line " + line);
        }
      }
      if (!bits || count != b.usedCount()) {
        throw new IllegalArgumentException("bitmap of " + b.usedCount() + " addresses against a count of " + count);
      }
      if (b.used.length() > b.size() || b.cursor < -1 || b.cursor >= b.size()) {
        throw new IllegalArgumentException("offset outside the block");
      }
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE,
          "etcd: cannot read block " + key + ": " + e.getMessage(), e);
    }
    return b;
  }
}
