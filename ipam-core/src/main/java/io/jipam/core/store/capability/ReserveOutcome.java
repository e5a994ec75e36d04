package io.jipam.core.store.capability;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;

/** What {@link Claims#reserve} did; only {@link Reserved} may have changed anything. */
public sealed interface ReserveOutcome {

  /** The address is reserved as asked (now, or it was already). */
  record Reserved(Claim reservation) implements ReserveOutcome {}

  /**
   * The address is in use by someone else: {@code holder} describes who (an attachment and its
   * pod, a hold for a pod, or another reservation, and where when that is another pool of the
   * network), printable as is.
   *
   * @param pool null when the address is in use in the pool asked; else the other pool of the same
   *     network that has it (a network's pools share its addresses: {@link Claims#reserve}), as
   *     {@link io.jipam.core.store.AllocationOutcome.Taken#pool()} names one
   */
  record InUse(IpAddress address, String holder, String pool) implements ReserveOutcome {
    /** In use in the pool asked. */
    public InUse(IpAddress address, String holder) {
      this(address, holder, null);
    }
  }

  /** The address can never be handed out in this pool (outside its ranges, or excluded). */
  record Unavailable(IpAddress address, String reason) implements ReserveOutcome {}
}
