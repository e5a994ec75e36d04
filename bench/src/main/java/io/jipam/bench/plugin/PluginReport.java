package io.jipam.bench.plugin;

import static io.jipam.bench.plugin.PluginScenario.DAEMON;
import static io.jipam.bench.plugin.PluginScenario.FLOOR;
import static io.jipam.bench.plugin.PluginScenario.HOST_LOCAL;
import static io.jipam.bench.plugin.PluginScenario.JIPAM;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Stats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The {@code plugin} section of summary.md and its charts, from the run's samples. */
final class PluginReport {
  private final RunContext c;
  private final String scenario;
  private final List<Integer> allocations;
  private final int rounds;
  private final int concurrency;
  private final int concurrentRounds;
  private final Path hostLocal;
  private final int hostLocalMax;
  private final String daemonMissing;

  private final Path workRoot;
  private final String subnet;

  /**
   * {@code daemonMissing}: why the daemon-mode subject did not run, or null when it did; {@code
   * subnet}: the network's subnet (a CIDR).
   */
  PluginReport(RunContext c, String scenario, List<Integer> allocations, int rounds, int concurrency,
      int concurrentRounds, Path hostLocal, int hostLocalMax, String daemonMissing, Path workRoot, String subnet) {
    this.subnet = subnet;
    this.daemonMissing = daemonMissing;
    this.workRoot = workRoot;
    this.c = c;
    this.scenario = scenario;
    this.allocations = allocations;
    this.rounds = rounds;
    this.concurrency = concurrency;
    this.concurrentRounds = concurrentRounds;
    this.hostLocal = hostLocal;
    this.hostLocalMax = hostLocalMax;
  }

  private List<Sample> samples(String workload, String subject, String metric) {
    return c.results().select(s -> s.scenario().equals(scenario) && s.workload().equals(workload)
        && s.subject().equals(subject) && s.metric().equals(metric));
  }

  private double medianWall(String workload, String subject, String operation) {
    return Stats.median(samples(workload, subject, "wall").stream().filter(s -> s.operation().equals(operation))
        .map(Sample::value).toList());
  }

  private double p99Wall(String workload, String subject, String operation) {
    return Stats.percentile(samples(workload, subject, "wall").stream().filter(s -> s.operation().equals(operation))
        .map(Sample::value).toList(), 99);
  }

  private double cpuPerCall(String workload, String subject) {
    return PluginScenario.mean(samples(workload, subject, "cpu"));
  }

  void write() throws IOException {
    Report r = c.report();
    r.heading(2, "plugin").paragraph("Whole-process calls as a runtime makes them: jipam (file store) and "
        + "host-local (`" + hostLocal + "`) on " + subnet + " already holding N allocations in host-local's on-disk "
        + "layout, jipam in daemon mode (`" + DAEMON + "`: the same plugin forwarding to a jipamd on the file "
        + "store of a data dir of its own, filled alike, over its unix socket; its CPU includes the jipamd's), and the JVM floor (hello world on jipam's JVM and flags with its own start-up cache). "
        + "Sequential: " + rounds + " rounds, each subject one ADD and one DEL of a new container per round "
        + "(order drawn from the seed); medians over rounds. Concurrent: " + concurrentRounds + " rounds of "
        + concurrency + " processes at once, each ADD then DEL. CPU is user+sys of the reaped processes "
        + "(`/proc/self/stat` cutime+cstime, 10 ms ticks; jipamd's: its threads' `schedstat`, ns) summed over "
        + "every call of the subject (the rounds, then blocks of 10 pairs per subject in turn until each has "
        + "used --cpu-seconds of CPU) and divided by their count. host-local runs up to " + String.format("%,d", hostLocalMax) + " allocations. Data dirs under `"
        + workRoot + "`. "
        + "A ratio of times or CPU below 1 means jipam is faster or cheaper; a ratio of pairs/s below 1 means "
        + "jipam does fewer per second.");
    if (!Files.isExecutable(hostLocal)) {
      r.paragraph("**host-local not run**: " + hostLocal + " is not an executable file (Debian: apt-get install "
          + "containernetworking-plugins, or name it with --host-local).");
    }
    if (daemonMissing != null) {
      r.paragraph("**daemon mode not run**: " + daemonMissing + ".");
    }
    List<List<String>> rows = new ArrayList<>();
    Chart latency = new Chart(Chart.Kind.LINES, "Wall time per call (median, one call at a time)",
        "allocations already in " + subnet, "ms per call (log)", Chart.Scale.LOG);
    Chart cpu = new Chart(Chart.Kind.BARS, "CPU (user+sys) per call", "allocations already in " + subnet,
        "ms per call", Chart.Scale.LINEAR);
    Chart throughput = new Chart(Chart.Kind.BARS, "Throughput, " + concurrency + " processes at once",
        "allocations already in " + subnet, "ADD+DEL pairs per second", Chart.Scale.LINEAR);
    for (int n : allocations) {
      String seq = PluginScenario.workload(n, 1);
      String category = String.format("%,d", n);
      double jAdd = medianWall(seq, JIPAM, "ADD");
      double jDel = medianWall(seq, JIPAM, "DEL");
      double hAdd = medianWall(seq, HOST_LOCAL, "ADD");
      double hDel = medianWall(seq, HOST_LOCAL, "DEL");
      double floor = medianWall(seq, FLOOR, "run");
      double jCpu = cpuPerCall(seq, JIPAM);
      double hCpu = cpuPerCall(seq, HOST_LOCAL);
      double fCpu = cpuPerCall(seq, FLOOR);
      double dAdd = medianWall(seq, DAEMON, "ADD");
      double dDel = medianWall(seq, DAEMON, "DEL");
      double dCpu = cpuPerCall(seq, DAEMON);
      rows.add(List.of(category, Report.fmt(jAdd), Report.fmt(p99Wall(seq, JIPAM, "ADD")), Report.fmt(jDel),
          Report.fmt(dAdd), Report.fmt(dDel),
          Report.fmt(hAdd), Report.fmt(hDel), Report.fmt(floor), Report.fmt(jCpu), Report.fmt(dCpu), Report.fmt(hCpu),
          Report.fmt(fCpu),
          Report.ratio(Stats.ratio(jAdd + jDel, hAdd + hDel)), Report.ratio(Stats.ratio(jCpu, hCpu)),
          Report.ratio(Stats.ratio(jAdd, floor))));
      latency.put("jipam ADD", category, jAdd).put("jipam DEL", category, jDel)
          .put("host-local ADD", category, hAdd).put("host-local DEL", category, hDel)
          .put("JVM floor (hello world)", category, floor);
      cpu.put(JIPAM, category, jCpu).put(HOST_LOCAL, category, hCpu).put(FLOOR, category, fCpu);
      if (daemonMissing == null) {
        latency.put(DAEMON + " ADD", category, dAdd).put(DAEMON + " DEL", category, dDel);
        cpu.put(DAEMON + " (plugin + jipamd)", category, dCpu);
      }
    }
    r.heading(3, "Sequential: one call at a time (ms)");
    r.paragraph("jipam ADD p99: the nearest-rank 99th percentile of the rounds' ADDs; with fewer than 100 rounds "
        + "it is the slowest of them.");
    r.table(List.of("allocations", "jipam ADD", "jipam ADD p99", "jipam DEL", "via jipamd ADD", "via jipamd DEL",
        "host-local ADD", "host-local DEL", "JVM floor", "jipam CPU/call", "via jipamd CPU/call", "host-local CPU/call",
        "floor CPU/call", "jipam / host-local (ADD+DEL wall)", "jipam / host-local (CPU)", "jipam ADD / floor"),
        "lrrrrrrrrrrrrrrr", rows);
    List<List<String>> par = new ArrayList<>();
    for (int n : allocations) {
      String w = PluginScenario.workload(n, concurrency);
      String category = String.format("%,d", n);
      double j = Stats.median(values(w, JIPAM, "throughput"));
      double h = Stats.median(values(w, HOST_LOCAL, "throughput"));
      double jCpu = cpuPerCall(w, JIPAM);
      double hCpu = cpuPerCall(w, HOST_LOCAL);
      double f = Stats.median(values(w, FLOOR, "throughput"));
      double d = Stats.median(values(w, DAEMON, "throughput"));
      double dCpu = cpuPerCall(w, DAEMON);
      par.add(List.of(category, Report.fmt(j), Report.fmt(d), Report.fmt(h), Report.fmt(f),
          Report.fmt(medianWall(w, JIPAM, "ADD")), Report.fmt(medianWall(w, HOST_LOCAL, "ADD")), Report.fmt(jCpu),
          Report.fmt(dCpu), Report.fmt(hCpu), Report.ratio(Stats.ratio(j, h)), Report.ratio(Stats.ratio(jCpu, hCpu))));
      throughput.put(JIPAM, category, j).put(HOST_LOCAL, category, h).put(FLOOR + " (2 runs)", category, f);
      if (daemonMissing == null) {
        throughput.put(DAEMON, category, d);
      }
    }
    r.heading(3, concurrency + " processes at once");
    r.table(List.of("allocations", "jipam pairs/s", "via jipamd pairs/s", "host-local pairs/s", "JVM floor pairs/s",
        "jipam ADD ms", "host-local ADD ms", "jipam CPU/call ms", "via jipamd CPU/call ms", "host-local CPU/call ms",
        "jipam / host-local (pairs/s)", "jipam / host-local (CPU)"), "lrrrrrrrrrrr", par);
    latency.savePng(c.file("plugin-latency.png"), 900, 540);
    cpu.savePng(c.file("plugin-cpu.png"), 900, 540);
    throughput.savePng(c.file("plugin-throughput.png"), 900, 540);
    r.image("plugin latency", "plugin-latency.png").image("plugin CPU per call", "plugin-cpu.png")
        .image("plugin throughput", "plugin-throughput.png");
  }

  private List<Double> values(String workload, String subject, String metric) {
    return samples(workload, subject, metric).stream().map(Sample::value).toList();
  }

}
