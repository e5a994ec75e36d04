package io.jipam.bench.etcd;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.harness.Stats;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * {@code etcd}: the etcd store next to its two reference points on one real etcd (started here
 * from the {@code etcd} binary on loopback with a temporary data dir, or {@code --endpoints}):
 * raw compare-and-swap, one transaction per allocation, {@code nodes × callers} in flight on keys of
 * their own over {@code nodes} clients (one per caller of the store: the ceiling of that design
 * at the store's concurrency), and every allocation under one global etcd lock (whereabouts'
 * design). Each round runs the four phases in turn (raw, lock, store ADD, store ADD+DEL), each with
 * a one-second warm-up; the summary gives medians over rounds and the store's ratios to both.
 */
public final class EtcdScenario implements Scenario {
  static final String RAW = "raw CAS";
  static final String LOCK = "global lock";
  static final String STORE = "jipam etcd store";

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--endpoints", paramLabel = "URL", split = ",",
        description = "an etcd to use instead of starting one (its data is left under a random prefix)")
    List<String> endpoints;

    @Option(names = "--seconds", paramLabel = "S", description = "measured seconds per phase (default: 2; --quick: 1)")
    Integer seconds;

    @Option(names = "--nodes", paramLabel = "N", description = "simulated nodes / clients (default: 8; --quick: 2)")
    Integer nodes;

    @Option(names = "--callers", paramLabel = "N", description = "caller threads per node on the store (default: 32; --quick: 4)")
    Integer callers;
  }

  private final Options options;

  public EtcdScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "etcd";
  }

  private int rounds(RunContext c) {
    return c.roundsOr(c.quick() ? 1 : 3);
  }

  private int seconds(RunContext c) {
    return options.seconds != null ? options.seconds : c.quick() ? 1 : 2;
  }

  private int nodes(RunContext c) {
    return options.nodes != null ? options.nodes : c.quick() ? 2 : 8;
  }

  private int callers(RunContext c) {
    return options.callers != null ? options.callers : c.quick() ? 4 : 32;
  }

  @Override
  public void validate(boolean quick) {
    for (Integer v : java.util.Arrays.asList(options.seconds, options.nodes, options.callers)) {
      if (v != null && v < 1) {
        throw new IllegalArgumentException("--seconds, --nodes and --callers must be >= 1, got " + v);
      }
    }
  }

  @Override
  public long steps(RunContext c) {
    return rounds(c) * 3L;
  }

  @Override
  public void run(RunContext c) throws Exception {
    int seconds = seconds(c);
    int nodes = nodes(c);
    int callers = callers(c);
    String workload = "nodes=" + nodes + ";callers=" + callers + ";seconds=" + seconds;
    Etcd etcd = null;
    List<String> endpoints = options.endpoints;
    try {
      if (endpoints == null) {
        if (Etcd.binary() == null) {
          throw new IllegalStateException("no etcd binary on PATH: apt-get install etcd-server, or pass --endpoints");
        }
        c.progress().step("starting etcd");
        etcd = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start();
        endpoints = etcd.endpoints();
      }
      for (int r = 0; r < rounds(c); r++) {
        c.progress().step("round " + (r + 1) + ": " + RAW);
        add(c, workload, RAW, "transaction", r, EtcdLoads.rawCas(endpoints, nodes, callers, Duration.ofSeconds(1), Duration.ofSeconds(seconds), null));
        c.progress().advance(1);
        c.progress().step("round " + (r + 1) + ": " + LOCK);
        add(c, workload, LOCK, "ADD", r, EtcdLoads.globalLock(endpoints, nodes, seconds));
        c.progress().advance(1);
        c.progress().step("round " + (r + 1) + ": " + STORE);
        double[] store = EtcdLoads.store(endpoints, nodes, seconds, callers);
        add(c, workload, STORE, "ADD", r, store[0]);
        add(c, workload, STORE, "ADD+DEL", r, store[1]);
        c.results().add(new Sample(name(), workload, STORE, "ADD", r, "requests per transaction", "requests", 1,
            store[2]));
        c.progress().advance(1);
      }
    } finally {
      if (etcd != null) {
        etcd.close();
      }
    }
    report(c, workload, nodes, callers, seconds);
  }

  private void add(RunContext c, String workload, String subject, String operation, int round, double perSecond) {
    c.results().add(new Sample(name(), workload, subject, operation, round, "throughput", "ops/s", 1, perSecond));
  }

  private double median(RunContext c, String subject, String operation, String metric) {
    return Stats.median(c.results().values(s -> s.scenario().equals(name()) && s.subject().equals(subject)
        && s.operation().equals(operation) && s.metric().equals(metric)));
  }

  private void report(RunContext c, String workload, int nodes, int callers, int seconds) throws Exception {
    double raw = median(c, RAW, "transaction", "throughput");
    double lock = median(c, LOCK, "ADD", "throughput");
    double add = median(c, STORE, "ADD", "throughput");
    double churn = median(c, STORE, "ADD+DEL", "throughput");
    double batching = median(c, STORE, "ADD", "requests per transaction");
    Report r = c.report();
    r.heading(2, "etcd").paragraph("One etcd on loopback, " + rounds(c) + " rounds of " + seconds + " s per phase after "
        + "a 1 s warm-up. Raw CAS: " + nodes + " clients with " + callers + " compare-and-swap loops each on "
        + "keys of their own (" + nodes * callers + " transactions in flight, one per caller of the store): the "
        + "ceiling of one transaction per allocation at the store's concurrency. Global lock: " + nodes + " clients, every allocation under one etcd "
        + "lock (read the pool object, write it back), whereabouts' design. Store: " + nodes + " simulated "
        + "nodes (" + nodes + " store instances) with " + callers + " callers each. Medians over rounds; a "
        + "ratio above 1 means the store does more per second.");
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of(RAW, "transactions/s", Report.fmt(raw), "", ""));
    rows.add(List.of(LOCK, "allocations/s", Report.fmt(lock), "", ""));
    rows.add(List.of(STORE + ", ADD", "allocations/s", Report.fmt(add), Report.ratio(Stats.ratio(add, lock)),
        Report.ratio(Stats.ratio(add, raw))));
    rows.add(List.of(STORE + ", ADD+DEL", "operations/s", Report.fmt(churn), "", ""));
    r.table(List.of("design", "unit", "median", "store / global lock", "store / raw CAS"), "llrrr", rows);
    r.paragraph("The store committed " + Report.fmt(batching) + " requests per etcd transaction (median of rounds).");
    Chart chart = new Chart(Chart.Kind.BARS, "etcd: allocations per second (" + nodes + " nodes)", "design",
        "per second (log)", Chart.Scale.LOG);
    chart.put("median over rounds", RAW + " (tx)", raw).put("median over rounds", LOCK, lock)
        .put("median over rounds", "store ADD", add).put("median over rounds", "store ADD+DEL (ops)", churn);
    chart.savePng(c.file("etcd-throughput.png"), 900, 540);
    r.image("etcd throughput", "etcd-throughput.png");
  }
}
