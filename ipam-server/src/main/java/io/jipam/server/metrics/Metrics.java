package io.jipam.server.metrics;

import io.jipam.core.ErrorCode;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Claim;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.spi.ClaimEvents;
import io.jipam.core.store.capability.CommitCounters;
import io.jipam.core.store.capability.CommitListener;
import io.jipam.core.store.capability.NodeView;
import io.jipam.core.store.capability.PoolBlocks;
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
import java.util.Optional;
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
 *       node's own keys ({@link NodeView#nodeBlockUsage})</td></tr>
 *   <tr><td>{@code jipamd_node_blocks}</td><td>pool, range_set</td><td>etcd store only: blocks this
 *       node owns</td></tr>
 *   <tr><td>{@code jipamd_etcd_written_bytes_total}, {@code jipamd_etcd_committed_changes_total}</td>
 *       <td></td><td>etcd store only: bytes of keys and values its transactions wrote, and the
 *       changes they carried (their ratio: bytes per change)</td></tr>
 *   <tr><td>{@code jipamd_pool_claims}</td><td>pool, kind ({@code hold}, {@code reservation},
 *       {@code cooling})</td><td>claimed addresses per pool ({@link Claim}), read from the store's
 *       {@link Claims} at each scrape; on the etcd store (whose claims read every block of the pool)
 *       from a copy read at most once per {@link #POOL_TOTALS_EVERY} per pool; unexpired claims only</td></tr>
 *   <tr><td>{@code jipamd_allocations_total}</td><td>pool, origin ({@code free}, {@code requested},
 *       {@code reserved}, {@code sticky}, {@code cooled})</td><td>addresses handed out by ADDs, by why
 *       ({@link AllocationOrigin}); {@code cooled} counts the last resort of a pool where only cooling
 *       addresses were left</td></tr>
 *   <tr><td>{@code jipamd_hold_refusals_total}</td><td>pool</td><td>releases of a sticky pod that made no
 *       hold because the range set's bound ({@code sticky.maxHeldPercent}) was reached, counted where
 *       this jipamd's store decided ({@link ClaimEvents}); present once a pool has had one</td></tr>
 *   <tr><td>the pools' address rules and sub-pools</td><td>pool, ...</td><td>{@link RuleGauges}: {@code
 *       jipamd_pool_reuse_delay_seconds}, {@code jipamd_pool_hold_seconds}, {@code
 *       jipamd_pool_hold_bound_percent}, {@code jipamd_pool_sticky_info}, {@code jipamd_subpool_info}</td></tr>
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

  /** The etcd store's claims, by pool name, with when they were read (as {@link #totals}). */
  private final ConcurrentHashMap<String, ClaimTotals> claimTotals = new ConcurrentHashMap<>();

  private record ClaimTotals(List<Claim> claims, long readAt) {}

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
  private final ConcurrentHashMap<String, Counter> allocations = new ConcurrentHashMap<>();
  private final MultiGauge claims = MultiGauge.builder("jipamd.pool.claims")
      .description("claimed addresses per pool, by kind (hold, reservation, cooling)").register(registry);
  private final RuleGauges rules = new RuleGauges(registry);
  /** The pools whose hold-refusal counter is registered. */
  private final java.util.Set<String> refusalPools = ConcurrentHashMap.newKeySet();

  /**
   * What the watched stores committed, summed: counted from each store's commits (its listener),
   * not read from one store's counters, because a central jipamd has a store per node, opened and
   * evicted as nodes come and go, and a counter must never go down. Registered with the first
   * store that group-commits.
   */
  private volatile Counter writtenBytes;
  private volatile Counter committedChanges;

  /**
   * With a store that group-commits (the etcd store, {@link CommitCounters}), counts its
   * transactions from now on: their sizes per pool, and into the sums of every watched store, the
   * changes they carried and the bytes they wrote; the first such store also gives etcd's database
   * size. Any other store has no such meters. Thread-safe.
   */
  public void watchCommits(IpamStore store) {
    store.capability(CommitCounters.class).ifPresent(counters -> {
      registerSums(counters);
      counters.addCommitListener(new CommitListener() {
        @Override
        public void committed(String pool, int changes) {
          committed(pool, changes, 0);
        }

        @Override
        public void committed(String pool, int changes, long bytes) {
          DistributionSummary.builder("jipamd.etcd.commit.batch")
              .description("ADDs and DELs carried by one etcd transaction of the group commit")
              .baseUnit("changes").tags("pool", pool).serviceLevelObjectives(1, 2, 4, 8, 16, 32)
              .register(registry).record(changes);
          committedChanges.increment(changes);
          writtenBytes.increment(bytes);
        }
      });
    });
  }

  private synchronized void registerSums(CommitCounters first) {
    if (writtenBytes != null) {
      return;
    }
    committedChanges = Counter.builder("jipamd.etcd.committed.changes")
        .description("ADDs and DELs the etcd store's transactions carried").register(registry);
    writtenBytes = Counter.builder("jipamd.etcd.written.bytes")
        .description("bytes of keys and values the etcd store's transactions wrote").baseUnit("bytes")
        .register(registry);
    Gauge.builder("jipamd.etcd.db.size", first, CommitCounters::etcdDbSize)
        .description("etcd's database size as its first endpoint reports it; -1 when unknown").baseUnit("bytes")
        .register(registry);
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
   * Records the origins of one ADD's new addresses ({@link AllocationOrigin}; a repeated ADD's
   * {@code EXISTING} ones are not counted): {@code jipamd_allocations_total{pool, origin}}, whose
   * {@code origin="cooled"} series counts the last-resort hand-outs of cooling addresses.
   */
  public void allocated(String pool, List<AllocationOrigin> origins) {
    for (AllocationOrigin origin : origins) {
      if (origin == AllocationOrigin.EXISTING) {
        continue;
      }
      allocations.computeIfAbsent(pool + '\n' + origin, k -> Counter.builder("jipamd.allocations")
          .description("addresses handed out, by pool and why (free, requested, reserved, sticky, cooled)")
          .tags("pool", pool, "origin", origin.label()).register(registry))
          .increment();
    }
  }

  /**
   * Reads the usage of every pool from the store (store I/O: call it on a worker, not an event
   * loop) and returns the exposition text.
   */
  public String scrape(Collection<Pool> pools, IpamStore store) {
    return scrape(pools, name -> null, store);
  }

  /** As {@link #scrape(Collection, IpamStore)}, {@code subPool} naming each pool's sub-pool (null: none) for {@code jipamd_subpool_info}. */
  /** Set once the store refused to list claims to this jipamd (PERMISSION_DENIED): not asked again. */
  private volatile boolean claimsRefused;

  public String scrape(Collection<Pool> pools, java.util.function.Function<String, io.jipam.core.cni.SubPool> subPool,
      IpamStore store) {
    rules.set(pools, subPool);
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    List<MultiGauge.Row<?>> nodeRows = new ArrayList<>();
    List<MultiGauge.Row<?>> blockRows = new ArrayList<>();
    List<MultiGauge.Row<?>> claimRows = new ArrayList<>();
    Optional<NodeView> view = store.capability(NodeView.class);
    Optional<Claims> claimsOf = store.capability(Claims.class);
    for (Pool pool : pools) {
      try {
        addRows(rows, pool, usage(pool, store));
        if (claimsOf.isPresent() && !claimsRefused) {
          try {
            addClaimRows(claimRows, pool, claims(pool, store, claimsOf.get()));
          } catch (io.jipam.core.IpamException e) {
            if (e.code() != io.jipam.core.ErrorCode.PERMISSION_DENIED) {
              throw e;
            }
            // a node jipamd in front of a central one may not list claims (an operator's call): asking
            // at every scrape put a refused call and an error on the central jipamd each time
            claimsRefused = true;
          }
        }
        if (view.isPresent()) {
          PoolBlocks mine = view.get().nodeBlockUsage(pool);
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
    claims.register(claimRows, true);
    for (String pool : ClaimEvents.holdRefusals().keySet()) {
      if (refusalPools.add(pool)) { // once per pool: Micrometer warns of a function meter registered again
        FunctionCounter.builder("jipamd.hold.refusals", pool, p -> ClaimEvents.holdRefusals().getOrDefault(p, 0L))
            .description("holds refused because the range set's bound (sticky.maxHeldPercent) was reached")
            .tags("pool", pool).register(registry);
      }
    }
    return registry.scrape();
  }

  /** One row per claim kind, zeros included, so that a pool's claims going to none shows. */
  private static void addClaimRows(List<MultiGauge.Row<?>> rows, Pool pool, List<Claim> of) {
    long[] count = new long[Claim.Kind.values().length];
    for (Claim c : of) {
      count[c.kind().ordinal()]++;
    }
    for (Claim.Kind kind : Claim.Kind.values()) {
      rows.add(MultiGauge.Row.of(Tags.of("pool", pool.name(), "kind", kind.name().toLowerCase(java.util.Locale.ROOT)),
          count[kind.ordinal()]));
    }
  }

  /** The pool's usage: read now, or on a store of node blocks ({@link NodeView}: etcd) a copy at most {@link #POOL_TOTALS_EVERY} old. */
  private PoolUsage usage(Pool pool, IpamStore store) {
    if (store.capability(NodeView.class).isEmpty()) {
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

  /**
   * The pool's claims: read now, or on a store of node blocks ({@link NodeView}: etcd, whose claims
   * read every block record of the pool, as its usage does) a copy at most {@link
   * #POOL_TOTALS_EVERY} old.
   */
  private List<Claim> claims(Pool pool, IpamStore store, Claims claimsOf) {
    if (store.capability(NodeView.class).isEmpty()) {
      return claimsOf.claims(pool);
    }
    long now = nanoTime.getAsLong();
    ClaimTotals known = claimTotals.get(pool.name());
    if (known == null || now - known.readAt() >= POOL_TOTALS_EVERY.toNanos()) {
      known = new ClaimTotals(claimsOf.claims(pool), now);
      claimTotals.put(pool.name(), known);
    }
    return known.claims();
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
