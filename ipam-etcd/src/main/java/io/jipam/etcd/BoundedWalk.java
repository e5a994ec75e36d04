package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One walk of the keys in [from, to) at one revision, in reads that each return at most {@code
 * limit} keys and whose ranges hold not many more: the work etcd does for a walk of n keys grows
 * linearly with n. One use; not thread-safe.
 *
 * <p>Why: etcd 3.4 visits every key of a read's range, whatever its limit (to count them). Paging
 * "up to limit keys from the last one to the end of the prefix" makes each page cost the rest of
 * the prefix: a walk of n keys cost n²/(2·limit) key visits. Here:
 * <ol>
 *   <li>the first read is such a page (for a small range, the only read);
 *   <li>the rest, [lo, to) after that page's last key, is cut into one part per character of lo
 *       from the deepest up: the keys that share lo's first k characters and sort after lo, for k
 *       from lo's length down to what lo and {@code to} share. One transaction counts them all
 *       (count-only reads; each key is visited once);
 *   <li>a part of at most {@code limit} keys is read whole; a larger part is cut at {@code Q + c}
 *       (Q: its first key's characters up to one past what its ends share; c: each character of
 *       key segments), counted, and so on down.
 * </ol>
 * Every level of cuts visits each key once more, so a walk costs about n × (3 + levels) visits;
 * levels are log base 10–60 of n/limit for this store's keys. Cuts partition the range whatever
 * the keys' characters (others only make parts uneven); past {@value #MAX_DEPTH} levels a part is
 * paged as in step 1.
 */
final class BoundedWalk {
  /** Where parts are cut: the characters of key segments, in byte order. */
  private static final String CUTS = "-./0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
  private static final int MAX_DEPTH = 24;

  private final EtcdClient etcd;
  private final int limit;
  private final Fetch fetch;
  private final long deadline;
  private final String what;
  private final Consumer<KeyValue> each;
  private long rev;

  BoundedWalk(EtcdClient etcd, int limit, Fetch fetch, long deadline, String what, Consumer<KeyValue> each) {
    this.etcd = etcd;
    this.limit = limit;
    this.fetch = fetch;
    this.deadline = deadline;
    this.what = what;
    this.each = each;
  }

  /** Walks [from, to) at {@code revision} (0: now); returns the revision read at. */
  long run(String from, String to, long revision) {
    GetResponse first = etcd.range(from, to, limit, fetch, revision, deadline, what);
    rev = revision != 0 ? revision : first.getHeader().getRevision();
    first.getKvs().forEach(each);
    if (first.isMore() && !first.getKvs().isEmpty()) {
      rest(after(first), to);
    }
    return rev;
  }

  /** [lo, hi) in parts by lo's prefixes, deepest first (they are next in key order). */
  private void rest(String lo, String hi) {
    int shared = common(lo, hi);
    List<String> bounds = new ArrayList<>();
    bounds.add(lo);
    for (int k = lo.length(); k > shared; k--) {
      String end = EtcdClient.prefixEnd(lo.substring(0, k));
      if (end.compareTo(bounds.get(bounds.size() - 1)) > 0 && end.compareTo(hi) < 0) {
        bounds.add(end);
      }
    }
    bounds.add(hi);
    parts(bounds, 0);
  }

  /** Counts the parts between bounds; reads the small ones, cuts the large ones. */
  private void parts(List<String> bounds, int depth) {
    long[] counts = etcd.counts(bounds, rev, deadline, what);
    for (int i = 0; i < counts.length; i++) {
      if (counts[i] == 0) {
        continue;
      }
      String lo = bounds.get(i);
      String hi = bounds.get(i + 1);
      List<String> cuts = counts[i] <= limit || depth >= MAX_DEPTH ? List.of() : cuts(lo, hi);
      if (cuts.isEmpty()) {
        page(lo, hi);
      } else {
        parts(cuts, depth + 1);
      }
    }
  }

  /** lo, {@code Q + c} for each cut character between lo and hi, hi; empty when none falls between. */
  static List<String> cuts(String lo, String hi) {
    int shared = common(lo, hi);
    for (int len = Math.min(shared + 1, lo.length()); len <= lo.length(); len++) {
      String q = lo.substring(0, len);
      List<String> out = new ArrayList<>();
      out.add(lo);
      for (int c = 0; c < CUTS.length(); c++) {
        String b = q + CUTS.charAt(c);
        if (b.compareTo(lo) > 0 && b.compareTo(hi) < 0) {
          out.add(b);
        }
      }
      if (out.size() > 1) {
        out.add(hi);
        return out;
      }
    }
    return List.of();
  }

  /** Every key of [lo, hi) in reads of at most limit keys (one read for a part that holds no more). */
  private void page(String lo, String hi) {
    String from = lo;
    while (true) {
      GetResponse r = etcd.range(from, hi, limit, fetch, rev, deadline, what);
      r.getKvs().forEach(each);
      if (!r.isMore() || r.getKvs().isEmpty()) {
        return;
      }
      from = after(r);
    }
  }

  private static String after(GetResponse r) {
    return EtcdClient.text(r.getKvs().get(r.getKvs().size() - 1).getKey()) + '\0';
  }

  private static int common(String a, String b) {
    int n = Math.min(a.length(), b.length());
    int i = 0;
    while (i < n && a.charAt(i) == b.charAt(i)) {
      i++;
    }
    return i;
  }
}
