package io.jipam.core.store.spi;

import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;

/** How a claim reads in messages (refusals, {@code jipamctl}): one place for every store. */
public final class ClaimText {
  private ClaimText() {}

  /** "held for pod db/web-0 until T", "reserved for namespace db", "cooling until T". */
  public static String describe(Claim c) {
    return switch (c.kind()) {
      case HOLD -> "held for pod " + c.pod() + " until " + c.until();
      case RESERVATION -> c.forOnePod() ? "reserved for pod " + c.pod() : "reserved for namespace " + c.pod().namespace();
      case COOLING -> "cooling until " + c.until() + (c.releasedBy() == null ? "" : " (released by " + c.releasedBy() + ")");
    };
  }

  /** "allocated to c1/eth0 of pod db/web-0": an address's holder. */
  public static String allocatedTo(Attachment attachment, PodRef pod) {
    return "allocated to " + attachment + " of pod " + pod;
  }

  /**
   * {@code what} (a holder, a claim) with where it is when that is another pool of the network:
   * "... in pool net+a of network net, whose pools share its addresses".
   */
  public static String inOtherPool(String what, String pool) {
    return what + " in pool " + pool + " of network " + Pool.networkOf(pool) + ", whose pools share its addresses";
  }
}
