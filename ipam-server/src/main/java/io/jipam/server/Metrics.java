package io.jipam.server;

import io.jipam.core.ErrorCode;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.etcd.CommitCounters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * jipamd's meters, exposed in the Prometheus text format by {@link #scrape}. Thread-safe.
 *
 * <table>
 *   <caption>Meters (Prometheus names)</caption>
 *   <tr><th>name</th><th>labels</th><th>what</th></tr>
 *   <tr><td>{@code jipamd_calls_total}</td><td>method, outcome</td><td>calls answered; outcome is
 *       {@code ok}, an Allocate outcome ({@code allocated}, {@code taken}, {@code unavailable},
 *       {@code exhausted}), {@code error} or {@code busy} (queue full)</td></tr>
 *   <tr><td>{@code jipamd_errors_total}</td><td>method, code, cni_code</td><td>calls that failed, by
 *       jipam error code</td></tr>
 *   <tr><td>{@code jipamd_call_duration_seconds}</td><td>method</td><td>histogram of call latency,
 *       from decoded request to answer</td></tr>
 *   <tr><td>{@code jipamd_etcd_commit_batch_changes}</td><td>pool</td><td>summary with buckets
 *       ({@code _bucket}, {@code _count}, {@code _sum}, {@code _max}): ADDs and DELs per etcd
 *       transaction of the group commit (etcd store only)</td></tr>
 *   <tr><td>{@code jipamd_pool_addresses}</td><td>pool, range_set, state ({@code used}, {@code free})</td>
 *       <td>per pool and range set, read from the store at each scrape</td></tr>
 * </table>
 * gRPC methods are named as in {@code jipam.v1.Ipam} ({@code Allocate}); plugin calls on the
 * socket are {@code cni}.
 */
final class Metrics {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final MultiGauge addresses = MultiGauge.builder("jipamd.pool.addresses")
      .description("addresses per pool and range set, by state (used, free)").register(registry);

  /** Meters by method and outcome, so that a call costs two map lookups, not two registrations. */
  private final ConcurrentHashMap<String, Counter> calls = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Timer> durations = new ConcurrentHashMap<>();

  /**
   * With a store that group-commits (the etcd store, {@link CommitCounters}), records the size of
   * each of its transactions from now on; any other store has no such meter.
   */
  void watchCommits(IpamStore store) {
    if (store instanceof CommitCounters counters) {
      counters.addCommitListener((pool, changes) -> DistributionSummary.builder("jipamd.etcd.commit.batch")
          .description("ADDs and DELs carried by one etcd transaction of the group commit")
          .baseUnit("changes").tags("pool", pool).serviceLevelObjectives(1, 2, 4, 8, 16, 32)
          .register(registry).record(changes));
    }
  }

  /** Records one answered call. {@code code} is the error's code when the call failed, else null. */
  void call(String method, String outcome, ErrorCode code, long startNanos) {
    long nanos = System.nanoTime() - startNanos;
    calls.computeIfAbsent(method + '\n' + outcome, k -> Counter.builder("jipamd.calls")
        .description("calls answered, by method and outcome")
        .tags("method", method, "outcome", outcome).register(registry)).increment();
    durations.computeIfAbsent(method, k -> Timer.builder("jipamd.call.duration")
        .description("call latency, decoded request to answer")
        .tags("method", method).publishPercentileHistogram().register(registry)).record(nanos, TimeUnit.NANOSECONDS);
    if (code != null) {
      Counter.builder("jipamd.errors").description("failed calls, by jipam error code")
          .tags("method", method, "code", code.name(), "cni_code", Integer.toString(code.cniCode()))
          .register(registry).increment();
    }
  }

  /**
   * Reads the usage of every pool from the store (store I/O: call it on a worker, not an event
   * loop) and returns the exposition text.
   */
  String scrape(PoolRegistry pools, IpamStore store) {
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    for (Pool pool : pools.all()) {
      PoolUsage usage;
      try {
        usage = store.usage(pool);
      } catch (RuntimeException e) {
        continue; // the store does not answer now: this pool has no figures in this scrape
      }
      for (int i = 0; i < usage.allocated().size(); i++) {
        Tags tags = Tags.of("pool", pool.name(), "range_set", Integer.toString(i));
        long free = usage.free().get(i);
        rows.add(MultiGauge.Row.of(tags.and("state", "used"), usage.allocated().get(i)));
        rows.add(MultiGauge.Row.of(tags.and("state", "free"), free < 0 ? 0x1p64 + free : free));
      }
    }
    addresses.register(rows, true);
    return registry.scrape();
  }
}
