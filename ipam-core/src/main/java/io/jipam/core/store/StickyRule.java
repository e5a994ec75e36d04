package io.jipam.core.store;

import io.jipam.core.IpamException;
import java.time.Duration;
import java.util.List;

/**
 * Which pods keep their addresses after DEL, and for how long: the {@code sticky} key of a pool.
 * When an attachment of a matching pod is released, each of its addresses becomes a <em>hold</em>
 * for that pod (namespace and name) until {@code hold} has passed; an ADD for the same pod in that
 * time gets the held addresses back, from any node. See {@link AddressPolicy} for the rules every
 * store follows.
 *
 * @param pods the pods this applies to; a pod matching any pattern is sticky
 * @param hold how long an address is held after DEL; 1 second to 30 days
 * @param maxHeldPercent the most of a range set's capacity (in percent, 1 to 100) that holds may
 *     take at once; a release beyond it makes no hold (the address cools or is free, and the store
 *     logs the refusal), so a tight pool is never starved by holds. Holds are granted in release
 *     order: the earliest releases keep theirs, later ones are refused.
 */
public record StickyRule(List<PodPattern> pods, Duration hold, int maxHeldPercent) {
  public static final Duration MAX_HOLD = Duration.ofDays(30);
  public static final int DEFAULT_MAX_HELD_PERCENT = 25;
  /**
   * The most pod patterns a rule may list, whichever way it comes (a network config, an Allocate on
   * gRPC, jipamd's saved definitions): a pool's policy is kept with its definition, answered by
   * ListPools and put in a metric's label, so the bound is on memory as much as on matching time.
   */
  public static final int MAX_PODS = 256;

  public StickyRule {
    pods = List.copyOf(pods);
    if (pods.isEmpty()) {
      throw IpamException.invalidConfig("sticky.pods is empty: name at least one pod pattern, e.g. \"db/*\"");
    }
    io.jipam.core.Limits.check("sticky.pods", "patterns", pods.size(), MAX_PODS);
    if (hold == null || hold.compareTo(Duration.ofSeconds(1)) < 0 || hold.compareTo(MAX_HOLD) > 0) {
      throw IpamException.invalidConfig("sticky.holdSeconds %s is out of range: 1 to %d",
          hold == null ? "null" : String.valueOf(hold.toSeconds()), MAX_HOLD.toSeconds());
    }
    if (maxHeldPercent < 1 || maxHeldPercent > 100) {
      throw IpamException.invalidConfig("sticky.maxHeldPercent %d is out of range: 1 to 100", maxHeldPercent);
    }
  }

  /** Whether the pod's addresses are held after DEL. */
  public boolean appliesTo(PodRef pod) {
    for (PodPattern p : pods) {
      if (p.matches(pod)) {
        return true;
      }
    }
    return false;
  }

  /** The most addresses holds may take in a range set of this capacity (at least 1). */
  public long maxHeld(long capacity) {
    if (capacity < 0) {
      return Long.MAX_VALUE;
    }
    return Math.max(1, capacity / 100 * maxHeldPercent + capacity % 100 * maxHeldPercent / 100);
  }
}
