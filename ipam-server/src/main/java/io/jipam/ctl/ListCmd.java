package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import io.jipam.core.store.capability.ListPages;

import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import java.util.List;
import io.vertx.core.json.JsonArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "list", mixinStandardHelpOptions = true, description = "Allocations, filtered; then the holds (addresses kept for a pod since its DEL) with their expiry.")
final class ListCmd extends Jipamctl.Base {
  @Option(names = "--pool") String pool;
  @Option(names = "--container-id") String containerId;
  @Option(names = "--ifname") String ifname;
  @Option(names = "--pod-namespace") String podNamespace;
  @Option(names = "--pod") String podName;
  @Option(names = "--node", description = "only allocations this node made (etcd store)") String node;

  @Override
  void checkUsage() {
    nodeName(node, "--node");
    for (String[] given : new String[][] {{"--container-id", containerId}, {"--ifname", ifname},
        {"--pod-namespace", podNamespace}, {"--pod", podName}, {"--pool", pool}}) {
      if (given[1] != null && given[1].isEmpty()) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            given[0] + " is empty: give a value, or leave the option out to list every one");
      }
    }
  }

  @Override
  int run(Backend store, boolean json) {
    ListPages.Filter filter = new ListPages.Filter(orEmpty(containerId), orEmpty(ifname), orEmpty(podNamespace),
        orEmpty(podName), orEmpty(node));
    JsonArray all = new JsonArray();
    List<Pool> listed = pools(store, pool); // an unknown --pool fails before the header is printed
    if (!json) {
      out().println(LIST_HEADER);
    }
    for (Pool p : listed) {
      for (ListPages.Listed a : store.list(p, filter)) {
        if (json) {
          all.add(json(a, p.name()));
        } else {
          out().println(text(a, p.name()));
        }
      }
    }
    // holds: addresses kept for a pod since its DEL, with their expiry (the attachment filters do not apply)
    boolean header = false;
    for (Pool p : containerId == null && ifname == null && node == null ? listed : List.<Pool>of()) {
      for (Claim c : ClaimRows.on(store, p, null, Claim.Kind.HOLD)) {
        if (podNamespace != null && !podNamespace.equals(c.pod().namespace())
            || podName != null && !podName.equals(c.pod().name())) {
          continue;
        }
        if (json) {
          all.add(ClaimRows.json(c, p.name()));
        } else {
          if (!header) {
            out().println();
            out().println(ClaimRows.HEADER);
            header = true;
          }
          out().println(ClaimRows.text(c, p.name()));
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
