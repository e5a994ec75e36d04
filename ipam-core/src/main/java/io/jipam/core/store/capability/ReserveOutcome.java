package io.jipam.core.store.capability;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;

/** What {@link Claims#reserve} did; only {@link Reserved} may have changed anything. */
public sealed interface ReserveOutcome {

  /** The address is reserved as asked (now, or it was already). */
  record Reserved(Claim reservation) implements ReserveOutcome {}

  /**
   * The address is in use by someone else: {@code holder} describes who (an attachment and its
   * pod, a hold for a pod, or another reservation), printable as is.
   */
  record InUse(IpAddress address, String holder) implements ReserveOutcome {}

  /** The address can never be handed out in this pool (outside its ranges, or excluded). */
  record Unavailable(IpAddress address, String reason) implements ReserveOutcome {}
}
