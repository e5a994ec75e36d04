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
      err().println("jipamctl: nothing allocated matches " + io.jipam.core.store.Printable.quote(what));
      return 1;
    }
    Map<Pool, Set<Attachment>> attachments = new java.util.LinkedHashMap<>();
    found.forEach((p, list) -> list.forEach(a -> attachments.computeIfAbsent(p, k -> new java.util.LinkedHashSet<>())
        .add(a.allocation().attachment())));
    // what would go: on stdout for a dry run; before the question on stderr (as gc), so that stdout
    // says "releasing" only once it is so
    JsonArray held = new JsonArray();
    List<String> lines = new java.util.ArrayList<>();
    for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
      for (Attachment a : e.getValue()) {
        for (Allocation h : store.find(e.getKey(), a)) {
          held.add(Formats.json(h, e.getKey().name()));
          lines.add(Formats.text(h, e.getKey().name()));
        }
      }
    }
    if (dryRun) {
      if (json) {
        out().println(wouldRelease(held).encodePrettily());
      } else {
        lines.forEach(l -> out().println("would release " + l));
      }
      return 0;
    }
    if (!yes) {
      lines.forEach(l -> err().println("would release " + l));
      if (!confirm(this, "release " + held.size() + " address(es)?")) {
        if (json) {
          out().println(released(new JsonArray()).encodePrettily());
        }
        return 1;
      }
    }
    if (!json) {
      lines.forEach(l -> out().println("releasing " + l));
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
        if (dryRun) {
          if (json) {
            out().println(new io.vertx.core.json.JsonObject().put("dryRun", true).put("endedHolds",
                new JsonArray().add(ClaimRows.json(hold, p.name()))).encodePrettily());
          } else {
            out().println("would end " + ClaimRows.text(hold, p.name()));
          }
          return 0;
        }
        if (!yes) {
          err().println("would end " + ClaimRows.text(hold, p.name()));
          if (!confirm(this, "end the hold on " + address + " for " + Formats.e(hold.pod()) + "?")) {
            // declined: the answer a run that ended nothing gives, as for a release declined
            if (json) {
              out().println(new io.vertx.core.json.JsonObject().put("dryRun", false).put("endedHolds",
                  new JsonArray()).encodePrettily());
            }
            return 1;
          }
        }
        if (!json) {
          out().println("ending " + ClaimRows.text(hold, p.name()));
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
