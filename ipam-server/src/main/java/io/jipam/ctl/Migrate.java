package io.jipam.ctl;

import io.jipam.ctl.MigratePlanner.Item;
import io.jipam.ctl.MigratePlanner.Plan;
import io.jipam.ctl.MigratePlanner.Refusal;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jipamctl migrate}: copies a node's attachments between a file data dir (host-local's
 * layout, written by host-local or jipam) and the etcd store, so that the node's pods keep their
 * addresses when the node changes stores.
 *
 * <h2>How</h2>
 * Per pool: read every attachment of the source (etcd: only those the node made), plan each
 * against the target as it is now, and refuse the whole run before writing anything when one
 * cannot be copied as it is (an address another attachment holds in the target, an attachment
 * holding other addresses there, an address in no range set of the target pool, a range set the
 * attachment has no address in, an attachment without interface name). Then each attachment is
 * one {@code allocate} of exactly its addresses (requested addresses: all or nothing per
 * attachment) with its pod, recording for each address the origin the source recorded (free,
 * sticky, ...; none where the source has none, as host-local's files), not {@code requested}. An
 * attachment already in the target with the same addresses is left as it is, so a second run
 * writes nothing. Should the target change between plan and write (an address taken
 * meanwhile), what this run wrote is released again and the run fails naming the address. A real
 * run ends with {@code check}'s audit of the target.
 *
 * <p>Stop allocating on the node for the duration (drain it, or stop its runtime's ADDs): the
 * source is read once, at the start.
 *
 * <p>Design: this class runs the command (its options, the two stores, the writes and their
 * undoing, the report); each pool's plan is {@link MigratePlanner}'s.
 *
 * <p>{@code -o json}: stdout is one JSON document, built beside the text (which then goes
 * nowhere); refusals and errors still go to stderr as in text:
 * <pre>
 * {"dryRun": bool, "wrote": bool,
 *  "pools": [{"pool": NAME, "target": TEXT (the target store, as in text),
 *             "wouldWrite" (dry run) | "written": [ITEM], "present": [ITEM],
 *             "refused": [{"address": A|null, "attachment": "ID/IF"|null, "reason": TEXT}],
 *             "notInSource": TEXT (only when the source lacks the pool),
 *             "releasedAgain": N (only when the target changed under a real run)}],
 *  "audit": null (dry run, or a pool refused) | {"clean": bool, "pools": N, "allocations": N, "findings": [TEXT]}}
 * ITEM: {"containerId", "ifname", "addresses": [A], "origins": [ORIGIN|null, one per address],
 *        "podNamespace", "podName", "node": --node or null}
 * </pre>
 */
@Command(name = "migrate", mixinStandardHelpOptions = true,
    description = {"Copy a node's attachments from a data dir into the etcd store, or from etcd into a data dir.",
        "--from/--to: a data dir (directory) or an etcd config (JSON file, as jipamd's --etcd-config).",
        "Pools come from --conf (a data dir holds no ranges). After a real run, check's audit runs on the target."})
final class Migrate extends Jipamctl.Base {
  @Option(names = "--from", required = true, paramLabel = "DATA-DIR|ETCD-CONFIG") Path from;
  @Option(names = "--to", required = true, paramLabel = "ETCD-CONFIG|DATA-DIR") Path to;
  @Option(names = "--pool", paramLabel = "NAME", description = "only this pool (default: every pool of --conf)") String pool;
  @Option(names = "--node", paramLabel = "NODE",
      description = "etcd to data dir: the node whose attachments to copy (required); data dir to etcd: the node they"
          + " are made for (default: the etcd config's node)") String node;
  @Option(names = "--dry-run", description = "print exactly what would be written; write nothing") boolean dryRun;

  /** Where the text goes: stdout, or nowhere under {@code -o json}. */
  private PrintWriter text;
  /** Plans each pool and describes its attachments ({@link #call} makes it once the text's place is known). */
  private MigratePlanner planner;

  /** Not used: migrate opens two stores itself ({@link #call}). */
  @Override
  int run(Backend store, boolean json) {
    throw new UnsupportedOperationException("migrate opens its stores in call()");
  }

  @Override
  public Integer call() {
    parent.connection.check(spec.commandLine()); // --timeout's range, as every other command
    boolean json = parent.connection.json();
    if (parent.connection.confs.isEmpty()) {
      throw usage("migrate needs --conf FILE: the network config defining the pool(s) (a data dir holds no ranges)");
    }
    boolean fromEtcd = isEtcd(from, "--from");
    boolean toEtcd = isEtcd(to, "--to");
    if (fromEtcd == toEtcd) {
      throw usage(String.format("migrate copies between a data dir and etcd: --from %s and --to %s are both %s",
          from, to, fromEtcd ? "etcd configs" : "data dirs"));
    }
    nodeName(node, "--node");
    if (fromEtcd && node == null) {
      throw usage("from etcd into a data dir: give --node NODE, the node whose attachments the data dir is to hold");
    }
    text = json ? new PrintWriter(Writer.nullWriter()) : out();
    planner = new MigratePlanner(to, node, dryRun, text, err());
    ConfPools.Definitions confs = ConfPools.load(parent.connection.confs, err());
    List<Pool> pools = new ArrayList<>();
    for (Pool p : confs.pools().values()) {
      if (pool == null || p.name().equals(pool)) {
        pools.add(p);
      }
    }
    if (pools.isEmpty()) {
      throw IpamException.invalidConfig("--conf defines no pool%s", pool == null ? "" : " named " + Printable.quote(pool));
    }
    boolean newDataDir = !toEtcd && !Files.exists(to);
    // a new data dir is made only once the source opened: a refused migrate leaves nothing behind
    try (DirectBackend source = fromEtcd ? DirectBackend.etcd(from, null, ConfPools.Definitions.NONE) : DirectBackend.dataDir(from, confs, err());
         DirectBackend target = toEtcd ? DirectBackend.etcd(to, node, confs)
             : newDataDir && dryRun ? null : DirectBackend.dataDir(created(to, newDataDir), confs, err())) {
      // every pool is planned (reading only) before any is written: a run writes all its pools or
      // none (it wrote the pools before the one refused, and left them)
      JsonArray report = new JsonArray();
      List<Plan> plans = new ArrayList<>();
      for (Pool p : pools) {
        JsonObject poolReport = new JsonObject().put("pool", p.name());
        report.add(poolReport);
        plans.add(planner.plan(p, fromEtcd ? MigratePlanner.stored(source, p) : p, fromEtcd, toEtcd, source, target, poolReport));
      }
      int failed = (int) plans.stream().filter(Plan::refused).count();
      if (failed > 0) {
        for (Plan plan : plans) {
          if (!plan.refused() && !plan.write().isEmpty()) {
            err().println("jipamctl: " + Formats.e(plan.pool().name()) + ": nothing written either: another pool"
                + " was refused, and a run writes all its pools or none");
          }
        }
      } else if (dryRun) {
        plans.forEach(this::printDryRun);
      } else {
        failed = write(plans, target) ? 0 : 1;
      }
      JsonObject doc = new JsonObject().put("dryRun", dryRun)
          .put("wrote", report.stream().anyMatch(r -> !((JsonObject) r).getJsonArray("written", new JsonArray()).isEmpty()))
          .put("pools", report).putNull("audit");
      int exit = failed > 0 ? 1 : 0;
      if (failed == 0 && !dryRun) {
        text.println("audit of " + target.describe() + ":");
        Check.Audit audit = Check.audit(target);
        Check.print(audit, text);
        doc.put("audit", new JsonObject().put("clean", audit.findings().isEmpty()).put("pools", audit.pools())
            .put("allocations", audit.allocations()).put("findings", new JsonArray(audit.findings())));
        exit = audit.findings().isEmpty() ? 0 : 1;
      }
      if (json) {
        out().println(doc.encodePrettily());
      }
      return exit;
    }
  }

  private static boolean isEtcd(Path p, String option) {
    if (Files.isDirectory(p)) {
      return false;
    }
    if (Files.isRegularFile(p)) {
      return true;
    }
    if (option.equals("--to")) {
      return false; // a data dir to be made
    }
    throw IpamException.invalidConfig("%s %s is neither a data dir nor an etcd config file", option,
        Printable.quote(p.toString()));
  }

  /** Bad usage: exit 2, as picocli's own checks. */
  private CommandLine.ParameterException usage(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /** {@code dir}, made first when {@code make}. */
  private static Path created(Path dir, boolean make) {
    if (make) {
      try {
        // as the plugin makes a data dir: its records name pods, for root's eyes only
        Files.createDirectories(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
      } catch (java.io.IOException e) {
        throw IpamException.invalidConfig("cannot create data dir %s: %s", Printable.quote(dir.toString()),
            e.getMessage());
      }
    }
    return dir;
  }

  private void printDryRun(Plan plan) {
    String name = plan.pool().name();
    plan.write().forEach(i -> plan.report().getJsonArray("wouldWrite").add(planner.json(i)));
    plan.write().forEach(i -> text.println(name + ": would write " + planner.describe(i)));
    if (plan.report().containsKey("notInSource")) {
      return;
    }
    text.println(name + ": dry run: " + plan.write().size() + " attachments would be written to " + plan.targetName()
        + ", " + plan.present().size() + " are there already; nothing written");
  }

  /**
   * Writes every plan's attachments; true when all were written as planned. When the target
   * answers one otherwise (it changed since the plan), releases again everything this run wrote,
   * in every pool, and returns false.
   */
  private boolean write(List<Plan> plans, DirectBackend target) {
    List<List<Item>> written = new ArrayList<>(); // what this run wrote, by plan (in order)
    for (Plan plan : plans) {
      Pool p = plan.pool();
      List<Item> ofPool = new ArrayList<>();
      written.add(ofPool);
      for (Item i : plan.write()) {
        AllocationOutcome o;
        try {
          o = target.allocate(p, AllocationRequest.copy(i.attachment(), i.origins(), i.pod()));
        } catch (RuntimeException e) {
          // failed or unknown (a full disk, etcd's timeout): this one may be written too
          ofPool.add(i);
          err().println("jipamctl: " + p.name() + ": writing " + Formats.e(planner.describe(i)) + " failed: "
              + Formats.e(e.getMessage() == null ? e.toString() : e.getMessage()));
          try {
            undo(plans, written, target, p);
          } catch (RuntimeException notUndone) {
            e.addSuppressed(notUndone);
            err().println("jipamctl: " + p.name() + ": could not release again what this run wrote: "
                + Formats.e(String.valueOf(notUndone.getMessage())) + "; run the same migrate again, or release them");
          }
          throw e;
        }
        if (o instanceof AllocationOutcome.Allocated got && Set.copyOf(addresses(got)).equals(Set.copyOf(i.addresses()))) {
          if (!got.existing()) {
            ofPool.add(i);
            plan.report().getJsonArray("written").add(planner.json(i));
          } else {
            plan.report().getJsonArray("present").add(planner.json(i)); // came in since the plan, as planned
          }
          text.println(p.name() + ": wrote " + planner.describe(i));
          continue;
        }
        Refusal r = new Refusal(i.addresses().get(0), i.attachment(), planner.describe(i) + ": the target answered " + o
            + " (it changed since the plan)");
        plan.report().getJsonArray("refused").add(MigratePlanner.json(r));
        err().println("jipamctl: refused: " + Formats.e(p.name() + ": " + r.reason()));
        undo(plans, written, target, p);
        return false;
      }
    }
    for (int k = 0; k < plans.size(); k++) {
      Plan plan = plans.get(k);
      if (!plan.report().containsKey("notInSource")) {
        text.println(plan.pool().name() + ": " + written.get(k).size() + " attachments written to "
            + target.describe() + ", " + plan.present().size() + " were there already");
      }
    }
    return true;
  }

  /** Releases again everything this run wrote ({@code written}, by plan), in every pool, and says so. */
  private void undo(List<Plan> plans, List<List<Item>> written, DirectBackend target, Pool at) {
    int undone = 0;
    for (int k = 0; k < written.size(); k++) {
      // released under no rules: an undone copy leaves no hold or cool-down behind
      Pool bare = plans.get(k).pool().withPolicy(io.jipam.core.store.AddressPolicy.NONE);
      for (Item undo : written.get(k)) {
        target.release(bare, undo.attachment());
      }
      plans.get(k).report().put("written", new JsonArray()).put("releasedAgain", written.get(k).size());
      undone += written.get(k).size();
    }
    err().println("jipamctl: " + at.name() + ": released again the " + undone
        + " attachments this run wrote, in every pool; nothing is left of it");
  }

  private static List<IpAddress> addresses(AllocationOutcome.Allocated a) {
    List<IpAddress> out = new ArrayList<>();
    a.allocations().forEach(x -> out.add(x.address()));
    return out;
  }

}
