package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;

import io.jipam.api.v1.PoolAllocations;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
        out().println((r.getDryRun() ? "would release " : "released ") + Formats.text(a, p.getPool()));
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
        released.add(Formats.json(a, p.getPool()));
      }
    }
    return new JsonObject().put("dryRun", r.getDryRun()).put("lastSeen", r.getLastSeen().isEmpty() ? null : r.getLastSeen())
        .put("looksAlive", r.getLooksAlive()).put("forced", r.getForced()).put("fenced", r.getFenced())
        .put("wouldRefuse", r.getWouldRefuse()).put("released", released)
        .put("blocksDeleted", r.getBlocksDeleted()).put("blocksOrphaned", r.getBlocksOrphaned())
        .put("affinitiesRemoved", r.getAffinitiesRemoved());
  }
}
