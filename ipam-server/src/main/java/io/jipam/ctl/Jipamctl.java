package io.jipam.ctl;

import io.jipam.core.IpamException;
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
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code jipamctl}: looks at and repairs the pools a jipamd serves. Glue over {@link RemoteStore}:
 * every command is one or a few jipam.v1 calls. Exit codes: 0 done (for {@code check}: nothing
 * found), 1 a call failed or {@code check} found something, 2 bad usage.
 */
@Command(name = "jipamctl", mixinStandardHelpOptions = true, version = "jipamctl 0.1.0",
    description = "Operator CLI for jipamd: pools, usage, list, show, release, gc, reclaim-node, check.",
    subcommands = {Jipamctl.Pools.class, Jipamctl.Usage.class, Jipamctl.ListCmd.class, Jipamctl.Show.class,
        Jipamctl.Release.class, Jipamctl.Gc.class, Jipamctl.ReclaimNode.class, Jipamctl.Check.class})
public final class Jipamctl {
  @Mixin Connection connection;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Jipamctl());
    cl.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof IpamException ipam) {
        line.getErr().println("jipamctl: " + ipam.code() + " (CNI " + ipam.code().cniCode() + "): " + ipam.getMessage());
        return 1;
      }
      throw e;
    });
    return cl;
  }

  /** Where jipamd is and how to print: shared by every command. */
  static final class Connection {
    @Option(scope = CommandLine.ScopeType.INHERIT, names = {"-s", "--server"}, paramLabel = "ADDRESS", defaultValue = "unix:/run/jipam/jipam.sock",
        description = "jipamd: unix:/path or host:port (default: ${DEFAULT-VALUE})")
    String server;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--ca", paramLabel = "FILE", description = "TCP: CA (PEM) that signed jipamd's certificate")
    Path ca;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--cert", paramLabel = "FILE", description = "TCP: client certificate (PEM) for mutual TLS")
    Path cert;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--key", paramLabel = "FILE", description = "TCP: client key (PEM)")
    Path key;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--insecure", description = "TCP: plain, without TLS")
    boolean insecure;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--timeout", paramLabel = "SECONDS", defaultValue = "5", description = "per call (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text", description = "text or json")
    String output;

    RemoteStore open() {
      RemoteStore.Target target = RemoteStore.Target.parse(server).withTimeout(Duration.ofSeconds(timeoutSeconds));
      if (!target.isUnix() && !insecure) {
        target = target.withTls(new RemoteStore.Tls(ca, cert, key));
      }
      return RemoteStore.connect(target);
    }

    boolean json() {
      if (!output.equals("json") && !output.equals("text")) {
        throw IpamException.invalidConfig("-o %s: use text or json", output);
      }
      return output.equals("json");
    }
  }

  /** Base of the commands: the connection, the output, and pool lookup by name. */
  abstract static class Base implements Callable<Integer> {
    @ParentCommand Jipamctl parent;
    @Spec CommandLine.Model.CommandSpec spec;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    @Override
    public Integer call() throws Exception {
      boolean json = parent.connection.json();
      try (RemoteStore store = parent.connection.open()) {
        return run(store, json);
      }
    }

    abstract int run(RemoteStore store, boolean json) throws Exception;

    static List<Pool> pools(RemoteStore store, String only) {
      List<Pool> out = new ArrayList<>();
      for (RemoteStore.PoolStatus p : store.pools()) {
        if (only == null || p.pool().name().equals(only)) {
          out.add(p.pool());
        }
      }
      if (only != null && out.isEmpty()) {
        throw IpamException.invalidConfig("jipamd serves no pool named \"%s\" (it knows a pool once a call named it)", only);
      }
      return out;
    }
  }

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

  @Command(name = "pools", mixinStandardHelpOptions = true, description = "The pools jipamd serves: ranges, used, free.")
  static final class Pools extends Base {
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
  static final class Usage extends Base {
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
  static final class ListCmd extends Base {
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
    for (Pool p : Base.pools(store, null)) {
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

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Who holds an address, or what an attachment holds.")
  static final class Show extends Base {
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

  @Command(name = "release", mixinStandardHelpOptions = true,
      description = "Release an address (its whole attachment) or an attachment's addresses.")
  static final class Release extends Base {
    @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;
    @Option(names = "--yes", description = "do not ask") boolean yes;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

    @Override
    int run(RemoteStore store, boolean json) throws IOException {
      Map<Pool, List<Allocation>> found = matching(store, what);
      if (found.isEmpty()) {
        spec.commandLine().getErr().println("jipamctl: nothing allocated matches " + what);
        return 1;
      }
      Map<Pool, Set<Attachment>> attachments = new java.util.LinkedHashMap<>();
      found.forEach((p, list) -> list.forEach(a -> attachments.computeIfAbsent(p, k -> new java.util.LinkedHashSet<>())
          .add(a.attachment())));
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          for (Allocation held : store.find(e.getKey(), a)) {
            out().println((dryRun ? "would release " : "releasing ") + text(held, e.getKey().name()));
          }
        }
      }
      if (dryRun) {
        return 0;
      }
      if (!yes && !confirm()) {
        spec.commandLine().getErr().println("jipamctl: not released");
        return 1;
      }
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          store.release(e.getKey(), a);
        }
      }
      return 0;
    }

    private boolean confirm() throws IOException {
      out().print("release? [y/N] ");
      out().flush();
      String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
      return line != null && (line.trim().equalsIgnoreCase("y") || line.trim().equalsIgnoreCase("yes"));
    }
  }

  @Command(name = "gc", mixinStandardHelpOptions = true,
      description = "Release every allocation of a pool whose attachment is not listed as valid.")
  static final class Gc extends Base {
    @Option(names = "--pool", required = true) String pool;
    @Option(names = "--valid", required = true, paramLabel = "FILE",
        description = "valid attachments, one containerID/ifname per line") Path valid;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

    @Override
    int run(RemoteStore store, boolean json) throws IOException {
      Set<Attachment> keep = new HashSet<>();
      int n = 0;
      for (String line : Files.readAllLines(valid)) {
        n++;
        String t = line.trim();
        if (t.isEmpty() || t.startsWith("#")) {
          continue;
        }
        int slash = t.indexOf('/');
        if (slash <= 0) {
          throw IpamException.invalidConfig("%s line %d \"%s\" is not containerID/ifname", valid, n, t);
        }
        keep.add(new Attachment(t.substring(0, slash), t.substring(slash + 1)));
      }
      Pool p = pools(store, pool).get(0);
      List<Allocation> gone;
      if (dryRun) {
        gone = new ArrayList<>();
        for (Allocation a : store.list(p)) {
          if (!keep.contains(a.attachment())) {
            gone.add(a);
          }
        }
      } else {
        gone = store.retainOnly(p, keep);
      }
      for (Allocation a : gone) {
        out().println((dryRun ? "would release " : "released ") + text(a, p.name()));
      }
      return 0;
    }
  }

  @Command(name = "reclaim-node", mixinStandardHelpOptions = true,
      description = "Release everything a node that is gone held (etcd store).")
  static final class ReclaimNode extends Base {
    @Parameters(paramLabel = "NODE") String node;
    @Option(names = "--dry-run", description = "not supported yet: refused") boolean dryRun;

    @Override
    int run(RemoteStore store, boolean json) {
      if (dryRun) {
        throw new IpamException(io.jipam.core.ErrorCode.UNSUPPORTED_FIELD,
            "reclaim-node --dry-run is not supported: the API has no per-node listing yet");
      }
      Map<String, List<Allocation>> released = store.reclaimNode(node);
      released.forEach((pool, list) -> list.forEach(a -> out().println("released " + text(a, pool))));
      return 0;
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Audit every pool: an address held twice, an attachment with two addresses in one range set,"
          + " an address outside every range set. Exit 1 when anything is found.")
  static final class Check extends Base {
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
