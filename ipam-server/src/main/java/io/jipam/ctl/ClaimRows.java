package io.jipam.ctl;

import static io.jipam.ctl.Formats.e;

import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * Claims ({@link Claim}: holds, reservations, cool-downs) as the claim commands print them, and the
 * lookups they share: the pool of an address, the claims of a pool. Stateless.
 */
final class ClaimRows {
  private ClaimRows() {}

  static final String HEADER = String.format("%-16s %-39s %-12s %-32s %s", "POOL", "ADDRESS", "CLAIM", "FOR", "UNTIL");

  /** {@code reservation}, {@code hold}, {@code cooling}. */
  static String kind(Claim c) {
    return c.kind().name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Whom the claim is for: a pod, {@code NAMESPACE/*} for a namespace's reservation, or who released it. */
  static String forWhom(Claim c) {
    if (c.kind() == Claim.Kind.RESERVATION && !c.forOnePod()) {
      return c.pod().namespace() + "/*";
    }
    return c.kind() == Claim.Kind.COOLING ? "released by " + c.pod() : c.pod().toString();
  }

  static String text(Claim c, String pool) {
    return String.format("%-16s %-39s %-12s %-32s %s", e(pool), c.address(), kind(c), e(forWhom(c)),
        c.until() == null ? "-" : c.until().toString());
  }

  static JsonObject json(Claim c, String pool) {
    return new JsonObject().put("pool", pool).put("address", c.address().toString()).put("claim", kind(c))
        .put("podNamespace", c.pod().namespace()).put("podName", c.pod().name())
        .put("until", c.until() == null ? null : c.until().toString())
        .put("releasedBy", c.releasedBy() == null ? null : c.releasedBy().toString());
  }

  /** Adds the claim to {@code all} (JSON output) or prints its line. */
  static void emit(java.io.PrintWriter out, io.vertx.core.json.JsonArray all, boolean json, Claim c, String pool) {
    if (json) {
      all.add(json(c, pool));
    } else {
      out.println(text(c, pool));
    }
  }

  /** The address an argument names; a usage error (exit 2) when it is none. */
  static IpAddress address(CommandLine line, String text) {
    IpAddress a = IpAddress.tryParse(text);
    if (a == null) {
      throw new CommandLine.ParameterException(line, "ADDRESS " + io.jipam.core.store.Printable.quote(text)
          + " is not an IP address");
    }
    return a;
  }

  /** The pool whose ranges hold the address (of those named {@code only}, when given). */
  static Pool poolOf(Backend store, IpAddress address, String only) {
    List<Pool> holding = new ArrayList<>();
    for (Pool p : Jipamctl.Base.pools(store, only)) {
      if (p.rangeSetIndexOf(address) >= 0) {
        holding.add(p);
      }
    }
    if (holding.isEmpty()) {
      throw IpamException.invalidConfig("no pool of %s has %s in its ranges%s", store.describe(), address,
          only == null ? " (a data dir's pools come from --conf)" : " (pool " + io.jipam.core.store.Printable.quote(only) + ")");
    }
    if (holding.size() > 1) {
      throw IpamException.invalidConfig("%s is in the ranges of pools %s: name one with --pool", address,
          holding.stream().map(Pool::name).toList());
    }
    return holding.get(0);
  }

  /** The store's claims; an error naming the store when it keeps none. */
  static Claims claims(Backend store) {
    return store.claims().orElseThrow(() -> new IpamException(io.jipam.core.ErrorCode.UNSUPPORTED_FIELD,
        store.describe() + " keeps no claims (holds, reservations, cool-downs)"));
  }

  /**
   * The claims of the pool on {@code address} (all when null) of {@code kind} (all when null); none
   * when the store keeps none.
   */
  static List<Claim> on(Backend store, Pool pool, IpAddress address, Claim.Kind kind) {
    List<Claim> out = new ArrayList<>();
    if (store.claims().isEmpty()) {
      return out;
    }
    List<Claim> all;
    try {
      all = store.claims().get().claims(pool);
    } catch (IpamException e) {
      if (e.code() != io.jipam.core.ErrorCode.UNSUPPORTED_FIELD) {
        throw e;
      }
      return out; // a jipamd whose store keeps no claims
    }
    for (Claim c : all) {
      if ((address == null || c.address().equals(address)) && (kind == null || c.kind() == kind)) {
        out.add(c);
      }
    }
    return out;
  }
}
