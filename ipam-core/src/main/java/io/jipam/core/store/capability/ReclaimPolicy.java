package io.jipam.core.store.capability;

import io.jipam.core.IpamException;
import io.jipam.core.store.Pool;
import java.time.Duration;
import java.util.Collection;
import java.util.List;

/**
 * How {@link NodeReclaim#reclaimNode(String, ReclaimPolicy)} decides that a node is gone.
 *
 * @param quietPeriod a node whose stores committed within this period looks alive and is refused
 *     (unless {@code force}); at least one second
 * @param force reclaim even a node that looks alive: the operator asserts it is gone. The node is
 *     fenced either way, so it allocates nothing more; addresses its running pods still use are
 *     handed out again
 * @param rules the pools as the caller defines them (jipamctl's {@code --conf}, jipamd's served
 *     pools), for their address rules ({@link io.jipam.core.store.AddressPolicy}): a store that
 *     keeps no rules of its own (etcd keeps ranges only) releases the node's allocations of a pool
 *     named here as a DEL with these rules would, so that a sticky pod's addresses are held for it
 *     (within the bound) and a cool-down applies; a pool not named here is released without rules
 */
public record ReclaimPolicy(Duration quietPeriod, boolean force, List<Pool> rules) {
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
    rules = rules == null ? List.of() : List.copyOf(rules);
  }

  /** Without rules: every pool released as defined in the store. */
  public ReclaimPolicy(Duration quietPeriod, boolean force) {
    this(quietPeriod, force, List.of());
  }

  /** This policy with the rules of {@code pools} (replacing any given before). */
  public ReclaimPolicy withRules(Collection<Pool> pools) {
    return new ReclaimPolicy(quietPeriod, force, List.copyOf(pools));
  }

  /**
   * The pool to release {@code stored}'s allocations with: {@code stored} (its ranges, as the store
   * keeps them) with the address policy of the pool of that name in {@link #rules}, or {@code
   * stored} itself when none is named.
   */
  public Pool applyRules(Pool stored) {
    for (Pool p : rules) {
      if (p.name().equals(stored.name())) {
        return stored.withPolicy(p.policy());
      }
    }
    return stored;
  }
}
