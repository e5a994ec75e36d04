package io.jipam.ctl;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.server.RemoteStore;
import io.jipam.server.v1.PoolAllocations;
import io.jipam.server.v1.ReclaimNodeRequest;
import io.jipam.server.v1.ReclaimNodeResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * jipamctl's commands that change allocations: release, gc, reclaim-node (each with a dry run or a
 * question first) and lift-fence.
 */
final class Changes {
  private Changes() {}

  @Command(name = "release", mixinStandardHelpOptions = true,
      description = "Release an address (its whole attachment) or an attachment's addresses.")
  static final class Release extends Jipamctl.Base {
    @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;
    @Option(names = "--yes", description = "do not ask") boolean yes;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

    @Override
    int run(Backend store, boolean json) throws IOException {
      Map<Pool, List<RemoteStore.Listed>> found = Views.matching(store, what);
      if (found.isEmpty()) {
        spec.commandLine().getErr().println("jipamctl: nothing allocated matches " + Views.e(what));
        return 1;
      }
      Map<Pool, Set<Attachment>> attachments = new java.util.LinkedHashMap<>();
      found.forEach((p, list) -> list.forEach(a -> attachments.computeIfAbsent(p, k -> new java.util.LinkedHashSet<>())
          .add(a.allocation().attachment())));
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          for (Allocation held : store.find(e.getKey(), a)) {
            out().println((dryRun ? "would release " : "releasing ") + Views.text(held, e.getKey().name()));
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
  static final class Gc extends Jipamctl.Base {
    @Option(names = "--pool", required = true) String pool;
    @Option(names = "--valid", required = true, paramLabel = "FILE",
        description = "valid attachments, one containerID/ifname per line") Path valid;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

    @Override
    int run(Backend store, boolean json) throws IOException {
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
        gone = store.retainOnlyPreview(p, keep);
      } else {
        gone = store.retainOnly(p, keep);
      }
      for (Allocation a : gone) {
        out().println((dryRun ? "would release " : "released ") + Views.text(a, p.name()));
      }
      return 0;
    }
  }

  @Command(name = "reclaim-node", mixinStandardHelpOptions = true,
      description = {"Fence a node that is gone and release everything it held (etcd store).",
          "A node that committed within the quiet period is refused unless --force."})
  static final class ReclaimNode extends Jipamctl.Base {
    @Parameters(paramLabel = "NODE") String node;
    @Option(names = "--force", description = "reclaim even a node that looks alive (you know it is gone)") boolean force;
    @Option(names = "--dry-run", description = "print what the node holds and whether the reclaim would be refused; "
        + "change nothing (exit 1 when it would be refused)") boolean dryRun;
    @Option(names = "--quiet-period", paramLabel = "SECONDS", defaultValue = "0",
        description = "a node seen within this many seconds looks alive (default: the store's, 600)") int quietSeconds;

    @Override
    int run(Backend store, boolean json) {
      nodeName(node, "NODE");
      if (quietSeconds < 0) {
        throw IpamException.invalidConfig("--quiet-period %d is negative", quietSeconds);
      }
      ReclaimNodeResponse r;
      try {
        r = store.reclaimNode(ReclaimNodeRequest.newBuilder().setNode(node).setForce(force).setDryRun(dryRun)
            .setQuietPeriodSeconds(quietSeconds).build());
      } catch (IpamException e) {
        if (e.code() == ErrorCode.NOT_AVAILABLE) {
          spec.commandLine().getErr().println("jipamctl: " + e.getMessage());
          spec.commandLine().getErr().println("jipamctl: node " + node + " not reclaimed; if you know it is gone: "
              + "jipamctl reclaim-node --force " + node);
          return 1;
        }
        throw e;
      }
      if (json) {
        out().println(json(r).encodePrettily());
      } else {
        text(r);
      }
      return r.getWouldRefuse() ? 1 : 0;
    }

    private void text(ReclaimNodeResponse r) {
      String seen = r.getLastSeen().isEmpty() ? "never seen committing" : "last seen " + r.getLastSeen();
      if (r.getDryRun()) {
        out().println("node " + node + ": " + seen + (r.getLooksAlive() ? ", within the quiet period (looks alive)" : "")
            + (r.getFenced() ? ", fenced already" : ""));
        out().println(r.getWouldRefuse() ? "a reclaim would be refused (nothing would change); --force overrides"
            : "a reclaim would " + (r.getForced() ? "be forced and " : "") + "fence it and release:");
      } else {
        out().println("node " + node + ": " + seen + (r.getForced() ? ", forced" : "") + "; fenced (jipamctl lift-fence "
            + node + " lets it allocate again)");
      }
      for (PoolAllocations p : r.getReleasedList()) {
        for (Allocation a : RemoteStore.allocations(p)) {
          out().println((r.getDryRun() ? "would release " : "released ") + Views.text(a, p.getPool()));
        }
      }
      if (!r.getDryRun()) {
        out().println("blocks deleted " + r.getBlocksDeleted() + ", orphaned " + r.getBlocksOrphaned()
            + ", affinities removed " + r.getAffinitiesRemoved());
      }
    }

    private static JsonObject json(ReclaimNodeResponse r) {
      JsonArray released = new JsonArray();
      for (PoolAllocations p : r.getReleasedList()) {
        for (Allocation a : RemoteStore.allocations(p)) {
          released.add(Views.json(a, p.getPool()));
        }
      }
      return new JsonObject().put("dryRun", r.getDryRun()).put("lastSeen", r.getLastSeen().isEmpty() ? null : r.getLastSeen())
          .put("looksAlive", r.getLooksAlive()).put("forced", r.getForced()).put("fenced", r.getFenced())
          .put("wouldRefuse", r.getWouldRefuse()).put("released", released)
          .put("blocksDeleted", r.getBlocksDeleted()).put("blocksOrphaned", r.getBlocksOrphaned())
          .put("affinitiesRemoved", r.getAffinitiesRemoved());
    }
  }

  @Command(name = "lift-fence", mixinStandardHelpOptions = true,
      description = "Remove a node's fence (left by reclaim-node), so that the node allocates again (etcd store).")
  static final class LiftFence extends Jipamctl.Base {
    @Parameters(paramLabel = "NODE") String node;

    @Override
    int run(Backend store, boolean json) {
      boolean lifted = store.liftFence(nodeName(node, "NODE"));
      if (json) {
        out().println(new JsonObject().put("node", node).put("lifted", lifted).encode());
      } else {
        out().println(lifted ? "fence of node " + node + " lifted" : "node " + node + " had no fence");
      }
      return 0;
    }
  }
}
