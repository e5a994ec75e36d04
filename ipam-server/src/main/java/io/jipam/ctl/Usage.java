package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;

import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.PoolStatus;
import io.vertx.core.json.JsonArray;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "usage", mixinStandardHelpOptions = true,
    description = "Utilisation per pool and range set; per block and per node where the store has blocks (etcd).")
final class Usage extends Jipamctl.Base {
  @Option(names = "--pool", description = "only this pool") String pool;

  @Override
  int run(Backend store, boolean json) {
    JsonArray all = new JsonArray();
    List<Pool> pools = pools(store, pool); // an unknown --pool fails before the header is printed
    if (!json) {
      out().println(USAGE_HEADER);
    }
    for (Pool p : pools) {
      PoolStatus status = store.status(p);
      if (json) {
        all.add(usageJson(status));
      } else {
        usageText(out(), status);
      }
    }
    if (json) {
      out().println(all.encodePrettily());
    }
    return 0;
  }
}
