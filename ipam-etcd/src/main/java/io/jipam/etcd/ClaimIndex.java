package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.PodRef;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The two indexes that find claims without reading the pool: a pod's holds (where its addresses
 * are held, in whichever node's block) and the pool's reservations. Each is one record; the claim
 * itself is in its block ({@link BlockCodec}), which is what allocation and its guard go by. An
 * index is written in the same transaction as the blocks it points into; an entry whose block says
 * otherwise (expired, ended), or that names an address outside its range set, is ignored, and
 * dropped from a hold index when that is next written.
 *
 * <table>
 *   <caption>Index records</caption>
 *   <tr><th>Key</th><th>Value (lines)</th></tr>
 *   <tr><td>{@code <p>/v2/holds/<pool>/<pod ns>/<pod name>}</td>
 *       <td>{@code jipam-holds 1}; one {@code <set> <address> <until epoch millis>} per hold; on a
 *       lease that outlives every hold it lists</td></tr>
 *   <tr><td>{@code <p>/v2/reservations/<pool>}</td>
 *       <td>{@code jipam-reservations 1}; one {@code <set> <address> <pod ns> <pod name>} per
 *       reservation (name {@code ~} for a namespace's)</td></tr>
 * </table>
 *
 * Immutable values; stateless codec.
 */
final class ClaimIndex {
  private static final String HOLDS = "jipam-holds 1";
  private static final String RESERVATIONS = "jipam-reservations 1";
  /** The most reservations a pool may have: its record stays well under etcd's request size. */
  static final int MAX_RESERVATIONS = io.jipam.core.Limits.MAX_RESERVATIONS;

  private ClaimIndex() {}

  /** One entry: a claimed address, with its expiry (holds) or its pod or namespace (reservations). */
  record Entry(int set, IpAddress address, Instant until, PodRef pod) {}

  /** An index record as read: its entries and mod revision (0: absent). */
  record Read(List<Entry> entries, long modRev) {
    static final Read ABSENT = new Read(List.of(), 0);

    Read {
      entries = List.copyOf(entries);
    }
  }

  static String encodeHolds(List<Entry> entries) {
    StringBuilder out = new StringBuilder(HOLDS).append('\n');
    for (Entry e : entries) {
      out.append(e.set()).append(' ').append(e.address()).append(' ').append(e.until().toEpochMilli()).append('\n');
    }
    return out.toString();
  }

  static String encodeReservations(List<Entry> entries) {
    StringBuilder out = new StringBuilder(RESERVATIONS).append('\n');
    for (Entry e : entries) {
      out.append(e.set()).append(' ').append(e.address()).append(' ').append(FieldEscaping.esc(e.pod().namespace()))
          .append(' ').append(FieldEscaping.esc(e.pod().name())).append('\n');
    }
    return out.toString();
  }

  /** A hold index (null kv: absent). */
  static Read holds(String key, KeyValue kv) {
    return decode(key, kv, HOLDS, 3, f -> new Entry(Integer.parseInt(f[0]), IpAddress.parse(f[1]),
        Instant.ofEpochMilli(Long.parseLong(f[2])), null));
  }

  /** The reservations record (null kv: absent). */
  static Read reservations(String key, KeyValue kv) {
    return decode(key, kv, RESERVATIONS, 4, f -> {
      IpAddress address = IpAddress.parse(f[1]);
      PodRef pod = new PodRef(FieldEscaping.unesc(f[2]), FieldEscaping.unesc(f[3]));
      io.jipam.core.store.Claim.reservation(address, pod); // a reservation names a namespace, or refuses here
      return new Entry(Integer.parseInt(f[0]), address, null, pod);
    });
  }

  private static Read decode(String key, KeyValue kv, String magic, int fields,
      java.util.function.Function<String[], Entry> entry) {
    if (kv == null) {
      return Read.ABSENT;
    }
    String text = EtcdClient.text(kv.getValue());
    try {
      String[] lines = text.split("\n");
      if (!lines[0].equals(magic)) {
        throw new IllegalArgumentException("not a " + magic + " record");
      }
      List<Entry> out = new ArrayList<>();
      for (int i = 1; i < lines.length; i++) {
        if (lines[i].isEmpty()) {
          continue;
        }
        String[] f = lines[i].split(" ");
        if (f.length != fields) {
          throw new IllegalArgumentException("unexpected line " + lines[i]);
        }
        out.add(entry.apply(f));
      }
      return new Read(out, kv.getModRevision());
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: cannot read " + key + ": " + e.getMessage(), e);
    }
  }
}
