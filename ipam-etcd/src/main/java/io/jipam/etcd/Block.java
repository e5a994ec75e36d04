package io.jipam.etcd;

import io.jipam.core.IpamException;
import io.jipam.core.ErrorCode;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.util.Map;
import java.util.TreeMap;

/**
 * One block as read from (or about to be written to) etcd: owner, round-robin cursor and the
 * allocated offsets with their holders. Mutable and not thread-safe: the store's commit thread of
 * the pool owns every instance; {@link #copy} gives a transaction its private working copy.
 *
 * <p>Stored as text: a header line, {@code owner <node|~>}, {@code cursor <offset>}, then one
 * line per allocated address {@code <offset> <containerID> <ifname> <pod namespace> <pod name>}
 * (fields percent-encoded, {@code ~} for empty).
 */
final class Block {
  private static final String MAGIC = "jipam-block 1";

  final String key;
  final int set;
  final IpAddress net;
  final int hostBits;
  /** Mod revision read from etcd; 0 when the key did not exist. */
  long modRev;
  /** True when the key does not exist (or is to be deleted). */
  boolean deleted;
  /** Owning node; empty when the block has no affinity. */
  String owner = "";
  int cursor = -1;
  final TreeMap<Integer, Entry> entries = new TreeMap<>();

  record Entry(Attachment attachment, PodRef pod) {}

  Block(String key, int set, IpAddress net, int hostBits) {
    this.key = key;
    this.set = set;
    this.net = net;
    this.hostBits = hostBits;
  }

  static Block absent(String key, int set, IpAddress net, int hostBits) {
    Block b = new Block(key, set, net, hostBits);
    b.deleted = true;
    return b;
  }

  Block copy() {
    Block b = new Block(key, set, net, hostBits);
    b.modRev = modRev;
    b.deleted = deleted;
    b.owner = owner;
    b.cursor = cursor;
    b.entries.putAll(entries);
    return b;
  }

  boolean exists() {
    return !deleted;
  }

  int size() {
    return 1 << hostBits;
  }

  IpAddress addressAt(int offset) {
    return net.plus(offset);
  }

  Entry holder(int offset) {
    return entries.get(offset);
  }

  /** The offset the order hands out next, or -1 when the block is full. */
  int nextFree(long[] allowed, AllocationOrder order) {
    int size = size();
    int start = order == AllocationOrder.ROUND_ROBIN && cursor >= 0 ? cursor + 1 : 0;
    for (int k = 0; k < size; k++) {
      int i = (start + k) % size;
      if (PoolLayout.isSet(allowed, i) && !entries.containsKey(i)) {
        return i;
      }
    }
    return -1;
  }

  boolean hasFree(long[] allowed) {
    return nextFree(allowed, AllocationOrder.LOWEST_FREE) >= 0;
  }

  String encode() {
    StringBuilder out = new StringBuilder(64 + entries.size() * 48);
    out.append(MAGIC).append('\n');
    out.append("owner ").append(Text.esc(owner)).append('\n');
    out.append("cursor ").append(cursor).append('\n');
    for (Map.Entry<Integer, Entry> e : entries.entrySet()) {
      Entry v = e.getValue();
      out.append(e.getKey()).append(' ').append(v.attachment().containerId()).append(' ')
          .append(Text.esc(v.attachment().ifname())).append(' ').append(Text.esc(v.pod().namespace()))
          .append(' ').append(Text.esc(v.pod().name())).append('\n');
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
          b.owner = Text.unesc(line.substring(6));
        } else if (line.startsWith("cursor ")) {
          b.cursor = Integer.parseInt(line.substring(7));
        } else if (!line.isEmpty()) {
          String[] f = line.split(" ");
          int offset = Integer.parseInt(f[0]);
          if (offset < 0 || offset >= b.size()) {
            throw new IllegalArgumentException("offset " + offset + " outside the block");
          }
          b.entries.put(offset, new Entry(new Attachment(f[1], Text.unesc(f[2])),
              new PodRef(Text.unesc(f[3]), Text.unesc(f[4]))));
        }
      }
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE,
          "etcd: cannot read block " + key + ": " + e.getMessage(), e);
    }
    return b;
  }
}
