package io.jipam.ctl;

import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.RetireOutcome;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "retire-pool", mixinStandardHelpOptions = true,
    description = {"Retire an emptied pool (a renamed or removed sub-pool, or a network moved to a new pool):"
        + " remove its state, so that calls of its network stop looking there. Refused, changing nothing (exit 1),"
        + " while it holds an allocation or a live claim (hold, reservation, cool-down). A config that still names"
        + " the pool defines it again at its next ADD."})
final class RetirePool extends Jipamctl.Base {
  @Parameters(paramLabel = "POOL", description = "the pool: NETWORK, or NETWORK+SUBPOOL") String pool;

  @Override
  void checkUsage() {
    if (!Pool.isName(pool)) {
      throw new CommandLine.ParameterException(spec.commandLine(), "POOL: invalid pool name " + Printable.quote(pool)
          + ": a network name, or NETWORK+SUBPOOL");
    }
  }

  /** A pool is retired by name: a data dir's pools without a definition from --conf are not worth a note. */
  @Override
  boolean readsPoolDefinitions() {
    return false;
  }

  @Override
  int run(Backend store, boolean json) {
    RetireOutcome out = store.retirePool(pool);
    String p = Formats.e(pool);
    if (out instanceof RetireOutcome.InUse u) {
      if (json) {
        out().println(new JsonObject().put("pool", pool).put("outcome", "in-use").put("allocations", u.allocations())
            .put("claims", u.claims()).encode());
      }
      err().println("jipamctl: pool " + p + " still holds " + u.holders() + "; nothing was changed"
          + " (jipamctl list --pool " + p + ", jipamctl reservations)");
      return 1;
    }
    boolean retired = out instanceof RetireOutcome.Retired;
    if (json) {
      out().println(new JsonObject().put("pool", pool).put("outcome", retired ? "retired" : "not-found").encode());
    } else {
      out().println(retired ? "pool " + p + " retired" : "pool " + p + " is not kept by the store: nothing to retire");
    }
    return retired ? 0 : 1;
  }
}
