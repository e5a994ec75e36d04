package io.jipam.bench.runtime;

import static io.jipam.bench.runtime.RuntimeScenario.HOST_LOCAL;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Stats;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The {@code runtime} section of summary.md and its charts, from the run's samples. */
final class RuntimeReport {
  private final RunContext c;
  private final String scenario;
  private final List<Integer> atOnce;
  private final int rounds;
  private final List<String> subjects;
  private final Map<String, Integer> left;
  private final String daemonNote;
  private final Map<String, String> subnets;
  private final int daemonWarmup;

  RuntimeReport(RunContext c, String scenario, List<Integer> atOnce, int rounds, List<String> subjects,
      Map<String, Integer> left, String daemonNote, Map<String, String> subnets, int daemonWarmup) {
    this.c = c;
    this.scenario = scenario;
    this.atOnce = atOnce;
    this.rounds = rounds;
    this.subjects = subjects;
    this.left = left;
    this.daemonNote = daemonNote;
    this.subnets = subnets;
    this.daemonWarmup = daemonWarmup;
  }

  private List<Sample> samples(int n, String subject, String metric) {
    return c.results().select(s -> s.scenario().equals(scenario) && s.workload().equals("atOnce=" + n)
        && s.subject().equals(subject) && s.metric().equals(metric));
  }

  private List<Double> values(int n, String subject, String metric) {
    return samples(n, subject, metric).stream().map(Sample::value).toList();
  }

  private double perContainer(int n, String subject) {
    double sum = 0;
    int calls = 0;
    for (Sample s : samples(n, subject, "cpu")) {
      sum += s.value();
      calls += s.calls();
    }
    return calls == 0 ? Double.NaN : sum / calls;
  }

  /** The first line of {@code <tool> --version}, or why there is none. */
  static String version(String tool) {
    try {
      Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
      if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0 || out.isEmpty()) {
        return tool + " version unknown";
      }
      return out.lines().findFirst().orElse(tool);
    } catch (IOException e) {
      return tool + " version unknown: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return tool + " version unknown: interrupted";
    }
  }

  void write() throws IOException {
    Report r = c.report();
    r.heading(2, "runtime").paragraph("Containers through a real runtime: containerd + runc (" + version("containerd")
        + "; " + version("runc") + ") started here on their own socket, root and state, `ctr run --cni --rm` of a busybox image whose command prints its eth0 address and "
        + "exits. libcni runs the bridge plugin, which delegates to the IPAM under test (ADD before the task starts, "
        + "DEL after it ends); the subjects differ only in the conflist's `ipam` (" + subnets + "). "
        + (daemonNote == null && daemonWarmup > 0 ? "Before anything, jipamd serves " + daemonWarmup + " untimed ADD+DEL "
            + "pairs of the plugin on its network (`--daemon-warmup`: a warm service, as on a node where it runs for "
            + "days). " : "")
        + "One warm-up container per subject, then " + rounds + " round(s) per N of N containers started at once, subjects in "
        + "an order drawn from the seed. Time to address: ctr started to the address printed; lifecycle: ctr "
        + "started to ctr ended (DEL and removal included); containers/s: N over the batch's wall time. CPU per "
        + "container is the ctr processes' and the CNI plugins' they ran (plus the jipamd's for daemon mode); "
        + "containerd, its shims and runc are not counted. A ratio of times or CPU below 1 means jipam is faster "
        + "or cheaper; a ratio of containers/s below 1 means jipam starts fewer per second.");
    if (daemonNote != null) {
      r.paragraph("**daemon mode not run**: " + daemonNote + ".");
    }
    List<List<String>> rows = new ArrayList<>();
    Chart throughput = new Chart(Chart.Kind.BARS, "Containers per second through containerd", "containers started at once",
        "containers per second", Chart.Scale.LINEAR);
    Chart toAddress = new Chart(Chart.Kind.BARS, "Time to address through containerd (median)", "containers started at once",
        "ms from ctr run to the address", Chart.Scale.LINEAR);
    Chart cpu = new Chart(Chart.Kind.BARS, "CPU per container (ctr + CNI plugins)", "containers started at once",
        "ms per container", Chart.Scale.LINEAR);
    for (int n : atOnce) {
      double hTta = Stats.median(values(n, HOST_LOCAL, "time to address"));
      double hRate = Stats.median(values(n, HOST_LOCAL, "throughput"));
      double hCpu = perContainer(n, HOST_LOCAL);
      for (String subject : subjects) {
        List<Double> tta = values(n, subject, "time to address");
        double p50 = Stats.median(tta);
        double rate = Stats.median(values(n, subject, "throughput"));
        double perCpu = perContainer(n, subject);
        boolean peer = subject.equals(HOST_LOCAL);
        rows.add(List.of(Integer.toString(n), subject, Integer.toString(tta.size()), Report.fmt(p50),
            Report.fmt(Stats.percentile(tta, 99)), Report.fmt(Stats.median(values(n, subject, "lifecycle"))),
            Report.fmt(rate), Report.fmt(perCpu),
            peer ? "" : Report.ratio(Stats.ratio(p50, hTta)), peer ? "" : Report.ratio(Stats.ratio(rate, hRate)),
            peer ? "" : Report.ratio(Stats.ratio(perCpu, hCpu))));
        String category = Integer.toString(n);
        throughput.put(subject, category, rate);
        toAddress.put(subject, category, p50);
        cpu.put(subject, category, perCpu);
      }
    }
    r.table(List.of("at once", "IPAM", "containers", "time to address p50 ms", "p99 ms", "lifecycle p50 ms",
        "containers/s", "CPU/container ms", "time to address / host-local", "containers/s / host-local",
        "CPU / host-local"), "rlrrrrrrrrr", rows);
    List<String> leftover = new ArrayList<>();
    left.forEach((subject, count) -> leftover.add(subject + ": " + count));
    r.paragraph("Addresses left in each store after every container was removed: " + String.join(", ", leftover) + ".");
    throughput.savePng(c.file("runtime-throughput.png"), 900, 540);
    toAddress.savePng(c.file("runtime-time-to-address.png"), 900, 540);
    cpu.savePng(c.file("runtime-cpu.png"), 900, 540);
    r.image("containers per second", "runtime-throughput.png").image("time to address", "runtime-time-to-address.png")
        .image("CPU per container", "runtime-cpu.png");
  }
}
