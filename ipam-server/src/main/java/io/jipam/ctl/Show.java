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

@Command(name = "show", mixinStandardHelpOptions = true, description = "Who holds an address, or what an attachment holds.")
final class Show extends Jipamctl.Base {
  @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;

  @Override
  int run(Backend store, boolean json) {
    Map<Pool, List<ListPages.Listed>> found = matching(store, what);
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
      spec.commandLine().getErr().println("jipamctl: nothing allocated matches " + e(what));
      return 1;
    }
    return 0;
  }
}
