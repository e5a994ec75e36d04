package io.jipam.api;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.api.v1.ClaimKind;
import io.jipam.api.v1.InUse;
import io.jipam.api.v1.Origin;
import io.jipam.api.v1.ReserveResponse;
import io.jipam.api.v1.Unavailable;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * The workload-aware addressing values on the wire, both ways: a pool's {@link AddressPolicy},
 * {@link Claim}s, {@link ReserveOutcome}s and {@link AllocationOrigin}s. As {@link WireMapping}:
 * lossless, and decoding validates as the core constructors do ({@code INVALID_CONFIG} naming the
 * field). Stateless.
 */
public final class ClaimWire {
  private ClaimWire() {}

  /** The policy message; null for {@link AddressPolicy#NONE} (the field stays absent). */
  public static io.jipam.api.v1.AddressPolicy policy(AddressPolicy policy) {
    if (policy == null || policy.isNone()) {
      return null;
    }
    io.jipam.api.v1.AddressPolicy.Builder b = io.jipam.api.v1.AddressPolicy.newBuilder()
        .setReuseDelaySeconds((int) policy.reuseDelay().toSeconds());
    StickyRule sticky = policy.sticky();
    if (sticky != null) {
      io.jipam.api.v1.StickyRule.Builder s = io.jipam.api.v1.StickyRule.newBuilder()
          .setHoldSeconds((int) Math.min(Integer.MAX_VALUE, sticky.hold().toSeconds()))
          .setMaxHeldPercent(sticky.maxHeldPercent());
      sticky.pods().forEach(p -> s.addPods(p.toString()));
      b.setSticky(s);
    }
    return b.build();
  }

  /** The policy a pool message carries ({@link AddressPolicy#NONE} without one). */
  public static AddressPolicy policy(io.jipam.api.v1.Pool message) {
    if (!message.hasPolicy()) {
      return AddressPolicy.NONE;
    }
    io.jipam.api.v1.AddressPolicy p = message.getPolicy();
    StickyRule sticky = null;
    try {
      if (p.hasSticky()) {
        // counted before any is parsed: a request may carry hundreds of thousands
        io.jipam.core.Limits.check("sticky.pods", "patterns", p.getSticky().getPodsCount(), StickyRule.MAX_PODS);
        List<PodPattern> pods = new ArrayList<>();
        for (String text : p.getSticky().getPodsList()) {
          pods.add(PodPattern.parse(text));
        }
        sticky = new StickyRule(pods, Duration.ofSeconds(Integer.toUnsignedLong(p.getSticky().getHoldSeconds())),
            p.getSticky().getMaxHeldPercent());
      }
      return new AddressPolicy(sticky, Duration.ofSeconds(Integer.toUnsignedLong(p.getReuseDelaySeconds())));
    } catch (IpamException e) {
      throw new IpamException(e.code(), "pool " + message.getName() + " policy: " + e.getMessage(), e);
    }
  }

  public static Origin origin(AllocationOrigin origin) {
    return Origin.forNumber(origin.ordinal() + 1);
  }

  /**
   * An allocation's recorded origin ({@code Allocation.origin}): null when not recorded
   * (unspecified), unknown to this version, or {@code EXISTING} (which no store records).
   */
  public static AllocationOrigin recordedOrigin(Origin origin) {
    if (origin == Origin.ORIGIN_UNSPECIFIED || origin == Origin.UNRECOGNIZED || origin == Origin.ORIGIN_EXISTING) {
      return null;
    }
    return AllocationOrigin.values()[origin.getNumber() - 1];
  }

  /**
   * The origins of an Allocated message: as sent, or (from a server that sends none) each {@code
   * EXISTING} or {@code FREE} by {@code existing}.
   */
  public static List<AllocationOrigin> origins(io.jipam.api.v1.Allocated a) {
    List<AllocationOrigin> out = new ArrayList<>(a.getAllocationsCount());
    for (int i = 0; i < a.getAllocationsCount(); i++) {
      if (i < a.getOriginsCount() && a.getOrigins(i) != Origin.ORIGIN_UNSPECIFIED
          && a.getOrigins(i) != Origin.UNRECOGNIZED) {
        out.add(AllocationOrigin.values()[a.getOrigins(i).getNumber() - 1]);
      } else {
        out.add(a.getExisting() ? AllocationOrigin.EXISTING : AllocationOrigin.FREE);
      }
    }
    return out;
  }

  public static io.jipam.api.v1.Claim claim(Claim c) {
    io.jipam.api.v1.Claim.Builder b = io.jipam.api.v1.Claim.newBuilder()
        .setAddress(c.address().toString())
        .setKind(ClaimKind.forNumber(c.kind().ordinal() + 1))
        .setPod(WireMapping.pod(c.pod()));
    if (c.until() != null) {
      b.setUntil(c.until().toString());
    }
    if (c.releasedBy() != null) {
      b.setReleasedBy(WireMapping.attachment(c.releasedBy()));
    }
    return b.build();
  }

  public static Claim claim(io.jipam.api.v1.Claim m) {
    if (m.getKind() == ClaimKind.CLAIM_KIND_UNSPECIFIED || m.getKind() == ClaimKind.UNRECOGNIZED) {
      throw IpamException.invalidConfig("claim of %s has no known kind (%d)", m.getAddress(), m.getKindValue());
    }
    Instant until = null;
    if (!m.getUntil().isEmpty()) {
      try {
        until = Instant.parse(m.getUntil());
      } catch (DateTimeParseException e) {
        throw IpamException.invalidConfig("claim of %s: until \"%s\" is not an RFC 3339 time", m.getAddress(),
            m.getUntil());
      }
    }
    try {
      return new Claim(WireMapping.address(m.getAddress(), "claim address"),
          Claim.Kind.values()[m.getKind().getNumber() - 1], WireMapping.pod(m.getPod()), until,
          m.hasReleasedBy() ? WireMapping.attachment(m.getReleasedBy()) : null);
    } catch (IllegalArgumentException e) {
      throw new IpamException(ErrorCode.INVALID_CONFIG, "claim of " + m.getAddress() + ": " + e.getMessage(), e);
    }
  }

  public static List<Claim> claims(List<io.jipam.api.v1.Claim> list) {
    List<Claim> out = new ArrayList<>(list.size());
    for (io.jipam.api.v1.Claim m : list) {
      out.add(claim(m));
    }
    return out;
  }

  /**
   * The pod or namespace of a Reserve request: Kubernetes names ({@link PodRef#validated}), the
   * namespace required; else {@code INVALID_CONFIG} naming the field.
   */
  public static PodRef reservedFor(io.jipam.api.v1.PodRef pod) {
    PodRef p = PodRef.validated(pod.getNamespace(), pod.getName(), "reserve pod.namespace", "reserve pod.name",
        ErrorCode.INVALID_CONFIG);
    if (p.namespace().isEmpty()) {
      throw IpamException.invalidConfig("reserve needs a namespace (for a pod: its namespace and name)");
    }
    return p;
  }

  public static ReserveResponse outcome(ReserveOutcome outcome) {
    ReserveResponse.Builder b = ReserveResponse.newBuilder();
    if (outcome instanceof ReserveOutcome.Reserved r) {
      b.setReserved(claim(r.reservation()));
    } else if (outcome instanceof ReserveOutcome.InUse u) {
      InUse.Builder in = InUse.newBuilder().setAddress(u.address().toString()).setHolder(u.holder());
      if (u.pool() != null) {
        in.setPool(u.pool());
      }
      b.setInUse(in);
    } else if (outcome instanceof ReserveOutcome.Unavailable u) {
      b.setUnavailable(Unavailable.newBuilder().setAddress(u.address().toString()).setReason(u.reason()));
    }
    return b.build();
  }

  public static ReserveOutcome outcome(ReserveResponse r) {
    return switch (r.getOutcomeCase()) {
      case RESERVED -> new ReserveOutcome.Reserved(claim(r.getReserved()));
      case IN_USE -> new ReserveOutcome.InUse(WireMapping.address(r.getInUse().getAddress(), "in_use address"),
          r.getInUse().getHolder(), WireMapping.otherPool(r.getInUse().getPool(), "in_use address's"));
      case UNAVAILABLE -> new ReserveOutcome.Unavailable(
          WireMapping.address(r.getUnavailable().getAddress(), "unavailable address"), r.getUnavailable().getReason());
      case OUTCOME_NOT_SET -> throw new IpamException(ErrorCode.DECODE_FAILURE, "Reserve answered no outcome");
    };
  }

  public static io.jipam.api.v1.RetirePoolResponse outcome(io.jipam.core.store.capability.RetireOutcome outcome) {
    io.jipam.api.v1.RetirePoolResponse.Builder b = io.jipam.api.v1.RetirePoolResponse.newBuilder();
    if (outcome instanceof io.jipam.core.store.capability.RetireOutcome.Retired) {
      b.setRetired(true);
    } else if (outcome instanceof io.jipam.core.store.capability.RetireOutcome.InUse u) {
      b.setInUse(io.jipam.api.v1.PoolInUse.newBuilder().setAllocations(u.allocations()).setClaims(u.claims()));
    } else {
      b.setNotFound(true);
    }
    return b.build();
  }

  /** The outcome of a RetirePool of {@code pool}. */
  public static io.jipam.core.store.capability.RetireOutcome outcome(String pool, io.jipam.api.v1.RetirePoolResponse r) {
    return switch (r.getOutcomeCase()) {
      case RETIRED -> new io.jipam.core.store.capability.RetireOutcome.Retired(pool);
      case IN_USE -> new io.jipam.core.store.capability.RetireOutcome.InUse(pool, r.getInUse().getAllocations(),
          r.getInUse().getClaims());
      case NOT_FOUND -> new io.jipam.core.store.capability.RetireOutcome.NotFound(pool);
      case OUTCOME_NOT_SET -> throw new IpamException(ErrorCode.DECODE_FAILURE, "RetirePool answered no outcome");
    };
  }
}
