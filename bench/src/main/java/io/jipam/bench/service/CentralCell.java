package io.jipam.bench.service;

import io.jipam.bench.etcd.EtcdLoads;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Stats;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The central-jipamd cell of {@code service} ({@code --central}): the "nodes through a central
 * jipamd" topology against its baselines, in one run on one one-member etcd started here. Per
 * round, one after the other: raw one-CAS-per-allocation transactions with {@code nodes} clients
 * (one per node) and with {@code nodes × callers} (one per caller: the ceiling at the load's
 * concurrency, issue 18's baseline) ({@link EtcdLoads#rawCas}); {@code nodes} etcd store instances with {@code callers} callers each,
 * ADD+DEL pairs, as if every node ran its own jipamd on etcd ({@link EtcdLoads#store}); then one
 * central {@code jipamd --store etcd} (plain TCP on loopback) under {@link PairLoad} with
 * {@code nodes × callers} asynchronous clients, client {@code c} naming node {@code c % nodes}, while
 * {@code adds} daemon-mode ADDs of the plugin go one after the other through a node jipamd
 * ({@code --store remote}) to that central jipamd, each timed from exec to exit. Each cell's window
 * also yields its CPU per allocation: etcd's, this JVM's and (central) jipamd's ({@link CpuWindow}).
 */
public final class CentralCell {
  /**
   * The least warm-up of the central jipamd under the load, before round 1 (longer until the JIT
   * compilers of it and of this JVM settle): a central jipamd is a service that runs for weeks,
   * and what its first seconds cost (C2 compiling the gRPC and etcd paths) is not what it costs.
   */
  static final Duration WARMUP = Duration.ofSeconds(30);
  /** Untimed daemon-mode ADDs through the node jipamd after that warm-up, so its path is warm too. */
  static final int WARMUP_DAEMON_ADDS = 100;

  private final int nodes;
  private final int callers;
  private final int adds;

  CentralCell(int nodes, int callers, int adds) {
    this.nodes = nodes;
    this.callers = callers;
    this.adds = adds;
  }

  String workload() {
    return "central;nodes=" + nodes + ";callers=" + callers;
  }

  /** Measures {@code rounds} rounds of {@code seconds} per cell; adds the samples to the run's results. */
  void run(RunContext c, String scenario, Path launcher, int rounds, double seconds, Path work) throws Exception {
    Path dist = launcher != null ? launcher.getParent() : Path.of(System.getProperty("jipam.dist", "dist"), "bin");
    Path plugin = dist.resolve("jipam").toAbsolutePath();
    Path dir = Files.createDirectories(work.resolve("central"));
    Duration window = Duration.ofMillis((long) (seconds * 1000));
    try (Etcd etcd = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start()) {
      List<String> endpoints = etcd.endpoints();
      Path config = dir.resolve("etcd.json");
      Files.writeString(config, "{\"endpoints\": [\"" + endpoints.get(0) + "\"], \"node\": \"central-0\", \"prefix\": "
          + "\"/central-bench-" + UUID.randomUUID() + "\", \"timeoutMillis\": 10000}");
      int port = Ports.free();
      int clients = nodes * callers;
      List<String> centralArgs = List.of("--listen", "127.0.0.1:" + port, "--insecure", "--store", "etcd",
          "--etcd-config", config.toString(), "--workers", Integer.toString(clients + 8));
      try (JipamdProcess central = JipamdProcess.launchOnSocket(launcher, dir.resolve("etcd.sock"), centralArgs,
          List.of())) {
        central.awaitReady();
        Path nodeDir = Files.createDirectories(dir.resolve("node"));
        try (JipamdProcess node = JipamdProcess.launchOnSocket(launcher, nodeDir.resolve("remote.sock"),
            List.of("--store", "remote", "--remote", "127.0.0.1:" + port, "--remote-insecure", "--node-name",
                "node-daemon"), List.of())) {
          node.awaitReady();
          String target = "127.0.0.1:" + port;
          c.progress().step("central: warming up jipamd");
          Duration warm = c.quick() ? Duration.ofSeconds(2) : WARMUP;
          PairLoad.run(target, clients, Math.min(4, clients), nodes, warm,
              c.quick() ? warm : PairLoad.MAX_WARMUP, Duration.ofSeconds(2), central.pid());
          daemonAdds(plugin, node.endpoint(), c.quick() ? 1 : WARMUP_DAEMON_ADDS, dir);
          c.progress().advance(1);
          for (int r = 0; r < rounds; r++) {
            c.progress().step("round " + (r + 1) + ": central jipamd, " + nodes + " nodes x " + callers + " clients");
            add(c, scenario, "load average", r, "at start", "1 min", 1, loadAverage());
            long etcdPid = etcd.pids().get(0);
            CpuWindow rawCpu = new CpuWindow(etcdPid);
            double raw = EtcdLoads.rawCas(endpoints, nodes, Duration.ofSeconds(1), window, rawCpu);
            add(c, scenario, "raw CAS", r, "throughput", "transactions/s", 1, raw);
            addCpu(c, scenario, "raw CAS", r, rawCpu, raw * window.toNanos() / 1e9);
            CpuWindow rawAllCpu = new CpuWindow(etcdPid);
            double rawAll = EtcdLoads.rawCas(endpoints, nodes, callers, Duration.ofSeconds(1), window, rawAllCpu);
            add(c, scenario, "raw CAS per caller", r, "throughput", "transactions/s", 1, rawAll);
            addCpu(c, scenario, "raw CAS per caller", r, rawAllCpu, rawAll * window.toNanos() / 1e9);
            CpuWindow directCpu = new CpuWindow(etcdPid);
            int directSeconds = (int) Math.max(1, Math.round(seconds));
            double[] direct = EtcdLoads.store(endpoints, nodes, directSeconds, callers, directCpu);
            add(c, scenario, "direct", r, "throughput", "pairs/s", 1, direct[1] / 2);
            addCpu(c, scenario, "direct", r, directCpu, direct[1] / 2 * directSeconds);
            long[][] addMillis = new long[1][];
            Thread daemonAdds = new Thread(() -> addMillis[0] = daemonAdds(plugin, node.endpoint(), adds, dir));
            double[] etcd0 = etcdMetrics(endpoints.get(0), ETCD_COUNTERS);
            long t0 = System.nanoTime();
            PairLoad.Result got = measureWhile(target, clients, nodes, window, central.pid(), etcdPid, daemonAdds);
            double[] etcd1 = etcdMetrics(endpoints.get(0), ETCD_COUNTERS);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            add(c, scenario, "central", r, "etcd proposals/s", "1/s", 1, (etcd1[0] - etcd0[0]) / elapsed);
            add(c, scenario, "central", r, "etcd key writes/s", "1/s", 1,
                (etcd1[1] - etcd0[1] + etcd1[2] - etcd0[2]) / elapsed);
            add(c, scenario, "central", r, "etcd ranges/s", "1/s", 1, (etcd1[3] - etcd0[3]) / elapsed);
            int pairs = (int) Math.max(1, Math.min(Integer.MAX_VALUE, got.pairs()));
            add(c, scenario, "central", r, "throughput", "pairs/s", pairs, got.pairsPerSecond());
            add(c, scenario, "central", r, "p50", "ms", pairs, got.latencyMillis(0.5));
            add(c, scenario, "central", r, "p99", "ms", pairs, got.latencyMillis(0.99));
            add(c, scenario, "central", r, "failures", "count", 1, got.failures());
            add(c, scenario, "central", r, "cpu jipamd", "ms", pairs, got.serverCpuPerPairMillis());
            add(c, scenario, "central", r, "cpu etcd", "ms", pairs, got.peerCpuPerPairMillis());
            add(c, scenario, "central", r, "cpu clients", "ms", pairs, got.clientCpuPerPairMillis());
            long[] ms = addMillis[0] == null ? new long[0] : addMillis[0];
            Arrays.sort(ms);
            if (ms.length > 0) {
              add(c, scenario, "daemon ADD", r, "p50", "ms", ms.length, ms[(int) Math.ceil(0.5 * ms.length) - 1]);
              add(c, scenario, "daemon ADD", r, "p99", "ms", ms.length, ms[(int) Math.ceil(0.99 * ms.length) - 1]);
            }
            add(c, scenario, "daemon ADD", r, "failures", "count", 1, adds - ms.length);
            add(c, scenario, "load average", r, "at end", "1 min", 1, loadAverage());
            if (!central.isAlive()) {
              throw new IllegalStateException("the central jipamd exited during the run");
            }
            c.progress().advance(1);
          }
        }
      }
    }
  }

  /** The cell's table in summary.md: per round and the median of rounds. */
  void report(RunContext c, String scenario, int rounds) {
    Report r = c.report();
    r.heading(3, "Central jipamd: " + nodes + " nodes x " + callers + " clients on a one-member etcd").paragraph(
        "Per round, one after the other on one one-member etcd: raw one-CAS-per-allocation transactions ("
            + nodes + " clients, each a compare-and-put on its own key, transactions/s: one CAS in flight per node; "
            + "fewer in flight than the load has callers, so not a ceiling), the same with " + nodes * callers
            + " in flight (" + callers + " loops on each of the " + nodes + " clients, one per caller: the ceiling of a design whose every caller sends its own CAS, the baseline "
            + "of issue 18's goal); " + nodes + " etcd store "
            + "instances with " + callers + " callers each (\"direct\": every node on etcd itself, ADD+DEL pairs/s); "
            + "a central `jipamd --store etcd` under " + nodes * callers + " asynchronous clients, client c naming "
            + "node c % " + nodes + " (pairs/s), while " + adds + " daemon-mode ADDs (`dist/bin/jipam` -> node jipamd "
            + "-> central jipamd -> etcd) run one after the other, each timed from exec to exit (with fewer than "
            + "100, p99 is the slowest). etcd proposals/s: etcd's `etcd_server_proposals_committed_total` over the "
            + "central cell (warm-up included: one per write transaction, lease grants and revokes); changes per "
            + "proposal: 2 x central pairs/s over it, about the changes one etcd transaction carried; etcd key writes "
            + "and ranges per pair: `etcd_mvcc_put_total` + `etcd_mvcc_delete_total` and `etcd_mvcc_range_total` (a "
            + "transaction's compares and reads) over the same span, per central pair. Ratios are of "
            + "the same round; the last row is the median of rounds. Before round 1 the central jipamd is warmed up "
            + "under the same load for at least " + WARMUP.toSeconds() + " s (longer until the JIT compilers settle) "
            + "and the node jipamd by " + WARMUP_DAEMON_ADDS + " untimed daemon-mode ADDs. The second table is the CPU each cell's "
            + "windows cost per allocation (a transaction of raw CAS, an ADD+DEL pair otherwise), of etcd, of the "
            + "harness's JVM (the clients, and in \"direct\" the store instances: the nodes' own work) and of the "
            + "central jipamd: on one machine they share its cores, so their sum bounds what a cell can reach.");
    List<List<String>> rows = new ArrayList<>();
    List<List<String>> cpuRows = new ArrayList<>();
    List<Double> toRaw = new ArrayList<>();
    List<Double> toRawAll = new ArrayList<>();
    List<Double> toDirect = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      double raw = value(c, scenario, "raw CAS", i, "throughput");
      double rawAll = value(c, scenario, "raw CAS per caller", i, "throughput");
      double direct = value(c, scenario, "direct", i, "throughput");
      double central = value(c, scenario, "central", i, "throughput");
      toRaw.add(Stats.ratio(central, raw));
      toRawAll.add(Stats.ratio(central, rawAll));
      toDirect.add(Stats.ratio(central, direct));
      List<String> cpu = new ArrayList<>(List.of(Integer.toString(i + 1)));
      for (String subject : List.of("raw CAS", "raw CAS per caller", "direct", "central")) {
        double etcdCpu = value(c, scenario, subject, i, "cpu etcd");
        double clientCpu = value(c, scenario, subject, i, "cpu clients");
        double jipamdCpu = subject.equals("central") ? value(c, scenario, subject, i, "cpu jipamd") : 0;
        cpu.add(Report.fmt(etcdCpu) + " + " + Report.fmt(clientCpu)
            + (subject.equals("central") ? " + " + Report.fmt(jipamdCpu) : "") + " = "
            + Report.fmt(etcdCpu + clientCpu + jipamdCpu));
      }
      cpuRows.add(cpu);
      rows.add(List.of(Integer.toString(i + 1), Report.fmt(value(c, scenario, "load average", i, "at start")) + " / "
              + Report.fmt(value(c, scenario, "load average", i, "at end")), Report.fmt(raw), Report.fmt(rawAll),
          Report.fmt(direct), Report.fmt(central), Report.ratio(Stats.ratio(central, raw)),
          Report.ratio(Stats.ratio(central, rawAll)), Report.ratio(Stats.ratio(central, direct)),
          Report.fmt(value(c, scenario, "central", i, "p99")), Report.fmt(value(c, scenario, "central", i, "cpu jipamd")),
          Report.fmt(value(c, scenario, "central", i, "etcd proposals/s")),
          Report.fmt(2 * central / value(c, scenario, "central", i, "etcd proposals/s")),
          Report.fmt(value(c, scenario, "central", i, "etcd key writes/s") / central),
          Report.fmt(value(c, scenario, "central", i, "etcd ranges/s") / central),
          Report.fmt(value(c, scenario, "daemon ADD", i, "p50")), Report.fmt(value(c, scenario, "daemon ADD", i, "p99")),
          String.format(Locale.ROOT, "%.0f", value(c, scenario, "central", i, "failures")
              + value(c, scenario, "daemon ADD", i, "failures"))));
    }
    rows.add(List.of("median", "", "", "", "", "", Report.ratio(Stats.median(toRaw)), Report.ratio(Stats.median(toRawAll)),
        Report.ratio(Stats.median(toDirect)), "", "", "", "", "", "", "", "", ""));
    r.table(List.of("round", "load avg start / end", "raw CAS tx/s, " + nodes + " clients",
        "raw CAS tx/s, " + nodes * callers + " clients (ceiling)", "direct pairs/s", "central pairs/s",
        "central / raw CAS, " + nodes + " clients", "central / ceiling (" + nodes * callers + " clients)",
        "central / direct", "central pair p99 ms", "jipamd CPU/pair ms", "etcd proposals/s",
        "changes per proposal", "etcd key writes per pair", "etcd ranges per pair", "daemon ADD p50 ms",
        "daemon ADD p99 ms", "failed calls"), "rrrrrrrrrrrrrrrrrr", rows);
    r.table(List.of("round", "raw CAS, " + nodes + " clients: etcd + clients ms/tx", "raw CAS, " + nodes * callers + " clients: etcd + clients ms/tx",
        "direct: etcd + nodes ms/pair", "central: etcd + clients + jipamd ms/pair"), "rrrrr", cpuRows);
  }

  private double value(RunContext c, String scenario, String subject, int round, String metric) {
    return c.results().select(s -> s.scenario().equals(scenario) && s.workload().equals(workload())
        && s.subject().equals(subject) && s.round() == round && s.metric().equals(metric)).stream()
        .mapToDouble(Sample::value).findFirst().orElse(Double.NaN);
  }

  private void add(RunContext c, String scenario, String subject, int round, String metric, String unit, int calls,
      double value) {
    c.results().add(new Sample(scenario, workload(), subject, "pair", round, metric, unit, calls, value));
  }

  /** etcd's and this JVM's CPU per allocation (a transaction, or an ADD+DEL pair) of a window. */
  private void addCpu(RunContext c, String scenario, String subject, int round, CpuWindow cpu, double done) {
    int n = (int) Math.max(1, Math.min(Integer.MAX_VALUE, done));
    add(c, scenario, subject, round, "cpu etcd", "ms", n, cpu.peerMillis() / Math.max(1, done));
    add(c, scenario, subject, round, "cpu clients", "ms", n, cpu.selfMillis() / Math.max(1, done));
  }

  /** The throughput cell, with {@code during} started once the warm-up is over and joined after. */
  public static PairLoad.Result measureWhile(String target, int clients, int nodes, Duration window, long pid,
      Thread during) throws InterruptedException {
    return measureWhile(target, clients, nodes, window, pid, -1, during);
  }

  /** Like {@link #measureWhile(String, int, int, Duration, long, Thread)}, also reading {@code etcdPid}'s CPU. */
  static PairLoad.Result measureWhile(String target, int clients, int nodes, Duration window, long pid,
      long etcdPid, Thread during) throws InterruptedException {
    Thread starter = new Thread(() -> {
      try {
        TimeUnit.SECONDS.sleep(3); // the warm-up below is 2 s: the ADDs start inside the window
        during.start();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    starter.start();
    PairLoad.Result r = PairLoad.run(target, clients, Math.min(4, clients), nodes,
        Duration.ofSeconds(2), Duration.ofSeconds(2), window, pid, etcdPid);
    starter.join();
    during.join();
    return r;
  }

  /** {@code n} daemon-mode ADDs of the plugin on {@code socket}, one after the other: each one's wall time, ms. */
  public static long[] daemonAdds(Path plugin, String socket, int n, Path dir) {
    long[] out = new long[n];
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"daemon\",\"type\":\"bridge\",\"ipam\":{\"type\":\"jipam\","
        + "\"daemon\":{\"socket\":\"" + socket.substring("unix:".length()) + "\"},"
        + "\"ranges\":[[{\"subnet\":\"198.19.0.0/16\"}]]}}";
    String run = UUID.randomUUID().toString().substring(0, 8);
    int done = 0;
    try {
      for (int i = 0; i < n; i++) {
        ProcessBuilder pb = new ProcessBuilder(plugin.toString()).redirectErrorStream(true)
            .redirectOutput(dir.resolve("add.out").toFile());
        pb.environment().put("CNI_COMMAND", "ADD");
        pb.environment().put("CNI_CONTAINERID", "daemon-add-" + run + "-" + i);
        pb.environment().put("CNI_IFNAME", "eth0");
        pb.environment().put("CNI_NETNS", "/var/run/netns/bench");
        pb.environment().put("CNI_PATH", plugin.getParent().toString());
        long t0 = System.nanoTime();
        Process p = pb.start();
        p.getOutputStream().write(conf.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
          p.destroyForcibly();
          System.err.println("daemon-mode ADD " + i + " failed: " + Files.readString(dir.resolve("add.out")));
          continue;
        }
        out[done++] = (System.nanoTime() - t0) / 1_000_000;
      }
    } catch (IOException e) {
      System.err.println("daemon-mode ADDs stopped: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Arrays.copyOf(out, done);
  }

  /**
   * etcd's counters read around the central cell: committed raft proposals (one per write
   * transaction, lease grant or revoke); keys put and deleted; ranges, which in etcd 3.4 count a
   * transaction's compares as well as its reads (a raw CAS transaction, one compare and one put,
   * counts one of each).
   */
  private static final List<String> ETCD_COUNTERS = List.of("etcd_server_proposals_committed_total",
      "etcd_mvcc_put_total", "etcd_mvcc_delete_total", "etcd_mvcc_range_total");

  /** Counters or gauges of etcd's /metrics on its client URL, in the order named; NaN for one not read. */
  static double[] etcdMetrics(String endpoint, List<String> names) {
    double[] out = new double[names.size()];
    Arrays.fill(out, Double.NaN);
    try {
      java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create(endpoint + "/metrics"))
              .timeout(Duration.ofSeconds(5)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
      for (String line : r.body().split("\n")) {
        int space = line.indexOf(' ');
        int at = space < 0 ? -1 : names.indexOf(line.substring(0, space));
        if (at >= 0) {
          out[at] = Double.parseDouble(line.substring(space + 1).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return out;
  }

  static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }
}
