package io.jipam.ctl;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.api.v1.PoolAllocations;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
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
import picocli.CommandLine;
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
        if (json) {
          out().println(released(dryRun, new JsonArray()).encodePrettily());
        }
        err().println("jipamctl: nothing allocated matches " + Views.e(what));
        return 1;
      }
      Map<Pool, Set<Attachment>> attachments = new java.util.LinkedHashMap<>();
      found.forEach((p, list) -> list.forEach(a -> attachments.computeIfAbsent(p, k -> new java.util.LinkedHashSet<>())
          .add(a.allocation().attachment())));
      JsonArray held = new JsonArray();
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          for (Allocation h : store.find(e.getKey(), a)) {
            held.add(Views.json(h, e.getKey().name()));
            if (!json) {
              out().println((dryRun ? "would release " : "releasing ") + Views.text(h, e.getKey().name()));
            }
          }
        }
      }
      if (dryRun) {
        if (json) {
          out().println(released(true, held).encodePrettily());
        }
        return 0;
      }
      if (!yes && !confirm(this, "release " + held.size() + " address(es)?")) {
        if (json) {
          out().println(released(false, new JsonArray()).encodePrettily());
        }
        return 1;
      }
      JsonArray done = new JsonArray();
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          store.release(e.getKey(), a).forEach(r -> done.add(Views.json(r, e.getKey().name())));
        }
      }
      if (json) {
        out().println(released(false, done).encodePrettily());
      }
      return 0;
    }
  }

  /** release's and gc's JSON answer: {"dryRun": bool, "released": [ALLOCATION]}. */
  static JsonObject released(boolean dryRun, JsonArray allocations) {
    return new JsonObject().put("dryRun", dryRun).put("released", allocations);
  }

  /**
   * Asks on stderr (stdout stays the command's output, JSON included) and reads one line from
   * stdin; only {@code y} or {@code yes} is a yes. Closed stdin (a script, cron) is a no, said
   * on stderr.
   */
  static boolean confirm(Jipamctl.Base command, String question) throws IOException {
    command.err().print(question + " [y/N] ");
    command.err().flush();
    String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    boolean yes = line != null && (line.trim().equalsIgnoreCase("y") || line.trim().equalsIgnoreCase("yes"));
    if (!yes) {
      command.err().println();
      command.err().println("jipamctl: nothing released" + (line == null ? " (stdin is closed; --yes releases"
          + " without asking)" : ""));
    }
    return yes;
  }

  @Command(name = "gc", mixinStandardHelpOptions = true,
      description = {"Release every allocation of a pool whose attachment is not listed as valid.",
          "Shows what would go and asks first (--yes: do not ask); an empty valid list needs --allow-empty."})
  static final class Gc extends Jipamctl.Base {
    @Option(names = "--pool", required = true) String pool;
    @Option(names = "--valid", required = true, paramLabel = "FILE",
        description = "valid attachments, one containerID/ifname per line ('#' starts a comment)") Path valid;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;
    @Option(names = "--yes", description = "do not ask") boolean yes;
    @Option(names = "--allow-empty", description = "accept a valid list naming no attachment: release every"
        + " allocation of the pool") boolean allowEmpty;

    @Override
    int run(Backend store, boolean json) throws IOException {
      Set<Attachment> keep = readValid();
      if (keep.isEmpty() && !allowEmpty) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Views.e(valid) + " names no"
            + " attachment: gc would release every allocation of pool " + Views.e(pool)
            + "; give --allow-empty if that is meant");
      }
      Pool p = pools(store, pool).get(0);
      List<Allocation> gone = store.retainOnlyPreview(p, keep);
      if (!dryRun && !gone.isEmpty() && !yes) {
        for (Allocation a : gone) {
          err().println("would release " + Views.text(a, p.name()));
        }
        if (!confirm(this, "release these " + gone.size() + " allocation(s) of pool " + Views.e(p.name()) + "?")) {
          if (json) {
            out().println(released(false, new JsonArray()).encodePrettily());
          }
          return 1;
        }
      }
      if (!dryRun && !gone.isEmpty()) {
        gone = store.retainOnly(p, keep);
      }
      JsonArray list = new JsonArray();
      for (Allocation a : gone) {
        if (json) {
          list.add(Views.json(a, p.name()));
        } else {
          out().println((dryRun ? "would release " : "released ") + Views.text(a, p.name()));
        }
      }
      if (json) {
        out().println(released(dryRun, list).encodePrettily());
      }
      return 0;
    }

    private Set<Attachment> readValid() {
      List<String> lines;
      try {
        lines = Files.readAllLines(valid);
      } catch (IOException | java.io.UncheckedIOException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Views.e(valid) + ": cannot read: "
            + (e instanceof java.nio.file.NoSuchFileException ? "no such file"
            : e instanceof java.nio.charset.CharacterCodingException ? "not UTF-8 text" : Views.e(e)));
      }
      Set<Attachment> keep = new HashSet<>();
      int n = 0;
      for (String line : lines) {
        n++;
        String t = line.trim();
        if (t.isEmpty() || t.startsWith("#")) {
          continue;
        }
        int slash = t.indexOf('/');
        if (slash <= 0) {
          throw IpamException.invalidConfig("%s line %d \"%s\" is not containerID/ifname", valid, n, Views.e(t));
        }
        keep.add(new Attachment(t.substring(0, slash), t.substring(slash + 1)));
      }
      return keep;
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
