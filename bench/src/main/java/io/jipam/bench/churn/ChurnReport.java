package io.jipam.bench.churn;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Stats;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The {@code churn} section of summary.md and its charts. */
final class ChurnReport {
  private static final String SECONDS = "seconds since the run started";
  private static final Map<String, String> LABELS = Map.of(
      Subject.FILE, "jipam (file store)",
      Subject.HOST_LOCAL, "host-local",
      Subject.DAEMON, "jipam via jipamd (file store)",
      Subject.ETCD, "jipam via jipamd (etcd store)");

  private final RunContext c;
  private final String scenario;
  private final String workload;
  private final PodPlan plan;
  private final int maxInFlight;
  private final int daemonWarmup;
  private final String subnet;
  private final Map<String, String> available;
  private final Map<String, List<ChurnRun.Outcome>> outcomes;

  ChurnReport(RunContext c, String scenario, String workload, PodPlan plan, int maxInFlight, int daemonWarmup,
      String subnet, Map<String, String> available, Map<String, List<ChurnRun.Outcome>> outcomes) {
    this.c = c;
    this.scenario = scenario;
    this.workload = workload;
    this.plan = plan;
    this.maxInFlight = maxInFlight;
    this.daemonWarmup = daemonWarmup;
    this.subnet = subnet;
    this.available = available;
    this.outcomes = outcomes;
  }

  static String label(String subject) {
    return LABELS.getOrDefault(subject, subject);
  }

  private List<Double> values(String subject, String operation, String metric) {
    return c.results().values(s -> s.scenario().equals(scenario) && s.workload().equals(workload)
        && s.subject().equals(subject) && s.operation().equals(operation) && s.metric().equals(metric));
  }

  private double perCall(String subject, String metric) {
    double sum = 0;
    int calls = 0;
    for (var s : c.results().select(s -> s.scenario().equals(scenario) && s.workload().equals(workload)
        && s.subject().equals(subject) && s.metric().equals(metric))) {
      sum += s.value();
      calls += s.calls();
    }
    return calls == 0 ? Double.NaN : sum / calls;
  }

  void write() throws IOException {
    Report r = c.report();
    long last = plan.pods().stream().mapToLong(PodPlan.Pod::arrivalMillis).max().orElse(0);
    r.heading(2, "churn").paragraph(String.format(java.util.Locale.ROOT,
        "Pod churn through the plugins' real processes: %d pods arriving over %.1f s (Poisson arrivals, `%s`), "
            + "each ADD on arrival and DEL when its lifetime (exponential, capped at %.0f× the mean) has passed, "
            + "after one untimed pod per subject and round, each round on a network of its own; "
            + "at most %d plugin processes at once, later calls wait. A jipamd is started once per subject and "
            + "serves every round, as a node's jipamd runs for days, after %d untimed pods that warm it up. "
            + "Every subject plays the same pods (from the seed) on %s. "
            + "Time to address runs from a pod's arrival to the end of its ADD, waits included. "
            + "CPU per call is user+sys of the plugin processes (and of the jipamd, for the daemon subject) over "
            + "the whole run divided by its calls. A ratio below 1 means jipam is cheaper or faster.",
        plan.pods().size(), last / 1000.0, workload, PodPlan.LIFETIME_CAP, maxInFlight, daemonWarmup, subnet));
    available.forEach((b, why) -> {
      if (why != null) {
        r.paragraph("**" + label(b) + " not run**: " + why + ".");
      }
    });
    double hlTta = Stats.median(values(Subject.HOST_LOCAL, "ADD", "time to address"));
    double hlCpu = perCall(Subject.HOST_LOCAL, "cpu");
    List<List<String>> rows = new ArrayList<>();
    Chart inUse = new Chart(Chart.Kind.STEPS, "Pods holding an address (solid) and waiting for one (dashed)", SECONDS,
        "pods", Chart.Scale.LINEAR);
    Chart tta = new Chart(Chart.Kind.DOTS, "Time to address, each pod", SECONDS, "ms from arrival to address (log)",
        Chart.Scale.LOG);
    for (Map.Entry<String, List<ChurnRun.Outcome>> e : outcomes.entrySet()) {
      String b = e.getKey();
      List<Double> times = values(b, "ADD", "time to address");
      double p50 = Stats.median(times);
      double cpu = perCall(b, "cpu");
      int peak = 0;
      int failed = 0;
      int left = -1;
      for (ChurnRun.Outcome o : e.getValue()) {
        peak = Math.max(peak, o.timeline().stream().mapToInt(ChurnRun.Point::inUse).max().orElse(0));
        failed += (int) o.calls().stream().filter(call -> call.error() != null).count();
        left = Math.max(left, o.leftInStore());
      }
      rows.add(List.of(label(b), Integer.toString(times.size()), Report.fmt(p50), Report.fmt(Stats.percentile(times, 99)),
          Report.fmt(times.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN)),
          Report.fmt(Stats.median(values(b, "ADD", "wall"))), Report.fmt(Stats.median(values(b, "DEL", "wall"))),
          Report.fmt(cpu), Integer.toString(peak), Integer.toString(failed), left < 0 ? "–" : Integer.toString(left),
          b.equals(Subject.HOST_LOCAL) ? "" : Report.ratio(Stats.ratio(p50, hlTta)),
          b.equals(Subject.HOST_LOCAL) ? "" : Report.ratio(Stats.ratio(cpu, hlCpu))));
      ChurnRun.Outcome first = e.getValue().get(0);
      for (ChurnRun.Point p : first.timeline()) {
        inUse.put(label(b), p.seconds(), p.inUse());
      }
      for (ChurnRun.Point p : first.timeline()) {
        inUse.putDashed(label(b) + ", waiting", label(b), p.seconds(), p.waiting());
      }
      for (ChurnRun.Call call : first.calls()) {
        if (call.command().equals("ADD") && call.error() == null) {
          tta.put(label(b), call.arrivalMillis() / 1000.0, call.endMillis() - call.arrivalMillis());
        }
      }
    }
    r.table(List.of("subject", "pods addressed", "time to address p50 ms", "p99 ms", "max ms", "ADD wall p50 ms",
        "DEL wall p50 ms", "CPU/call ms", "peak pods holding an address", "failed calls", "addresses left after the run",
        "time to address p50 / host-local", "CPU / host-local"), "lrrrrrrrrrrrr", rows);
    inUse.savePng(c.file("churn-in-use.png"), 900, 540);
    tta.savePng(c.file("churn-time-to-address.png"), 900, 540);
    r.image("pods holding an address over time", "churn-in-use.png")
        .image("time to address over time", "churn-time-to-address.png");
  }
}
