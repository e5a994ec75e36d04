package io.jipam.core.store.spi;

import io.jipam.core.store.Claim;

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
}
