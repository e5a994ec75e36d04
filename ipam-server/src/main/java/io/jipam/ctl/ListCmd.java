package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import io.jipam.core.store.capability.ListPages;

import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "list", mixinStandardHelpOptions = true, description = "Allocations, filtered.")
final class ListCmd extends Jipamctl.Base {
  @Option(names = "--pool") String pool;
  @Option(names = "--container-id") String containerId;
  @Option(names = "--ifname") String ifname;
  @Option(names = "--pod-namespace") String podNamespace;
  @Option(names = "--pod") String podName;
  @Option(names = "--node", description = "only allocations this node made (etcd store)") String node;

  @Override
  int run(Backend store, boolean json) {
    ListPages.Filter filter = new ListPages.Filter(orEmpty(containerId), orEmpty(ifname), orEmpty(podNamespace),
        orEmpty(podName), node == null ? "" : nodeName(node, "--node"));
    JsonArray all = new JsonArray();
    if (!json) {
      out().println(LIST_HEADER);
    }
    for (Pool p : pools(store, pool)) {
      for (ListPages.Listed a : store.list(p, filter)) {
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

  private static String orEmpty(String option) {
    return option == null ? "" : option;
  }
}
