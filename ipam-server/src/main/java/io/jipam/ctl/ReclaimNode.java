package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "reclaim-node", mixinStandardHelpOptions = true,
    description = {"Fence a node that is gone and release everything it held (etcd store).",
        "A node that committed within the quiet period is refused unless --force."})
final class ReclaimNode extends Jipamctl.Base {
  @Parameters(paramLabel = "NODE") String node;
  @Option(names = "--force", description = "reclaim even a node that looks alive (you know it is gone)") boolean force;
  @Option(names = "--dry-run", description = "print what the node holds and whether the reclaim would be refused; "
      + "change nothing (exit 1 when it would be refused)") boolean dryRun;
  /** Not given: null, the default 600 s (docs/service.md); given, at least 1 (the store's own bound). */
  @Option(names = "--quiet-period", paramLabel = "SECONDS",
      description = "a node seen within this many seconds looks alive: 1 or more (default: 600)") Integer quietSeconds;

  @Override
  void checkUsage() {
    nodeName(node, "NODE");
    if (quietSeconds != null && quietSeconds < 1) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--quiet-period " + quietSeconds
          + ": give 1 or more seconds (without it: 600)");
    }
  }

  @Override
  int run(Backend store, boolean json) {
    ReclaimPolicy policy = new ReclaimPolicy(quietSeconds == null ? ReclaimPolicy.DEFAULT_QUIET_PERIOD
        : Duration.ofSeconds(quietSeconds), force);
    Result r;
    try {
      r = dryRun ? Result.of(store.previewReclaim(node, policy), policy) : Result.of(store.reclaimNode(node, policy));
    } catch (IpamException e) {
      if (e.code() == ErrorCode.NOT_AVAILABLE) {
        // one line, as every refusal; under -o json a document too, as every command
        spec.commandLine().getErr().println("jipamctl: " + Jipamctl.message(e.getMessage() + "; node " + node
            + " not reclaimed: if you know it is gone, run the same command with --force"));
        if (json) {
          out().println(new io.vertx.core.json.JsonObject().put("node", node).put("reclaimed", false)
              .put("refused", e.getMessage()).encodePrettily());
        }
        return 1;
      }
      throw e;
    }
    if (json) {
      out().println(json(r).encodePrettily());
    } else {
      text(r);
    }
    return r.wouldRefuse() ? 1 : 0;
  }

  /**
   * What a reclaim or its dry run answered, as printed: a reclaim reads {@code looksAlive} as
   * {@code forced} (it went on although the node looked alive) and is never refused nor fenced
   * before; a dry run is {@code forced} when the node looks alive, is not fenced and the policy
   * forces, and deletes nothing.
   */
  private record Result(boolean dryRun, Instant lastSeen, boolean looksAlive, boolean forced, boolean fenced,
      boolean wouldRefuse, Map<String, List<Allocation>> released, int blocksDeleted, int blocksOrphaned,
      int affinitiesRemoved) {

    static Result of(ReclaimReport r) {
      return new Result(false, r.lastSeen(), r.forced(), r.forced(), false, false, r.released(), r.blocksDeleted(),
          r.blocksOrphaned(), r.affinitiesRemoved());
    }

    static Result of(ReclaimPreview p, ReclaimPolicy policy) {
      return new Result(true, p.lastSeen(), p.looksAlive(), p.looksAlive() && !p.fenced() && policy.force(),
          p.fenced(), p.refused(policy), p.held(), 0, 0, 0);
    }
  }

  private void text(Result r) {
    String seen = r.lastSeen() == null ? "never seen committing" : "last seen " + r.lastSeen();
    if (r.dryRun()) {
      out().println("node " + node + ": " + seen + (r.looksAlive() ? ", within the quiet period (looks alive)" : "")
          + (r.fenced() ? ", fenced already" : ""));
      out().println(r.wouldRefuse() ? "a reclaim would be refused (nothing would change); --force overrides"
          : "a reclaim would " + (r.forced() ? "be forced and " : "") + "fence it and release:");
    } else {
      out().println("node " + node + ": " + seen + (r.forced() ? ", forced" : "") + "; fenced (jipamctl lift-fence "
          + node + " lets it allocate again)");
    }
    r.released().forEach((pool, list) -> list.forEach(a ->
        out().println((r.dryRun() ? "would release " : "released ") + Formats.text(a, pool))));
    if (!r.dryRun()) {
      out().println("blocks deleted " + r.blocksDeleted() + ", orphaned " + r.blocksOrphaned()
          + ", affinities removed " + r.affinitiesRemoved());
    }
  }

  private static JsonObject json(Result r) {
    JsonArray released = new JsonArray();
    r.released().forEach((pool, list) -> list.forEach(a -> released.add(Formats.json(a, pool))));
    return new JsonObject().put("dryRun", r.dryRun())
        .put("lastSeen", r.lastSeen() == null ? null : r.lastSeen().toString())
        .put("looksAlive", r.looksAlive()).put("forced", r.forced()).put("fenced", r.fenced())
        .put("wouldRefuse", r.wouldRefuse()).put("released", released)
        .put("blocksDeleted", r.blocksDeleted()).put("blocksOrphaned", r.blocksOrphaned())
        .put("affinitiesRemoved", r.affinitiesRemoved());
  }
}
