package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import io.jipam.core.store.capability.ListPages;

import io.jipam.client.RemoteStore;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Audit every pool: an address held twice, an attachment with two addresses in one range set,"
        + " an address outside every range set; on etcd also blocks and handles that disagree. Exit 1 when anything"
        + " is found.")
final class Check extends Jipamctl.Base {
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
    // a network's pools (its own and its sub-pools, "<network>+<name>") share its address space:
    // an address held in two of them is two pods on one address (the stores refuse to make one;
    // data written before they did, or by a store in another process racing on another config)
    Map<String, Map<IpAddress, String>> byNetwork = new HashMap<>();
    for (Pool p : Jipamctl.Base.pools(store, null)) {
      pools++;
      findings.addAll(store.audit(p));
      Map<IpAddress, String> inNetwork = byNetwork.computeIfAbsent(Pool.networkOf(p.name()), k -> new HashMap<>());
      Map<IpAddress, Attachment> byAddress = new HashMap<>();
      Map<String, IpAddress> bySet = new HashMap<>();
      for (ListPages.Listed l : store.list(p, ListPages.Filter.ALL)) {
        Allocation a = l.allocation();
        allocations++;
        Attachment before = byAddress.putIfAbsent(a.address(), a.attachment());
        if (before != null) {
          findings.add(p.name() + ": " + a.address() + " is held by " + Formats.plain(before) + " and "
              + Formats.plain(a.attachment()));
        } else {
          String here = "pool " + p.name() + " by " + Formats.plain(a.attachment());
          String elsewhere = inNetwork.putIfAbsent(a.address(), here);
          if (elsewhere != null) {
            findings.add(a.address() + " is held in " + elsewhere + " and in " + here + ": pools of one network");
          }
        }
        int set = p.rangeSetIndexOf(a.address());
        if (set < 0) {
          findings.add(p.name() + ": " + a.address() + " held by " + Formats.plain(a.attachment())
              + " is in no range set");
          continue;
        }
        IpAddress other = bySet.putIfAbsent(a.attachment() + "#" + set, a.address());
        if (other != null) {
          findings.add(p.name() + ": " + Formats.plain(a.attachment()) + " holds " + other + " and " + a.address()
              + " in range set " + set);
        }
      }
    }
    return new Audit(pools, allocations, findings);
  }
}
