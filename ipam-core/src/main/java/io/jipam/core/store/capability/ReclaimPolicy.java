package io.jipam.core.store.capability;

import io.jipam.core.IpamException;
import java.time.Duration;

/**
 * How {@link NodeReclaim#reclaimNode(String, ReclaimPolicy)} decides that a node is gone.
 *
 * @param quietPeriod a node whose stores committed within this period looks alive and is refused
 *     (unless {@code force}); at least one second
 * @param force reclaim even a node that looks alive: the operator asserts it is gone. The node is
 *     fenced either way, so it allocates nothing more; addresses its running pods still use are
 *     handed out again
 */
public record ReclaimPolicy(Duration quietPeriod, boolean force) {
  /** Ten minutes. */
  public static final Duration DEFAULT_QUIET_PERIOD = Duration.ofMinutes(10);
  /** Refuses a node that committed within the last ten minutes. */
  public static final ReclaimPolicy DEFAULT = new ReclaimPolicy(DEFAULT_QUIET_PERIOD, false);
  /** Reclaims whatever the node's last commit. */
  public static final ReclaimPolicy FORCE = new ReclaimPolicy(DEFAULT_QUIET_PERIOD, true);

  public ReclaimPolicy {
    if (quietPeriod == null || quietPeriod.toMillis() < 1000) {
      throw IpamException.invalidConfig("reclaim: quiet period %s is below one second", quietPeriod);
    }
  }
}
