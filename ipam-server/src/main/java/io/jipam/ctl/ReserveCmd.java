package io.jipam.ctl;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.ReserveOutcome;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "reserve", mixinStandardHelpOptions = true,
    description = {"Reserve an address for one pod or for the pods of a namespace: only they get it, and an ADD of"
        + " theirs gets it before any other address.",
        "An address in use is refused, naming its holder, and nothing is written; with --when-free the reservation"
        + " is recorded and applies from the address's release on."})
final class ReserveCmd extends Jipamctl.Base {
  @Parameters(paramLabel = "ADDRESS") String address;

  @ArgGroup(exclusive = true, multiplicity = "1") For forWhom;

  static final class For {
    @Option(names = "--pod", paramLabel = "NS/NAME", required = true, description = "the pod") String pod;
    @Option(names = "--namespace", paramLabel = "NS", required = true, description = "every pod of the namespace")
    String namespace;
  }

  @Option(names = "--when-free", description = "reserve it even while in use: it applies once released") boolean whenFree;
  @Option(names = "--pool", description = "the pool (when the address is in the ranges of several)") String pool;

  private IpAddress a;
  private PodRef who;

  @Override
  void checkUsage() {
    a = ClaimRows.address(spec.commandLine(), address);
    who = podOrNamespace();
  }

  @Override
  int run(Backend store, boolean json) {
    Pool p = ClaimRows.poolOf(store, a, pool);
    ReserveOutcome outcome = ClaimRows.claims(store).reserve(p, a, who, whenFree);
    if (outcome instanceof ReserveOutcome.Reserved r) {
      if (json) {
        out().println(ClaimRows.json(r.reservation(), p.name()).encodePrettily());
      } else {
        out().println("reserved " + a + " in pool " + Formats.e(p.name()) + " for " + Formats.e(ClaimRows.forWhom(
            r.reservation())));
      }
      return 0;
    }
    if (outcome instanceof ReserveOutcome.InUse u) {
      // --when-free helps with an address allocated or held for another pod, not one reserved already
      boolean releasable = u.holder().startsWith("allocated to") || u.holder().startsWith("held for");
      err().println("jipamctl: " + a + " is in use (" + Formats.e(u.holder()) + "); nothing was written"
          + (whenFree || !releasable ? "" : " (--when-free reserves it from its release on)"));
      return 1;
    }
    ReserveOutcome.Unavailable u = (ReserveOutcome.Unavailable) outcome;
    err().println("jipamctl: " + a + " cannot be reserved in pool " + Formats.e(p.name()) + ": "
        + Formats.e(u.reason()));
    return 1;
  }

  /** The --pod or --namespace value as a pod reference; a usage error when it is not one. */
  private PodRef podOrNamespace() {
    String namespace = forWhom.namespace;
    String name = "";
    String field = "--namespace";
    if (forWhom.pod != null) {
      int slash = forWhom.pod.indexOf('/');
      if (slash <= 0 || slash == forWhom.pod.length() - 1) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--pod " + Printable.quote(forWhom.pod)
            + " is not NAMESPACE/NAME");
      }
      namespace = forWhom.pod.substring(0, slash);
      name = forWhom.pod.substring(slash + 1);
      field = "--pod";
    }
    if (namespace.isEmpty()) {
      // an empty namespace is the unknown pod, which no reservation can be for
      throw new CommandLine.ParameterException(spec.commandLine(), "--namespace \"\" is empty: give a Kubernetes"
          + " namespace");
    }
    try {
      return PodRef.validated(namespace, name, field + " namespace", field + " name", ErrorCode.INVALID_CONFIG);
    } catch (IpamException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
  }
}
