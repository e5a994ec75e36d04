package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import io.jipam.core.store.capability.ListPages;
import static io.jipam.ctl.Prompts.confirm;

import io.jipam.client.RemoteStore;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Claim;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "release", mixinStandardHelpOptions = true,
    description = "Release an address (its whole attachment) or an attachment's addresses; or end the hold on an address kept for a pod.")
final class Release extends Jipamctl.Base {
  @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;
  @Option(names = "--yes", description = "do not ask") boolean yes;
  @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

  @Override
  void checkUsage() {
    Formats.requireTarget(spec.commandLine(), what);
  }

  @Override
  int run(Backend store, boolean json) throws IOException {
    Map<Pool, List<ListPages.Listed>> found = Formats.matching(store, what);
    if (found.isEmpty() && IpAddress.tryParse(what) != null) {
      Integer ended = endHold(store, IpAddress.tryParse(what), json);
      if (ended != null) {
        return ended;
      }
    }
    if (found.isEmpty()) {
      if (json) {
        out().println(released(dryRun, new JsonArray()).encodePrettily());
      }
      err().println("jipamctl: nothing allocated matches " + Formats.e(what));
      return 1;
    }
    Map<Pool, Set<Attachment>> attachments = new java.util.LinkedHashMap<>();
    found.forEach((p, list) -> list.forEach(a -> attachments.computeIfAbsent(p, k -> new java.util.LinkedHashSet<>())
        .add(a.allocation().attachment())));
    JsonArray held = new JsonArray();
    for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
      for (Attachment a : e.getValue()) {
        for (Allocation h : store.find(e.getKey(), a)) {
          held.add(Formats.json(h, e.getKey().name()));
          if (!json) {
            out().println((dryRun ? "would release " : "releasing ") + Formats.text(h, e.getKey().name()));
          }
        }
      }
    }
    if (dryRun) {
      if (json) {
        out().println(wouldRelease(held).encodePrettily());
      }
      return 0;
    }
    if (!yes && !confirm(this, "release " + held.size() + " address(es)?")) {
      if (json) {
        out().println(released(new JsonArray()).encodePrettily());
      }
      return 1;
    }
    JsonArray done = new JsonArray();
    for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
      for (Attachment a : e.getValue()) {
        store.release(e.getKey(), a).forEach(r -> done.add(Formats.json(r, e.getKey().name())));
      }
    }
    if (json) {
      out().println(released(done).encodePrettily());
    }
    return 0;
  }

  /**
   * Ends the hold on an address no attachment holds ({@code jipamctl release} of a sticky address):
   * the exit code, or null when the address has no hold.
   */
  private Integer endHold(Backend store, IpAddress address, boolean json) throws IOException {
    for (Pool p : Jipamctl.Base.pools(store, null)) {
      for (Claim hold : ClaimRows.on(store, p, address, Claim.Kind.HOLD)) {
        if (!json) {
          out().println((dryRun ? "would end " : "ending ") + ClaimRows.text(hold, p.name()));
        }
        if (dryRun) {
          if (json) {
            out().println(new io.vertx.core.json.JsonObject().put("dryRun", true).put("endedHolds",
                new JsonArray().add(ClaimRows.json(hold, p.name()))).encodePrettily());
          }
          return 0;
        }
        if (!yes && !confirm(this, "end the hold on " + address + " for " + Formats.e(hold.pod()) + "?")) {
          return 1;
        }
        JsonArray ended = new JsonArray();
        ClaimRows.claims(store).endHold(p, address).ifPresent(c -> ended.add(ClaimRows.json(c, p.name())));
        if (json) {
          out().println(new io.vertx.core.json.JsonObject().put("dryRun", false).put("endedHolds", ended)
              .encodePrettily());
        }
        return 0;
      }
    }
    return null;
  }
}
