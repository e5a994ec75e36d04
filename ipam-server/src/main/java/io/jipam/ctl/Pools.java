package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;

import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.PoolStatus;
import io.vertx.core.json.JsonArray;
import picocli.CommandLine.Command;

@Command(name = "pools", mixinStandardHelpOptions = true,
    description = "The pools: their address rules (sticky, reuse delay), ranges, used, free, utilisation per range set;"
        + " per block and node where there are blocks.")
final class Pools extends Jipamctl.Base {
  @Override
  int run(Backend store, boolean json) {
    JsonArray all = new JsonArray();
    for (Pool p : store.pools()) {
      PoolStatus status = store.status(p);
      if (json) {
        all.add(usageJson(status));
        continue;
      }
      PoolUsage u = status.usage();
      out().println(e(p.name()) + " (" + p.order().configName() + ")");
      if (!p.policy().isNone()) {
        out().println("  rules: " + rulesText(p.policy()));
      }
      for (int i = 0; i < p.rangeSets().size(); i++) {
        long used = u.allocated().get(i);
        long free = u.free().get(i);
        out().println("  set " + i + ": " + ranges(p.rangeSets().get(i)) + "  used " + used + "  free "
            + count(free) + "  " + bar(used, free));
      }
      blocksText(out(), status);
    }
    if (json) {
      out().println(all.encodePrettily());
    }
    return 0;
  }
}
