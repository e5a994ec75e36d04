package io.jipam.server.metrics;

import io.jipam.core.cni.SubPool;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.store.StickyRule;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;

/**
 * The address rules of the pools jipamd serves, as gauges set at each scrape from the pools'
 * definitions (no store read): the sticky rule's hold and bound, the reuse delay, and each
 * sub-pool's network and selectors as an info series. A pool's series go with the pool. Label
 * values from the config are escaped ({@link Printable#escape}: no control character reaches the
 * exposition); lists are joined with {@code ,}, empty for none. Thread-safe (scrapes replace the
 * rows whole).
 *
 * <table>
 *   <caption>Meters (Prometheus names)</caption>
 *   <tr><th>name</th><th>labels</th><th>what</th></tr>
 *   <tr><td>{@code jipamd_pool_reuse_delay_seconds}</td><td>pool</td><td>{@code reuseDelaySeconds}: 0 when
 *       a released address is free at once</td></tr>
 *   <tr><td>{@code jipamd_pool_hold_seconds}</td><td>pool</td><td>sticky pools only: {@code
 *       sticky.holdSeconds}</td></tr>
 *   <tr><td>{@code jipamd_pool_hold_bound_percent}</td><td>pool</td><td>sticky pools only: {@code
 *       sticky.maxHeldPercent}</td></tr>
 *   <tr><td>{@code jipamd_pool_sticky_info}</td><td>pool, pods</td><td>sticky pools only: 1, with the
 *       pod patterns</td></tr>
 *   <tr><td>{@code jipamd_subpool_info}</td><td>pool, network, index, namespaces, pods, nodes,
 *       default_pool</td><td>sub-pools jipamd learnt from CNI calls on its socket: 1, with the
 *       network, the place in its {@code subPools}, the selectors and the default pool (empty:
 *       none)</td></tr>
 * </table>
 */
final class RuleGauges {
  private final MultiGauge reuseDelay;
  private final MultiGauge hold;
  private final MultiGauge bound;
  private final MultiGauge sticky;
  private final MultiGauge subPools;

  RuleGauges(PrometheusMeterRegistry registry) {
    reuseDelay = MultiGauge.builder("jipamd.pool.reuse.delay").baseUnit("seconds")
        .description("reuseDelaySeconds per pool: how long a released address cools down; 0: none").register(registry);
    hold = MultiGauge.builder("jipamd.pool.hold").baseUnit("seconds")
        .description("sticky.holdSeconds per sticky pool: how long a sticky pod's addresses are held").register(registry);
    bound = MultiGauge.builder("jipamd.pool.hold.bound").baseUnit("percent")
        .description("sticky.maxHeldPercent per sticky pool: the most of a range set holds may take").register(registry);
    sticky = MultiGauge.builder("jipamd.pool.sticky.info")
        .description("1 per sticky pool, with its pod patterns").register(registry);
    subPools = MultiGauge.builder("jipamd.subpool.info")
        .description("1 per sub-pool, with its network, place, selectors and the network's default pool").register(registry);
  }

  /** Sets every series from {@code pools}; {@code subPool} gives a pool's sub-pool, or null. */
  void set(Collection<Pool> pools, Function<String, SubPool> subPool) {
    List<MultiGauge.Row<?>> delays = new ArrayList<>();
    List<MultiGauge.Row<?>> holds = new ArrayList<>();
    List<MultiGauge.Row<?>> bounds = new ArrayList<>();
    List<MultiGauge.Row<?>> stickies = new ArrayList<>();
    List<MultiGauge.Row<?>> subs = new ArrayList<>();
    for (Pool pool : pools) {
      Tags tags = Tags.of("pool", pool.name());
      AddressPolicy policy = pool.policy();
      delays.add(MultiGauge.Row.of(tags, policy.reuseDelay().toSeconds()));
      StickyRule rule = policy.sticky();
      if (rule != null) {
        holds.add(MultiGauge.Row.of(tags, rule.hold().toSeconds()));
        bounds.add(MultiGauge.Row.of(tags, rule.maxHeldPercent()));
        stickies.add(MultiGauge.Row.of(tags.and("pods", join(rule.pods())), 1));
      }
      SubPool sub = subPool.apply(pool.name());
      if (sub != null) {
        subs.add(MultiGauge.Row.of(tags.and("network", sub.network(), "index", Integer.toString(sub.index()),
            "namespaces", join(sub.namespaces()), "pods", join(sub.pods()), "nodes", join(sub.nodes()),
            "default_pool", sub.defaultPool() == null ? "" : sub.defaultPool()), 1));
      }
    }
    reuseDelay.register(delays, true);
    hold.register(holds, true);
    bound.register(bounds, true);
    sticky.register(stickies, true);
    subPools.register(subs, true);
  }

  /** The values joined with {@code ,}, each escaped. */
  private static String join(List<?> values) {
    List<String> out = new ArrayList<>(values.size());
    values.forEach(v -> out.add(Printable.escape(String.valueOf(v))));
    return String.join(",", out);
  }
}
