package io.jipam.ctl;

import io.jipam.core.store.capability.BlockUsage;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeUsage;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.Printable;
import io.jipam.core.store.StickyRule;
import java.io.PrintWriter;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * How jipamctl prints what it read: ranges, usage bars and counts, allocations, usage and blocks,
 * as text and as JSON, every stored string escaped ({@link #e}); and finding allocations by address
 * or attachment ({@link #matching}). Stateless.
 */
final class Formats {
  private Formats() {}

  static String ranges(RangeSet set) {
    List<String> parts = new ArrayList<>();
    for (IpRange r : set.ranges()) {
      parts.add(r.subnet() + " [" + r.rangeStart() + "-" + r.rangeEnd() + "]");
    }
    return String.join(", ", parts);
  }

  /**
   * A utilisation bar and percentage; counts are unsigned (an IPv6 /64 has more than 2^63 free).
   * A share that is not zero but below 0.1% reads {@code <0.1%}, never {@code 0.0%}.
   */
  static String bar(long used, long free) {
    double ratio = share(used, free);
    int filled = (int) Math.round(ratio * 20);
    String percent = used != 0 && ratio < 0.001 ? " <0.1%" : String.format("%5.1f%%", ratio * 100);
    return "[" + "#".repeat(filled) + ".".repeat(20 - filled) + "] " + percent;
  }

  /** used / (used + free), both unsigned. */
  static double share(long used, long free) {
    double total = unsignedDouble(used) + unsignedDouble(free);
    return total == 0 ? 0 : unsignedDouble(used) / total;
  }

  private static double unsignedDouble(long v) {
    return v >= 0 ? v : (double) (v >>> 1) * 2.0 + (v & 1);
  }

  /** The exact unsigned count, for JSON. */
  static String unsigned(long v) {
    return Long.toUnsignedString(v);
  }

  /**
   * An unsigned count for text: as it is below 10^12; above, as a power of two and a small
   * difference when it is one ({@code 2^64-4}, {@code 2^48}), else in three significant digits
   * ({@code 1.84e19}).
   */
  static String count(long v) {
    if (Long.compareUnsigned(v, 1_000_000_000_000L) < 0) {
      return Long.toUnsignedString(v);
    }
    java.math.BigInteger n = new java.math.BigInteger(Long.toUnsignedString(v));
    int bits = n.bitLength();
    java.math.BigInteger below = n.subtract(java.math.BigInteger.ONE.shiftLeft(bits - 1));
    java.math.BigInteger above = java.math.BigInteger.ONE.shiftLeft(bits).subtract(n);
    java.math.BigInteger near = java.math.BigInteger.valueOf(1 << 20);
    if (below.compareTo(near) < 0) {
      return "2^" + (bits - 1) + (below.signum() == 0 ? "" : "+" + below);
    }
    if (above.compareTo(near) < 0) {
      return "2^" + bits + "-" + above;
    }
    String s = String.format(java.util.Locale.ROOT, "%.2e", unsignedDouble(v)); // 1.84e+19
    return s.replace("e+", "e");
  }

  /** An allocation as JSON; {@code origin} (why it was given) only when the store recorded one. */
  static JsonObject json(Allocation a, String pool) {
    JsonObject o = new JsonObject().put("pool", pool).put("address", a.address().toString())
        .put("rangeSet", a.rangeSetIndex()).put("containerId", a.attachment().containerId())
        .put("ifname", a.attachment().ifname()).put("podNamespace", a.pod().namespace())
        .put("podName", a.pod().name());
    return a.origin() == null ? o : o.put("origin", a.origin().label());
  }

  static JsonObject json(ListPages.Listed l, String pool) {
    return json(l.allocation(), pool).put("node", l.node().isEmpty() ? null : l.node());
  }

  /**
   * A value from the store (or a request) as text output prints it: control characters escaped,
   * so that old data holding escape codes or line breaks cannot repaint the terminal or forge a
   * line ({@link Printable#escape}).
   */
  static String e(Object value) {
    return Printable.escape(String.valueOf(value));
  }

  static String text(Allocation a, String pool) {
    return String.format("%-16s %-39s %-40s %s", e(pool), a.address(), e(a.attachment()), e(a.pod()));
  }

  /**
   * An attachment as text output prints it, escaped once as {@link #e} escapes: the container ID,
   * {@code /}, the interface name, whose bytes that are not UTF-8 (held as lone surrogates, see
   * {@link InterfaceName}) show as {@code \xNN}; a store's mark as {@code <mark NN>}. Not {@link
   * Attachment#toString}, which escapes the name already (and {@link #e} would escape it again).
   */
  static String e(Attachment a) {
    return e(a.containerId()) + "/" + ifname(a.ifname());
  }

  /** An interface name as text output prints it ({@link #e(Attachment)}). */
  static String ifname(String name) {
    if (name == null || InterfaceName.isMark(name)) {
      return InterfaceName.quote(name);
    }
    StringBuilder out = new StringBuilder(name.length() + 8);
    int from = 0;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      // a byte that was not UTF-8: U+DC80 + (byte - 0x80), never after a high surrogate
      if (c >= 0xDC80 && c <= 0xDCFF && (i == 0 || !Character.isHighSurrogate(name.charAt(i - 1)))) {
        out.append(Printable.escape(name.substring(from, i))).append(String.format("\\x%02x", c - 0xDC00));
        from = i + 1;
      }
    }
    return out.append(Printable.escape(name.substring(from))).toString();
  }

  /**
   * An attachment as plain text, for a message that is escaped as a whole later ({@link #e}) or a
   * JSON string: {@code containerId/ifname} as they are, a store's mark as {@code <mark NN>}.
   */
  static String plain(Attachment a) {
    return a.containerId() + "/" + (InterfaceName.isMark(a.ifname()) ? InterfaceName.quote(a.ifname()) : a.ifname());
  }

  /**
   * Why the allocation was given, as {@code show} ends its line: {@code "  why: sticky"}; empty
   * when the store recorded no origin (allocations written before stores kept it).
   */
  static String why(Allocation a) {
    return a.origin() == null ? "" : "  why: " + a.origin().label();
  }

  static String text(ListPages.Listed l, String pool) {
    return String.format("%-16s %-39s %-40s %-24s %s", e(pool), l.allocation().address(),
        e(l.allocation().attachment()), e(l.allocation().pod()), l.node().isEmpty() ? "-" : e(l.node()));
  }

  /**
   * A pool's address rules as {@code pools} prints them: {@code sticky PODS hold N s (at most P%
   * held); reuse delay N s}; empty for {@link AddressPolicy#NONE}.
   */
  static String rulesText(AddressPolicy policy) {
    List<String> parts = new ArrayList<>();
    StickyRule sticky = policy.sticky();
    if (sticky != null) {
      List<String> pods = new ArrayList<>();
      sticky.pods().forEach(p -> pods.add(e(p.toString())));
      parts.add("sticky " + String.join(",", pods) + " hold " + sticky.hold().toSeconds() + " s (at most "
          + sticky.maxHeldPercent() + "% held)");
    }
    if (!policy.reuseDelay().isZero()) {
      parts.add("reuse delay " + policy.reuseDelay().toSeconds() + " s");
    }
    return String.join("; ", parts);
  }

  /** The same as JSON, with the network config's key names. */
  static JsonObject rulesJson(AddressPolicy policy) {
    JsonObject out = new JsonObject().put("reuseDelaySeconds", policy.reuseDelay().toSeconds());
    StickyRule sticky = policy.sticky();
    if (sticky != null) {
      JsonArray pods = new JsonArray();
      sticky.pods().forEach(p -> pods.add(p.toString()));
      out.put("sticky", new JsonObject().put("pods", pods).put("holdSeconds", sticky.hold().toSeconds())
          .put("maxHeldPercent", sticky.maxHeldPercent()));
    }
    return out;
  }

  static final String LIST_HEADER = String.format("%-16s %-39s %-40s %-24s %s", "POOL", "ADDRESS", "ATTACHMENT", "POD",
      "NODE");

  static JsonObject usageJson(PoolStatus status) {
    Pool pool = status.pool();
    PoolUsage usage = status.usage();
    JsonArray sets = new JsonArray();
    for (int i = 0; i < pool.rangeSets().size(); i++) {
      long used = usage.allocated().get(i);
      long free = usage.free().get(i);
      sets.add(new JsonObject().put("index", i).put("ranges", ranges(pool.rangeSets().get(i)))
          .put("used", used).put("free", unsigned(free)).put("utilisation", ratio(used, free)));
    }
    JsonObject out = new JsonObject().put("pool", pool.name()).put("order", pool.order().configName())
        .put("rangeSets", sets);
    if (!pool.policy().isNone()) {
      out.put("rules", rulesJson(pool.policy()));
    }
    if (status.hasBlocks()) {
      JsonArray blocks = new JsonArray();
      for (BlockUsage b : status.blocks()) {
        blocks.add(new JsonObject().put("rangeSet", b.rangeSet()).put("block", b.block().toString())
            .put("node", b.owner().isEmpty() ? null : b.owner()).put("used", b.used())
            .put("free", unsigned(b.free())).put("utilisation", ratio(b.used(), b.free())));
      }
      JsonArray nodes = new JsonArray();
      for (NodeUsage n : status.nodes()) {
        nodes.add(new JsonObject().put("node", n.node().isEmpty() ? null : n.node())
            .put("rangeSet", n.rangeSet()).put("blocks", n.blocks()).put("used", n.used())
            .put("free", unsigned(n.free())).put("utilisation", ratio(n.used(), n.free())));
      }
      out.put("blocks", blocks).put("nodes", nodes);
    }
    return out;
  }

  /** JSON's utilisation: the share in 4 decimals (the counts beside it are exact). */
  static double ratio(long used, long free) {
    return Math.round(share(used, free) * 10000) / 10000.0;
  }

  static final String USAGE_HEADER = String.format("%-16s %-4s %12s %22s  %s", "POOL", "SET", "USED", "FREE",
      "UTILISATION");

  /** The text of one pool's usage: a line per range set, then per block and per node when there are blocks. */
  static void usageText(PrintWriter out, PoolStatus status) {
    Pool p = status.pool();
    PoolUsage u = status.usage();
    for (int i = 0; i < p.rangeSets().size(); i++) {
      out.println(String.format("%-16s %-4d %12d %22s  %s", e(p.name()), i, u.allocated().get(i),
          count(u.free().get(i)), bar(u.allocated().get(i), u.free().get(i))));
    }
    blocksText(out, status);
  }

  /** Per block and per node, when the store has blocks; nothing otherwise. */
  static void blocksText(PrintWriter out, PoolStatus status) {
    if (!status.hasBlocks()) {
      return;
    }
    out.println(String.format("  %-43s %-4s %-24s %8s %8s  %s", "BLOCK", "SET", "NODE", "USED", "FREE", "UTILISATION"));
    for (BlockUsage x : status.blocks()) {
      out.println(String.format("  %-43s %-4d %-24s %8d %8s  %s", x.block(), x.rangeSet(),
          x.owner().isEmpty() ? "(no owner)" : e(x.owner()), x.used(), count(x.free()), bar(x.used(), x.free())));
    }
    out.println(String.format("  %-24s %-4s %6s %8s %8s  %s", "NODE", "SET", "BLOCKS", "USED", "FREE", "UTILISATION"));
    for (NodeUsage x : status.nodes()) {
      out.println(String.format("  %-24s %-4d %6d %8d %8s  %s", x.node().isEmpty() ? "(no owner)" : e(x.node()),
          x.rangeSet(), x.blocks(), x.used(), count(x.free()), bar(x.used(), x.free())));
    }
  }

  /**
   * A usage error (exit 2) when {@code what}, an ADDRESS|CONTAINERID[/IFNAME] argument, names no
   * container: an empty argument, or an empty container ID before the slash, is an empty filter,
   * which matches every allocation (a script's {@code release "$CID" --yes} with CID unset released
   * every address of every pool).
   */
  static void requireTarget(picocli.CommandLine line, String what) {
    if (what.isEmpty() || what.startsWith("/")) {
      throw new picocli.CommandLine.ParameterException(line, "ADDRESS|CONTAINERID[/IFNAME] " + e(what)
          + " names no address and no container");
    }
  }

  /** The allocations an argument names: an address, or containerID[/ifname] ({@link #requireTarget}). */
  static Map<Pool, List<ListPages.Listed>> matching(Backend store, String what) {
    if (what.isEmpty()) {
      throw new IllegalArgumentException("an empty argument would match every allocation");
    }
    IpAddress address = IpAddress.tryParse(what);
    String containerId = what;
    String ifname = null;
    int slash = what.indexOf('/');
    if (address == null && slash > 0) {
      containerId = what.substring(0, slash);
      ifname = what.substring(slash + 1);
    }
    Map<Pool, List<ListPages.Listed>> out = new java.util.LinkedHashMap<>();
    for (Pool p : Jipamctl.Base.pools(store, null)) {
      List<ListPages.Listed> found = new ArrayList<>();
      if (address != null) {
        for (ListPages.Listed a : store.list(p, ListPages.Filter.ALL)) {
          if (a.allocation().address().equals(address)) {
            found.add(a);
          }
        }
      } else {
        found.addAll(store.list(p, new ListPages.Filter(containerId, ifname == null ? "" : ifname, "", "", "")));
      }
      if (!found.isEmpty()) {
        out.put(p, found);
      }
    }
    return out;
  }

  /** release's and gc's JSON answer after releasing: {"dryRun": false, "released": [ALLOCATION]}. */
  static JsonObject released(JsonArray allocations) {
    return released(false, allocations);
  }

  /** release's and gc's JSON answer to a dry run: {"dryRun": true, "released": [ALLOCATION]}. */
  static JsonObject wouldRelease(JsonArray allocations) {
    return released(true, allocations);
  }

  /** release's and gc's JSON answer: {"dryRun": bool, "released": [ALLOCATION]}. */
  static JsonObject released(boolean dryRun, JsonArray allocations) {
    return new JsonObject().put("dryRun", dryRun).put("released", allocations);
  }
}
