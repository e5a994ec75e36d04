package io.jipam.etcd;

import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * One store's planned transaction, as a part a {@link TxnSender} may send alone or together with
 * other stores' parts: its guard (each key at the mod revision it was read at, 0 for absent, in the
 * order the else branch reads them back), its writes, and the keys those writes touch.
 *
 * @param guards what the part depends on; on a failed guard the sender answers the part with these
 *     keys' current values, in this order
 * @param then the part's puts and deletes
 * @param written the keys {@code then} puts or deletes (a part sent with others must touch none of
 *     the keys they guard or write, nor they any it writes)
 * @param bytes keys and values the part sends, about (for etcd's request size limit)
 */
record TxnPart(List<Guard> guards, List<Op> then, Set<String> written, long bytes) {

  /** A key the part requires at a mod revision (0: absent). */
  record Guard(String key, long modRev) {}

  TxnPart {
    guards = List.copyOf(guards);
    then = List.copyOf(then);
    written = Set.copyOf(written);
  }

  List<Cmp> compares() {
    List<Cmp> out = new ArrayList<>(guards.size());
    for (Guard g : guards) {
      out.add(EtcdClient.modRev(g.key(), g.modRev()));
    }
    return out;
  }

  List<Op> reads() {
    List<Op> out = new ArrayList<>(guards.size());
    for (Guard g : guards) {
      out.add(EtcdClient.get(g.key()));
    }
    return out;
  }

  /** Etcd's count of the part's operations: the largest of its compares, writes and reads. */
  int ops() {
    return Math.max(guards.size(), then.size());
  }
}
