package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;

import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.PoolStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

@Command(name = "pools", mixinStandardHelpOptions = true,
    description = "The pools: a sub-pool's network and selectors, a network's default pool, their address rules"
        + " (sticky, reuse delay), ranges, used, free, utilisation per range set; per block and node where there are"
        + " blocks.")
final class Pools extends Jipamctl.Base {
  @Option(names = "--network", paramLabel = "NETWORK",
      description = "only the pools of this network: its own pool and its sub-pools (NETWORK+NAME)")
  String network;

  @Override
  void checkUsage() {
    if (network != null && !Pool.isNetworkName(network)) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--network: invalid network name "
          + Printable.quote(network) + ": a network's name, without a sub-pool's +NAME");
    }
  }

  @Override
  int run(Backend store, boolean json) {
    JsonArray all = new JsonArray();
    List<Pool> pools = network == null ? store.pools() : store.pools(network);
    SubPoolLines subPools = new SubPoolLines(store.subPools());
    for (Pool p : pools) {
      PoolStatus status = store.status(p);
      if (json) {
        JsonObject one = usageJson(status);
        subPools.json(one, p);
        all.add(one);
        continue;
      }
      PoolUsage u = status.usage();
      out().println(e(p.name()) + " (" + p.order().configName() + ")");
      subPools.text(out(), p);
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
