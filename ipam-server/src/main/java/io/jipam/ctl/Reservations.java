package io.jipam.ctl;

import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "reservations", mixinStandardHelpOptions = true,
    description = "The reserved addresses, with the pod or namespace each is for.")
final class Reservations extends Jipamctl.Base {
  @Option(names = "--pool", description = "only this pool") String pool;

  @Override
  int run(Backend store, boolean json) {
    ClaimRows.claims(store); // a store without claims is an error here, not an empty list
    JsonArray all = new JsonArray();
    java.util.List<Pool> pools = pools(store, pool); // an unknown --pool fails before the header is printed
    if (!json) {
      out().println(ClaimRows.HEADER);
    }
    for (Pool p : pools) {
      for (Claim c : ClaimRows.on(store, p, null, Claim.Kind.RESERVATION)) {
        ClaimRows.emit(out(), all, json, c, p.name());
      }
    }
    if (json) {
      out().println(all.encodePrettily());
    }
    return 0;
  }
}
