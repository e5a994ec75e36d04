package io.jipam.ctl;

import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.server.RemoteStore;
import io.jipam.server.v1.ListRequest;
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

  static String bar(long used, long free) {
    double total = (double) used + (free < 0 ? 1.8446744073709552E19 : (double) free);
    double ratio = total == 0 ? 0 : used / total;
    int filled = (int) Math.round(ratio * 20);
    return "[" + "#".repeat(filled) + ".".repeat(20 - filled) + "] " + String.format("%5.1f%%", ratio * 100);
  }

  static String unsigned(long v) {
    return Long.toUnsignedString(v);
  }

  static JsonObject json(Allocation a, String pool) {
    return new JsonObject().put("pool", pool).put("address", a.address().toString())
        .put("rangeSet", a.rangeSetIndex()).put("containerId", a.attachment().containerId())
        .put("ifname", a.attachment().ifname()).put("podNamespace", a.pod().namespace())
        .put("podName", a.pod().name());
  }

  static String text(Allocation a, String pool) {
    return String.format("%-16s %-39s %-40s %s", pool, a.address(), a.attachment(), a.pod());
  }

  static JsonObject usageJson(Pool pool, PoolUsage usage) {
    JsonArray sets = new JsonArray();
    for (int i = 0; i < pool.rangeSets().size(); i++) {
      sets.add(new JsonObject().put("index", i).put("ranges", ranges(pool.rangeSets().get(i)))
          .put("used", usage.allocated().get(i)).put("free", unsigned(usage.free().get(i))));
    }
    return new JsonObject().put("pool", pool.name()).put("order", pool.order().configName()).put("rangeSets", sets);
  }

  /** The allocations an argument names: an address, or containerID[/ifname]. */
  static Map<Pool, List<Allocation>> matching(RemoteStore store, String what) {
    IpAddress address = IpAddress.tryParse(what);
    String containerId = what;
    String ifname = null;
    int slash = what.indexOf('/');
    if (address == null && slash > 0) {
      containerId = what.substring(0, slash);
      ifname = what.substring(slash + 1);
    }
    Map<Pool, List<Allocation>> out = new java.util.LinkedHashMap<>();
    for (Pool p : Jipamctl.Base.pools(store, null)) {
      List<Allocation> found = new ArrayList<>();
      if (address != null) {
        for (Allocation a : store.list(p)) {
          if (a.address().equals(address)) {
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

  @Command(name = "pools", mixinStandardHelpOptions = true, description = "The pools jipamd serves: ranges, used, free.")
  static final class Pools extends Jipamctl.Base {
    @Override
    int run(RemoteStore store, boolean json) {
      JsonArray all = new JsonArray();
      for (RemoteStore.PoolStatus p : store.pools()) {
        if (json) {
          all.add(usageJson(p.pool(), p.usage()));
          continue;
        }
        out().println(p.pool().name() + " (" + p.pool().order().configName() + ")");
        for (int i = 0; i < p.pool().rangeSets().size(); i++) {
          long used = p.usage().allocated().get(i);
          long free = p.usage().free().get(i);
          out().println("  set " + i + ": " + ranges(p.pool().rangeSets().get(i)) + "  used " + used + "  free "
              + unsigned(free) + "  " + bar(used, free));
        }
      }
      if (json) {
        out().println(all.encodePrettily());
      }
      return 0;
    }
  }

  @Command(name = "usage", mixinStandardHelpOptions = true, description = "Utilisation per pool and range set.")
  static final class Usage extends Jipamctl.Base {
    @Option(names = "--pool", description = "only this pool") String pool;

    @Override
    int run(RemoteStore store, boolean json) {
      JsonArray all = new JsonArray();
      if (!json) {
        out().println(String.format("%-16s %-4s %12s %22s  %s", "POOL", "SET", "USED", "FREE", "UTILISATION"));
      }
      for (Pool p : pools(store, pool)) {
        PoolUsage u = store.usage(p);
        if (json) {
          all.add(usageJson(p, u));
          continue;
        }
        for (int i = 0; i < p.rangeSets().size(); i++) {
          out().println(String.format("%-16s %-4d %12d %22s  %s", p.name(), i, u.allocated().get(i),
              unsigned(u.free().get(i)), bar(u.allocated().get(i), u.free().get(i))));
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

    @Override
    int run(RemoteStore store, boolean json) {
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
      JsonArray all = new JsonArray();
      if (!json) {
        out().println(String.format("%-16s %-39s %-40s %s", "POOL", "ADDRESS", "ATTACHMENT", "POD"));
      }
      for (Pool p : pools(store, pool)) {
        for (Allocation a : store.list(p, q.build())) {
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
    int run(RemoteStore store, boolean json) {
      Map<Pool, List<Allocation>> found = matching(store, what);
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
        spec.commandLine().getErr().println("jipamctl: nothing allocated matches " + what);
        return 1;
      }
      return 0;
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Audit every pool: an address held twice, an attachment with two addresses in one range set,"
          + " an address outside every range set. Exit 1 when anything is found.")
  static final class Check extends Jipamctl.Base {
    @Override
    int run(RemoteStore store, boolean json) {
      List<String> findings = new ArrayList<>();
      int pools = 0;
      long allocations = 0;
      for (Pool p : pools(store, null)) {
        pools++;
        Map<IpAddress, Attachment> byAddress = new HashMap<>();
        Map<String, IpAddress> bySet = new HashMap<>();
        for (Allocation a : store.list(p)) {
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
      if (json) {
        out().println(new JsonObject().put("pools", pools).put("allocations", allocations)
            .put("findings", new JsonArray(findings)).encodePrettily());
      } else {
        findings.forEach(f -> out().println(f));
        out().println("checked " + pools + " pools, " + allocations + " allocations: "
            + (findings.isEmpty() ? "clean" : findings.size() + " findings"));
      }
      return findings.isEmpty() ? 0 : 1;
    }
  }
}
