package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.time.Instant;
import java.util.Objects;

/**
 * A claim on one address of a pool beyond being allocated: a hold, a reservation or a cool-down.
 * {@link AddressPolicy} says what each means; stores persist them with their allocations.
 *
 * @param address the claimed address
 * @param kind what the claim is
 * @param pod for a hold, the pod it is held for; for a reservation, the pod (namespace and name) or
 *     the namespace (empty name) it is reserved for; for cooling, the pod that released it (may be
 *     unknown)
 * @param until when a hold or cool-down ends; null for a reservation (it never ends by itself)
 * @param releasedBy for a hold or cool-down, the attachment whose release made it; null for a
 *     reservation
 */
public record Claim(IpAddress address, Kind kind, PodRef pod, Instant until, Attachment releasedBy) {

  /** The kinds of claim, in {@link AddressPolicy}'s table order. */
  public enum Kind {
    HOLD,
    RESERVATION,
    COOLING
  }

  public Claim {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(kind, "kind");
    pod = pod == null ? PodRef.UNKNOWN : pod;
    if (kind == Kind.RESERVATION) {
      if (until != null || releasedBy != null) {
        throw new IllegalArgumentException("a reservation has no expiry and no releasing attachment");
      }
      if (pod.namespace().isEmpty()) {
        throw new IllegalArgumentException("a reservation of " + address + " names no namespace");
      }
    } else if (until == null) {
      throw new IllegalArgumentException("a " + kind + " claim of " + address + " needs an expiry");
    }
    if (kind == Kind.HOLD && (pod.namespace().isEmpty() || pod.name().isEmpty())) {
      throw new IllegalArgumentException("a hold of " + address + " names no pod: " + pod);
    }
  }

  public static Claim hold(IpAddress address, PodRef pod, Instant until, Attachment releasedBy) {
    return new Claim(address, Kind.HOLD, pod, until, releasedBy);
  }

  public static Claim reservation(IpAddress address, PodRef podOrNamespace) {
    return new Claim(address, Kind.RESERVATION, podOrNamespace, null, null);
  }

  public static Claim cooling(IpAddress address, PodRef releasedByPod, Instant until, Attachment releasedBy) {
    return new Claim(address, Kind.COOLING, releasedByPod, until, releasedBy);
  }

  /** Whether the claim is over at {@code now} (a reservation never is). */
  public boolean expiredAt(Instant now) {
    return until != null && !now.isBefore(until);
  }

  /**
   * Whether the claim lets this pod have the address it asks for: a hold for the pod itself, a
   * reservation for the pod or its namespace, a cool-down the pod itself started (a cool-down keeps
   * the address from other attachments; the pod that released it may ask for it again, as a pod
   * with a static address does on its restart). Free allocation skips every cooling address
   * (see {@link AddressPolicy}'s last resort).
   */
  public boolean admits(PodRef requester) {
    return switch (kind) {
      case HOLD, COOLING -> requester.isKnown() && pod.equals(requester);
      case RESERVATION -> requester.isKnown() && pod.namespace().equals(requester.namespace())
          && (pod.name().isEmpty() || pod.name().equals(requester.name()));
    };
  }

  /** Whether a reservation names one pod rather than a whole namespace. */
  public boolean forOnePod() {
    return !pod.name().isEmpty();
  }
}
