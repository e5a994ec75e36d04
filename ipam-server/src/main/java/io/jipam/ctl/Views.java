package io.jipam.ctl;

import io.jipam.client.RemoteStore;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.Printable;
import io.jipam.api.v1.BlockUsage;
import io.jipam.api.v1.Blocks;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.NodeUsage;
import io.jipam.api.v1.UsageResponse;
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
 * jipamctl's commands that only read (pools, usage, list, show, check) and the formatting they
 * share with the commands that change something ({@link Changes}).
 */
final class Views {
  private Views() {}

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

  static JsonObject json(Allocation a, String pool) {
    return new JsonObject().put("pool", pool).put("address", a.address().toString())
        .put("rangeSet", a.rangeSetIndex()).put("containerId", a.attachment().containerId())
        .put("ifname", a.attachment().ifname()).put("podNamespace", a.pod().namespace())
        .put("podName", a.pod().name());
  }

  static JsonObject json(RemoteStore.Listed l, String pool) {
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

  static String text(RemoteStore.Listed l, String pool) {
    return String.format("%-16s %-39s %-40s %-24s %s", e(pool), l.allocation().address(),
        e(l.allocation().attachment()), e(l.allocation().pod()), l.node().isEmpty() ? "-" : e(l.node()));
  }

  static final String LIST_HEADER = String.format("%-16s %-39s %-40s %-24s %s", "POOL", "ADDRESS", "ATTACHMENT", "POD",
      "NODE");

  static PoolUsage usage(UsageResponse r) {
    List<Long> used = new ArrayList<>();
    List<Long> free = new ArrayList<>();
    r.getRangeSetsList().forEach(u -> {
      used.add(u.getAllocated());
      free.add(u.getFree());
    });
    return new PoolUsage(used, free);
  }

  static JsonObject usageJson(Pool pool, UsageResponse r) {
    PoolUsage usage = usage(r);
    JsonArray sets = new JsonArray();
    for (int i = 0; i < pool.rangeSets().size(); i++) {
      long used = usage.allocated().get(i);
      long free = usage.free().get(i);
      sets.add(new JsonObject().put("index", i).put("ranges", ranges(pool.rangeSets().get(i)))
          .put("used", used).put("free", unsigned(free)).put("utilisation", ratio(used, free)));
    }
    JsonObject out = new JsonObject().put("pool", pool.name()).put("order", pool.order().configName())
        .put("rangeSets", sets);
    if (r.hasBlocks()) {
      JsonArray blocks = new JsonArray();
      for (BlockUsage b : r.getBlocks().getBlocksList()) {
        blocks.add(new JsonObject().put("rangeSet", b.getRangeSetIndex()).put("block", b.getCidr())
            .put("node", b.getNode().isEmpty() ? null : b.getNode()).put("used", b.getAllocated())
            .put("free", unsigned(b.getFree())).put("utilisation", ratio(b.getAllocated(), b.getFree())));
      }
      JsonArray nodes = new JsonArray();
      for (NodeUsage n : r.getBlocks().getNodesList()) {
        nodes.add(new JsonObject().put("node", n.getNode().isEmpty() ? null : n.getNode())
            .put("rangeSet", n.getRangeSetIndex()).put("blocks", n.getBlocks()).put("used", n.getAllocated())
            .put("free", unsigned(n.getFree())).put("utilisation", ratio(n.getAllocated(), n.getFree())));
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
  static void usageText(PrintWriter out, Pool p, UsageResponse r) {
    PoolUsage u = usage(r);
    for (int i = 0; i < p.rangeSets().size(); i++) {
      out.println(String.format("%-16s %-4d %12d %22s  %s", e(p.name()), i, u.allocated().get(i),
          count(u.free().get(i)), bar(u.allocated().get(i), u.free().get(i))));
    }
    blocksText(out, r);
  }

  /** Per block and per node, when the answer has blocks; nothing otherwise. */
  static void blocksText(PrintWriter out, UsageResponse r) {
    if (!r.hasBlocks()) {
      return;
    }
    Blocks b = r.getBlocks();
    out.println(String.format("  %-43s %-4s %-24s %8s %8s  %s", "BLOCK", "SET", "NODE", "USED", "FREE", "UTILISATION"));
    for (BlockUsage x : b.getBlocksList()) {
      out.println(String.format("  %-43s %-4d %-24s %8d %8s  %s", x.getCidr(), x.getRangeSetIndex(),
          x.getNode().isEmpty() ? "(no owner)" : e(x.getNode()), x.getAllocated(), count(x.getFree()),
          bar(x.getAllocated(), x.getFree())));
    }
    out.println(String.format("  %-24s %-4s %6s %8s %8s  %s", "NODE", "SET", "BLOCKS", "USED", "FREE", "UTILISATION"));
    for (NodeUsage x : b.getNodesList()) {
      out.println(String.format("  %-24s %-4d %6d %8d %8s  %s", x.getNode().isEmpty() ? "(no owner)" : e(x.getNode()),
          x.getRangeSetIndex(), x.getBlocks(), x.getAllocated(), count(x.getFree()),
          bar(x.getAllocated(), x.getFree())));
    }
  }

  /** The allocations an argument names: an address, or containerID[/ifname]. */
  static Map<Pool, List<RemoteStore.Listed>> matching(Backend store, String what) {
    IpAddress address = IpAddress.tryParse(what);
    String containerId = what;
    String ifname = null;
    int slash = what.indexOf('/');
    if (address == null && slash > 0) {
      containerId = what.substring(0, slash);
      ifname = what.substring(slash + 1);
    }
    Map<Pool, List<RemoteStore.Listed>> out = new java.util.LinkedHashMap<>();
    for (Pool p : Jipamctl.Base.pools(store, null)) {
      List<RemoteStore.Listed> found = new ArrayList<>();
      if (address != null) {
        for (RemoteStore.Listed a : store.list(p, ListRequest.getDefaultInstance())) {
          if (a.allocation().address().equals(address)) {
            found.add(a);
          }
        }
      } else {
        ListRequest.Builder q = ListRequest.newBuilder().setContainerId(containerId);
        if (ifname != null) {
          q.setIfname(ifname);
        }
        found.addAll(store.list(p, q.build()));
      }
      if (!found.isEmpty()) {
        out.put(p, found);
      }
    }
    return out;
  }

  @Command(name = "pools", mixinStandardHelpOptions = true,
      description = "The pools: ranges, used, free, utilisation per range set; per block and node where there are blocks.")
  static final class Pools extends Jipamctl.Base {
    @Override
    int run(Backend store, boolean json) {
      JsonArray all = new JsonArray();
      for (Pool p : store.pools()) {
        UsageResponse r = store.usage(p);
        if (json) {
          all.add(usageJson(p, r));
          continue;
        }
        PoolUsage u = usage(r);
        out().println(e(p.name()) + " (" + p.order().configName() + ")");
        for (int i = 0; i < p.rangeSets().size(); i++) {
          long used = u.allocated().get(i);
          long free = u.free().get(i);
          out().println("  set " + i + ": " + ranges(p.rangeSets().get(i)) + "  used " + used + "  free "
              + count(free) + "  " + bar(used, free));
        }
        blocksText(out(), r);
      }
      if (json) {
        out().println(all.encodePrettily());
      }
      return 0;
    }
  }

  @Command(name = "usage", mixinStandardHelpOptions = true,
      description = "Utilisation per pool and range set; per block and per node where the store has blocks (etcd).")
  static final class Usage extends Jipamctl.Base {
    @Option(names = "--pool", description = "only this pool") String pool;

    @Override
    int run(Backend store, boolean json) {
      JsonArray all = new JsonArray();
      if (!json) {
        out().println(USAGE_HEADER);
      }
      for (Pool p : pools(store, pool)) {
        UsageResponse r = store.usage(p);
        if (json) {
          all.add(usageJson(p, r));
        } else {
          usageText(out(), p, r);
        }
      }
      if (json) {
        out().println(all.encodePrettily());
      }
      return 0;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Allocations, filtered.")
  static final class ListCmd extends Jipamctl.Base {
    @Option(names = "--pool") String pool;
    @Option(names = "--container-id") String containerId;
    @Option(names = "--ifname") String ifname;
    @Option(names = "--pod-namespace") String podNamespace;
    @Option(names = "--pod") String podName;
    @Option(names = "--node", description = "only allocations this node made (etcd store)") String node;

    @Override
    int run(Backend store, boolean json) {
      ListRequest.Builder q = ListRequest.newBuilder();
      if (containerId != null) {
        q.setContainerId(containerId);
      }
      if (ifname != null) {
        q.setIfname(ifname);
      }
      if (podNamespace != null) {
        q.setPodNamespace(podNamespace);
      }
      if (podName != null) {
        q.setPodName(podName);
      }
      if (node != null) {
        q.setNode(nodeName(node, "--node"));
      }
      JsonArray all = new JsonArray();
      if (!json) {
        out().println(LIST_HEADER);
      }
      for (Pool p : pools(store, pool)) {
        for (RemoteStore.Listed a : store.list(p, q.build())) {
          if (json) {
            all.add(json(a, p.name()));
          } else {
            out().println(text(a, p.name()));
          }
        }
      }
      if (json) {
        out().println(all.encodePrettily());
      }
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Who holds an address, or what an attachment holds.")
  static final class Show extends Jipamctl.Base {
    @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;

    @Override
    int run(Backend store, boolean json) {
      Map<Pool, List<RemoteStore.Listed>> found = matching(store, what);
      JsonArray all = new JsonArray();
      found.forEach((p, list) -> list.forEach(a -> {
        if (json) {
          all.add(json(a, p.name()));
        } else {
          out().println(text(a, p.name()));
        }
      }));
      if (json) {
        out().println(all.encodePrettily());
      }
      if (found.isEmpty()) {
        spec.commandLine().getErr().println("jipamctl: nothing allocated matches " + e(what));
        return 1;
      }
      return 0;
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Audit every pool: an address held twice, an attachment with two addresses in one range set,"
          + " an address outside every range set; on etcd also blocks and handles that disagree. Exit 1 when anything"
          + " is found.")
  static final class Check extends Jipamctl.Base {
    @Override
    int run(Backend store, boolean json) {
      Audit a = audit(store);
      if (a.pools() == 0) {
        // nothing known is not "clean": a jipamd that has not learnt its pools, or a data dir without --conf
        if (json) {
          out().println(new JsonObject().put("pools", 0).put("allocations", 0).put("findings", new JsonArray())
              .put("checked", false).encodePrettily());
        }
        spec.commandLine().getErr().println("jipamctl: checked nothing: the store names no pool (a jipamd knows"
            + " a pool from its store or from the first call naming it; with --data-dir give the networks with"
            + " --conf)");
        return 1;
      }
      if (json) {
        out().println(new JsonObject().put("pools", a.pools()).put("allocations", a.allocations())
            .put("findings", new JsonArray(a.findings())).encodePrettily());
      } else {
        print(a, out());
      }
      return a.findings().isEmpty() ? 0 : 1;
    }
  }

  /** What {@code check} finds: the findings, and what it looked at. */
  record Audit(int pools, long allocations, List<String> findings) {}

  /** The audit of {@code check} (also run by {@code migrate} on its target); true when clean. */
  static boolean audit(Backend store, PrintWriter out, boolean json) {
    Audit a = audit(store);
    if (json) {
      out.println(new JsonObject().put("pools", a.pools()).put("allocations", a.allocations())
          .put("findings", new JsonArray(a.findings())).encodePrettily());
    } else {
      print(a, out);
    }
    return a.findings().isEmpty();
  }

  /** The audit as text: each finding, then a summary line ending in "clean" or the count. */
  static void print(Audit a, PrintWriter out) {
    a.findings().forEach(f -> out.println(e(f)));
    out.println("checked " + a.pools() + " pools, " + a.allocations() + " allocations: "
        + (a.findings().isEmpty() ? "clean" : a.findings().size() + " findings"));
  }

  static Audit audit(Backend store) {
    List<String> findings = new ArrayList<>();
    int pools = 0;
    long allocations = 0;
    for (Pool p : Jipamctl.Base.pools(store, null)) {
      pools++;
      findings.addAll(store.audit(p));
      Map<IpAddress, Attachment> byAddress = new HashMap<>();
      Map<String, IpAddress> bySet = new HashMap<>();
      for (RemoteStore.Listed l : store.list(p, ListRequest.getDefaultInstance())) {
        Allocation a = l.allocation();
        allocations++;
        Attachment before = byAddress.putIfAbsent(a.address(), a.attachment());
        if (before != null) {
          findings.add(p.name() + ": " + a.address() + " is held by " + before + " and " + a.attachment());
        }
        int set = p.rangeSetIndexOf(a.address());
        if (set < 0) {
          findings.add(p.name() + ": " + a.address() + " held by " + a.attachment() + " is in no range set");
          continue;
        }
        IpAddress other = bySet.putIfAbsent(a.attachment() + "#" + set, a.address());
        if (other != null) {
          findings.add(p.name() + ": " + a.attachment() + " holds " + other + " and " + a.address()
              + " in range set " + set);
        }
      }
    }
    return new Audit(pools, allocations, findings);
  }
}
