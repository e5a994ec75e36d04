package io.jipam.server.metrics;

import io.jipam.core.ErrorCode;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.etcd.CommitCounters;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.PoolBlocks;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

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
 *       <td>per pool and range set, read from the store at each scrape; on the etcd store (whose
 *       usage reads every block of the pool) from a copy read at most once per
 *       {@link #POOL_TOTALS_EVERY} per pool</td></tr>
 *   <tr><td>{@code jipamd_node_addresses}</td><td>pool, range_set, state ({@code used}, {@code free})</td>
 *       <td>etcd store only: the addresses of this node's blocks, read at each scrape from the
 *       node's own keys ({@link EtcdStore#nodeBlockUsage})</td></tr>
 *   <tr><td>{@code jipamd_node_blocks}</td><td>pool, range_set</td><td>etcd store only: blocks this
 *       node owns</td></tr>
 *   <tr><td>{@code jipamd_etcd_written_bytes_total}, {@code jipamd_etcd_committed_changes_total}</td>
 *       <td></td><td>etcd store only: bytes of keys and values its transactions wrote, and the
 *       changes they carried (their ratio: bytes per change)</td></tr>
 *   <tr><td>{@code jipamd_etcd_db_size_bytes}</td><td></td><td>etcd store only: etcd's database
 *       size as its first endpoint reports it (one status request per scrape); -1 when unknown</td></tr>
 * </table>
 * gRPC methods are named as in {@code jipam.v1.Ipam} ({@code Allocate}); plugin calls on the
 * socket are {@code cni}.
 */
public final class Metrics {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final MultiGauge addresses = MultiGauge.builder("jipamd.pool.addresses")
      .description("addresses per pool and range set, by state (used, free)").register(registry);

  /**
   * How stale the etcd store's pool totals in a scrape may be: reading them reads every block
   * record of the pool (about 1 MB at 550,000 allocations), so 5,000 nodes reading them every 10
   * minutes cost etcd about 8 MB/s.
   */
  public static final java.time.Duration POOL_TOTALS_EVERY = java.time.Duration.ofMinutes(10);

  private final MultiGauge nodeAddresses = MultiGauge.builder("jipamd.node.addresses")
      .description("addresses in this node's blocks per pool and range set, by state (used, free)").register(registry);
  private final MultiGauge nodeBlocks = MultiGauge.builder("jipamd.node.blocks")
      .description("blocks this node owns per pool and range set").register(registry);
  /** The etcd store's pool totals, by pool name, with when they were read. */
  private final ConcurrentHashMap<String, Totals> totals = new ConcurrentHashMap<>();
  private final LongSupplier nanoTime;

  private record Totals(PoolUsage usage, long readAt) {}

  public Metrics() {
    this(System::nanoTime);
  }

  /** With the clock that decides when the etcd store's pool totals are read again. */
  public Metrics(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  /** Meters by method and outcome, so that a call costs two map lookups, not two registrations. */
  private final ConcurrentHashMap<String, Counter> calls = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Timer> durations = new ConcurrentHashMap<>();

  /**
   * With a store that group-commits (the etcd store, {@link CommitCounters}), records the size of
   * each of its transactions from now on; any other store has no such meter.
   */
  public void watchCommits(IpamStore store) {
    if (store instanceof CommitCounters counters) {
      counters.addCommitListener((pool, changes) -> DistributionSummary.builder("jipamd.etcd.commit.batch")
          .description("ADDs and DELs carried by one etcd transaction of the group commit")
          .baseUnit("changes").tags("pool", pool).serviceLevelObjectives(1, 2, 4, 8, 16, 32)
          .register(registry).record(changes));
      FunctionCounter.builder("jipamd.etcd.written.bytes", counters, CommitCounters::bytesWritten)
          .description("bytes of keys and values the etcd store's transactions wrote").baseUnit("bytes")
          .register(registry);
      FunctionCounter.builder("jipamd.etcd.committed.changes", counters, CommitCounters::committedRequests)
          .description("ADDs and DELs the etcd store's transactions carried").register(registry);
      Gauge.builder("jipamd.etcd.db.size", counters, CommitCounters::etcdDbSize)
          .description("etcd's database size as its first endpoint reports it; -1 when unknown").baseUnit("bytes")
          .register(registry);
    }
  }

  /** Records one answered call. {@code code} is the error's code when the call failed, else null. */
  public void call(String method, String outcome, ErrorCode code, long startNanos) {
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
  public String scrape(Collection<Pool> pools, IpamStore store) {
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    List<MultiGauge.Row<?>> nodeRows = new ArrayList<>();
    List<MultiGauge.Row<?>> blockRows = new ArrayList<>();
    for (Pool pool : pools) {
      try {
        addRows(rows, pool, usage(pool, store));
        if (store instanceof EtcdStore etcd) {
          PoolBlocks mine = etcd.nodeBlockUsage(pool);
          addRows(nodeRows, pool, mine.usage());
          for (int i = 0; i < mine.usage().allocated().size(); i++) {
            int set = i;
            blockRows.add(MultiGauge.Row.of(Tags.of("pool", pool.name(), "range_set", Integer.toString(i)),
                mine.blocks().stream().filter(b -> b.rangeSet() == set).count()));
          }
        }
      } catch (RuntimeException e) {
        continue; // the store does not answer now: this pool has no figures in this scrape
      }
    }
    addresses.register(rows, true);
    nodeAddresses.register(nodeRows, true);
    nodeBlocks.register(blockRows, true);
    return registry.scrape();
  }

  /** The pool's usage: read now, or on the etcd store a copy at most {@link #POOL_TOTALS_EVERY} old. */
  private PoolUsage usage(Pool pool, IpamStore store) {
    if (!(store instanceof EtcdStore)) {
      return store.usage(pool);
    }
    long now = nanoTime.getAsLong();
    Totals known = totals.get(pool.name());
    if (known == null || now - known.readAt() >= POOL_TOTALS_EVERY.toNanos()) {
      known = new Totals(store.usage(pool), now);
      totals.put(pool.name(), known);
    }
    return known.usage();
  }

  private static void addRows(List<MultiGauge.Row<?>> rows, Pool pool, PoolUsage usage) {
    for (int i = 0; i < usage.allocated().size(); i++) {
      Tags tags = Tags.of("pool", pool.name(), "range_set", Integer.toString(i));
      long free = usage.free().get(i);
      rows.add(MultiGauge.Row.of(tags.and("state", "used"), usage.allocated().get(i)));
      rows.add(MultiGauge.Row.of(tags.and("state", "free"), free < 0 ? 0x1p64 + free : free));
    }
  }
}
