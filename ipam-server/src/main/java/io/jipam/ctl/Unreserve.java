package io.jipam.ctl;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "unreserve", mixinStandardHelpOptions = true,
    description = "End the reservation of an address. An allocation of it stays; an unallocated address becomes free.")
final class Unreserve extends Jipamctl.Base {
  @Parameters(paramLabel = "ADDRESS") String address;
  @Option(names = "--pool", description = "the pool (when the address is in the ranges of several)") String pool;

  private IpAddress a;

  @Override
  void checkUsage() {
    a = ClaimRows.address(spec.commandLine(), address);
  }

  @Override
  int run(Backend store, boolean json) {
    Pool p = ClaimRows.poolOf(store, a, pool);
    Optional<Claim> ended = ClaimRows.claims(store).unreserve(p, a);
    if (ended.isEmpty()) {
      err().println("jipamctl: " + a + " has no reservation in pool " + Formats.e(p.name()));
      return 1;
    }
    if (json) {
      out().println(ClaimRows.json(ended.get(), p.name()).encodePrettily());
    } else {
      out().println("unreserved " + a + " in pool " + Formats.e(p.name()) + " (was for "
          + Formats.e(ClaimRows.forWhom(ended.get())) + ")");
    }
    return 0;
  }
}
