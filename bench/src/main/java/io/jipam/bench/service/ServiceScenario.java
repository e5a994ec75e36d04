package io.jipam.bench.service;

import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.support.Dirs;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/**
 * {@code service}: jipamd as a real process per store (memory, file, etcd on a one-member etcd
 * started here), each on a unix socket in a temporary directory, loaded by {@link
 * PairLoad}: N clients in this JVM, each a chain of asynchronous allocate + release pairs
 * of its own attachments, over at most {@code --connections} HTTP/2 connections.
 *
 * <h2>Method</h2>
 * Every jipamd is started first and warmed up (a run at 16 clients, not counted). Then each round
 * measures every (store, concurrency) cell once, in an order drawn from the seed, so every store
 * is measured at every level of the machine's load: a cell is one {@link PairLoad#run}
 * with a short warm-up and a measured window. Per cell and round the samples are pairs per second,
 * the p50/p99/p99.9 latency of a pair (ADD then DEL, as the load generator times it), the calls
 * that failed, and CPU per pair of jipamd and of this JVM (the clients), both read by the load
 * generator over its window, and for the etcd store of etcd ({@code /proc/<pid>/stat}, read at
 * the end of the warm-up and when the run returns).
 */
public final class ServiceScenario implements Scenario {
  static final List<String> STORES = List.of("memory", "file", "etcd");

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--jipamd", paramLabel = "PATH",
        description = "the jipamd launcher (default: bin/jipamd of the dist this launcher is in; without one, "
            + "jipamd's class on this JVM's class path)")
    Path jipamd;

    @Option(names = "--stores", paramLabel = "STORE", split = ",",
        description = "stores to serve, of memory, file, etcd (default: all three)")
    List<String> stores;

    @Option(names = "--concurrency", paramLabel = "N", split = ",",
        description = "client threads at once, one cell each (default: 1,16,64,256; --quick: 1,4)")
    List<Integer> concurrency;

    @Option(names = "--connections", paramLabel = "N",
        description = "HTTP/2 connections the clients share, at most one per client (default: 4)")
    Integer connections;

    @Option(names = "--seconds", paramLabel = "S",
        description = "measured seconds per cell and round (default: 1.5; --quick: 0.3)")
    Double seconds;

    @Option(names = "--warmup", paramLabel = "S",
        description = "warm-up seconds before each cell's window (default: 0.5; --quick: 0.2)")
    Double warmup;

    @Option(names = "--central",
        description = "also the central-jipamd cell: a central jipamd on a one-member etcd under --central-nodes x "
            + "--central-callers clients, against the raw one-CAS ceiling and that many nodes on etcd directly, "
            + "with daemon-mode ADDs through a node jipamd (needs etcd and dist/bin/jipam)")
    boolean central;

    @Option(names = "--central-nodes", paramLabel = "N", description = "nodes of the central cell (default: 16)")
    int centralNodes = 16;

    @Option(names = "--central-callers", paramLabel = "N",
        description = "clients per node of the central cell (default: 4)")
    int centralCallers = 4;

    @Option(names = "--central-adds", paramLabel = "N",
        description = "daemon-mode ADDs per round of the central cell (default: 40; --quick: 4)")
    Integer centralAdds;

    @Option(names = "--central-seconds", paramLabel = "S",
        description = "measured seconds per cell and round of the central cell (default: 10; --quick: 1)")
    Double centralSeconds;
  }

  private final Options options;

  public ServiceScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "service";
  }

  List<String> stores() {
    return options.stores != null ? options.stores : STORES;
  }

  List<Integer> concurrency(boolean quick) {
    return options.concurrency != null ? options.concurrency : quick ? List.of(1, 4) : List.of(1, 16, 64, 256);
  }

  int rounds(RunContext c) {
    return c.roundsOr(c.quick() ? 1 : 3);
  }

  double seconds(boolean quick) {
    return options.seconds != null ? options.seconds : quick ? 0.3 : 1.5;
  }

  private double warmup(boolean quick) {
    return options.warmup != null ? options.warmup : quick ? 0.2 : 0.5;
  }

  private int connections() {
    return options.connections != null ? options.connections : 4;
  }

  @Override
  public void validate(boolean quick) {
    for (String s : stores()) {
      if (!STORES.contains(s)) {
        throw new IllegalArgumentException("--stores: each must be one of memory, file, etcd, got '" + s + "'");
      }
    }
    if (stores().isEmpty() || stores().size() != stores().stream().distinct().count()) {
      throw new IllegalArgumentException("--stores: name each store once, got " + stores());
    }
    for (int n : concurrency(quick)) {
      if (n < 1 || n > 4096) {
        throw new IllegalArgumentException("--concurrency: each must be in [1, 4096], got " + n);
      }
    }
    if (connections() < 1) {
      throw new IllegalArgumentException("--connections must be >= 1, got " + connections());
    }
    if (!(seconds(quick) > 0 && seconds(quick) <= 600)) {
      throw new IllegalArgumentException("--seconds must be in (0, 600], got " + seconds(quick));
    }
    if (!(warmup(quick) >= 0 && warmup(quick) <= 600)) {
      throw new IllegalArgumentException("--warmup must be in [0, 600], got " + warmup(quick));
    }
    if (options.central && (options.centralNodes < 1 || options.centralNodes > 256 || options.centralCallers < 1
        || options.centralCallers > 64 || centralAdds(quick) < 0 || !(centralSeconds(quick) > 0
        && centralSeconds(quick) <= 600))) {
      throw new IllegalArgumentException("--central-nodes must be in [1, 256], --central-callers in [1, 64], "
          + "--central-adds >= 0 and --central-seconds in (0, 600], got " + options.centralNodes + ", "
          + options.centralCallers + ", " + centralAdds(quick) + ", " + centralSeconds(quick));
    }
    if (options.jipamd != null && !Files.isExecutable(options.jipamd)) {
      throw new IllegalArgumentException("--jipamd: " + options.jipamd + " is not an executable file");
    }
  }

  @Override
  public long steps(RunContext c) {
    // start, one warm-up per store, then every cell of every round
    int stores = runnableStores().size();
    return 1 + stores + (long) rounds(c) * stores * concurrency(c.quick()).size()
        + (runsCentralCell() ? 1 + rounds(c) : 0);
  }

  /** Whether the central-jipamd cell runs: asked for, and etcd is here. */
  private boolean runsCentralCell() {
    return options.central && Etcd.binary() != null;
  }

  private int centralAdds(boolean quick) {
    return options.centralAdds != null ? options.centralAdds : quick ? 4 : 40;
  }

  private double centralSeconds(boolean quick) {
    return options.centralSeconds != null ? options.centralSeconds : quick ? 1 : 10;
  }

  /** The stores asked for that can run here: etcd needs the etcd binary. */
  private List<String> runnableStores() {
    List<String> stores = new ArrayList<>(stores());
    if (Etcd.binary() == null) {
      stores.remove("etcd");
    }
    return stores;
  }

  /** The launcher to run, or null for this JVM's class path. */
  private Path launcher() {
    if (options.jipamd != null) {
      return options.jipamd.toAbsolutePath();
    }
    Path dist = Path.of(System.getProperty("jipam.dist", "dist"), "bin", "jipamd").toAbsolutePath().normalize();
    return Files.isExecutable(dist) ? dist : null;
  }

  @Override
  public void run(RunContext c) throws Exception {
    if (!ProcCpu.available()) {
      throw new IllegalStateException("/proc/self/stat is not readable: CPU per pair needs Linux /proc");
    }
    List<String> stores = runnableStores();
    List<String> skipped = new ArrayList<>();
    if (stores().contains("etcd") && !stores.contains("etcd")) {
      skipped.add("**etcd store not run**: no etcd binary on PATH (Debian: apt-get install etcd-server).");
    }
    Path launcher = launcher();
    // --quick: a cheaper start (C1 only, serial GC); the figures mean nothing there anyway
    List<String> jvm = c.quick() ? List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC") : List.of();
    Path work = Dirs.temporary("jipam-bench-service");
    Map<String, JipamdProcess> jipamds = new LinkedHashMap<>();
    Etcd etcd = null;
    try {
      c.progress().step("starting jipamd (" + String.join(", ", stores) + ")");
      // the JVMs start while etcd does
      for (String store : stores) {
        switch (store) {
          case "memory" -> jipamds.put(store, JipamdProcess.launchOnSocket(launcher, work.resolve(store + ".sock"),
              List.of("--store", "memory"), jvm));
          case "file" -> jipamds.put(store, JipamdProcess.launchOnSocket(launcher, work.resolve(store + ".sock"),
              List.of("--store", "file", "--data-dir", work.resolve("data").toString()), jvm));
          default -> { } // etcd: below, once etcd answers
        }
      }
      if (stores.contains("etcd")) {
        etcd = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start();
        Path config = work.resolve("etcd.json");
        Files.writeString(config, "{\"endpoints\": [\"" + etcd.endpoints().get(0) + "\"], \"node\": \"bench-node\", "
            + "\"prefix\": \"/jipam-bench-" + UUID.randomUUID() + "\"}");
        jipamds.put("etcd", JipamdProcess.launchOnSocket(launcher, work.resolve("etcd.sock"),
            List.of("--store", "etcd", "--etcd-config", config.toString()), jvm));
      }
      for (JipamdProcess j : jipamds.values()) {
        j.awaitReady();
      }
      c.progress().advance(1);
      long warmNanos = nanos(warmup(c.quick()));
      long measureNanos = nanos(seconds(c.quick()));
      for (String store : stores) {
        c.progress().step(store + ": warming up jipamd");
        int clients = c.quick() ? 2 : 16;
        // the JIT settles here, once per jipamd (not in --quick: its figures mean nothing anyway)
        PairLoad.run(jipamds.get(store).endpoint(), clients, Math.min(clients, connections()), Duration.ZERO,
            c.quick() ? Duration.ZERO : PairLoad.MAX_WARMUP, Duration.ofNanos(c.quick() ? measureNanos : nanos(2)),
            jipamds.get(store).pid());
        c.progress().advance(1);
      }
      List<long[]> cells = new ArrayList<>(); // {store index, concurrency}
      for (int s = 0; s < stores.size(); s++) {
        for (int n : concurrency(c.quick())) {
          cells.add(new long[] {s, n});
        }
      }
      Random order = new Random(c.random(name()).nextLong());
      for (int r = 0; r < rounds(c); r++) {
        List<long[]> shuffled = new ArrayList<>(cells);
        Collections.shuffle(shuffled, order);
        for (long[] cell : shuffled) {
          String store = stores.get((int) cell[0]);
          int clients = (int) cell[1];
          c.progress().step("round " + (r + 1) + ": " + store + " store, " + clients + " at once");
          JipamdProcess j = jipamds.get(store);
          measure(c, store, j, etcd, clients, r, warmNanos, measureNanos);
          if (!j.isAlive()) {
            throw new IllegalStateException("jipamd (" + store + " store) exited during the run");
          }
          c.progress().advance(1);
        }
      }
      if (runsCentralCell()) {
        new CentralCell(options.centralNodes, options.centralCallers, centralAdds(c.quick())).run(c, name(), launcher,
            rounds(c), centralSeconds(c.quick()), work);
      }
    } finally {
      for (JipamdProcess j : jipamds.values()) {
        j.close();
      }
      if (etcd != null) {
        etcd.close();
      }
      Dirs.deleteTree(work);
    }
    new ServiceReport(c, name(), stores, concurrency(c.quick()), rounds(c), seconds(c.quick()), connections(),
        launcher, skipped).write();
    if (runsCentralCell()) {
      new CentralCell(options.centralNodes, options.centralCallers, centralAdds(c.quick())).report(c, name(), rounds(c));
    } else if (options.central) {
      c.report().paragraph("**Central jipamd cell not run**: no etcd binary on PATH.");
    }
  }

  static String workload(int clients, int connections) {
    return "concurrency=" + clients + ";connections=" + connections;
  }

  int connectionsFor(int clients) {
    return Math.min(clients, connections());
  }

  private void measure(RunContext c, String store, JipamdProcess j, Etcd etcd, int clients, int round,
      long warmNanos, long measureNanos) throws Exception {
    int connections = connectionsFor(clients);
    long etcdPid = "etcd".equals(store) && etcd != null ? etcd.pids().get(0) : -1;
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
    try {
      // etcd's CPU over the same window as the load generator reads jipamd's and its own: from the
      // end of the warm-up until the last pair started in the window is answered
      ScheduledFuture<Double> etcdBefore = sampler.schedule(() -> etcdPid > 0 ? ProcCpu.millis(etcdPid) : 0,
          warmNanos, TimeUnit.NANOSECONDS);
      // jipamd's JIT settled in its warm-up run: a cell warms up for exactly its warm-up
      PairLoad.Result result = PairLoad.run(j.endpoint(), clients, connections,
          Duration.ofNanos(warmNanos), Duration.ofNanos(warmNanos), Duration.ofNanos(measureNanos), j.pid());
      double etcdCpu = etcdPid > 0 ? ProcCpu.millis(etcdPid) - etcdBefore.get() : 0;
      String w = workload(clients, connections);
      int pairs = (int) Math.min(Integer.MAX_VALUE, result.pairs());
      add(c, w, store, "pair", round, "throughput", "pairs/s", Math.max(1, pairs), result.pairsPerSecond());
      add(c, w, store, "pair", round, "failures", "count", 1, result.failures());
      if (pairs == 0) {
        return;
      }
      long[] sorted = result.latencyNanos(); // sorted by the load generator
      for (double p : new double[] {50, 99, 99.9}) {
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1; // nearest rank, as Stats.percentile
        double ms = sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e6;
        add(c, w, store, "pair", round, metric(p), "ms", pairs, ms);
      }
      if (result.serverCpuNanos() >= 0) {
        add(c, w, store, "pair", round, "cpu jipamd", "ms", pairs, result.serverCpuNanos() / 1e6);
      }
      add(c, w, store, "pair", round, "cpu clients", "ms", pairs, result.clientCpuNanos() / 1e6);
      if (etcdPid > 0) {
        add(c, w, store, "pair", round, "cpu etcd", "ms", pairs, etcdCpu);
      }
    } finally {
      sampler.shutdownNow();
    }
  }

  static String metric(double percentile) {
    return percentile == 50 ? "p50" : percentile == 99 ? "p99" : "p99.9";
  }

  private void add(RunContext c, String workload, String subject, String operation, int round, String metric,
      String unit, int calls, double value) {
    c.results().add(new Sample(name(), workload, subject, operation, round, metric, unit, calls, value));
  }

  private static long nanos(double seconds) {
    return (long) (seconds * 1e9);
  }
}
