package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import io.jipam.core.store.capability.ListPages;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "show", mixinStandardHelpOptions = true, description = "Who holds an address, or what an attachment holds, and why it was given (free, requested, reserved, sticky, cooled); and an address's claims (reserved, held, cooling).")
final class Show extends Jipamctl.Base {
  @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;

  @Override
  void checkUsage() {
    Formats.requireTarget(spec.commandLine(), what);
  }

  @Override
  int run(Backend store, boolean json) {
    Map<Pool, List<ListPages.Listed>> found = matching(store, what);
    JsonArray all = new JsonArray();
    found.forEach((p, list) -> list.forEach(a -> {
      if (json) {
        all.add(json(a, p.name()));
      } else {
        out().println(text(a, p.name()) + why(a.allocation()));
      }
    }));
    // an address's claims: reserved for whom, held for whom until when, cooling until when
    int claims = 0;
    io.jipam.core.net.IpAddress address = io.jipam.core.net.IpAddress.tryParse(what);
    for (Pool p : address == null ? List.<Pool>of() : pools(store, null)) {
      for (io.jipam.core.store.Claim c : ClaimRows.on(store, p, address, null)) {
        claims++;
        ClaimRows.emit(out(), all, json, c, p.name());
      }
    }
    if (json) {
      out().println(all.encodePrettily());
    }
    if (found.isEmpty() && claims == 0) {
      spec.commandLine().getErr().println("jipamctl: nothing allocated or claimed matches "
          + io.jipam.core.store.Printable.quote(what));
      return 1;
    }
    return 0;
  }
}
