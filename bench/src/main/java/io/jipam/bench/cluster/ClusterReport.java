package io.jipam.bench.cluster;

import static io.jipam.bench.cluster.ClusterScenario.LOCK;
import static io.jipam.bench.cluster.ClusterScenario.RAW;
import static io.jipam.bench.cluster.ClusterScenario.STORE;
import static io.jipam.bench.cluster.ClusterScenario.TIGHT;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Stats;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The {@code cluster} section of summary.md and its charts, from the run's samples. */
final class ClusterReport {
  private final RunContext c;
  private final String scenario;
  private final List<Integer> members;
  private final List<Integer> nodes;
  private final int callers;
  private final int podsPerNode;
  private final int rounds;
  private final double warmup;
  private final double seconds;
  private final List<String> problems;

  ClusterReport(RunContext c, String scenario, List<Integer> members, List<Integer> nodes, int callers,
      int podsPerNode, int rounds, double warmup, double seconds, List<String> problems) {
    this.c = c;
    this.scenario = scenario;
    this.members = members;
    this.nodes = nodes;
    this.callers = callers;
    this.podsPerNode = podsPerNode;
    this.rounds = rounds;
    this.warmup = warmup;
    this.seconds = seconds;
    this.problems = problems;
  }

  private List<Double> values(String workload, String subject, String operation, String metric) {
    return c.results().select(s -> s.scenario().equals(scenario) && s.workload().equals(workload)
        && s.subject().equals(subject) && s.operation().equals(operation) && s.metric().equals(metric))
        .stream().map(Sample::value).toList();
  }

  private double median(String workload, String subject, String operation, String metric) {
    return Stats.median(values(workload, subject, operation, metric));
  }

  private double sum(String workload, String metric) {
    return values(workload, STORE, TIGHT, metric).stream().mapToDouble(Double::doubleValue).sum();
  }

  private static String members(int m) {
    return m + (m == 1 ? " member" : " members");
  }

  void write() throws IOException {
    Report r = c.report();
    r.heading(2, "cluster").paragraph("Simulated nodes against real etcd clusters started by the harness on "
        + "loopback (" + String.join(" and ", members.stream().map(m -> m + "-member").toList()) + ", fsync on). "
        + "Per number of nodes N: raw CAS, N clients with " + callers + " compare-and-swap loops each on keys of "
        + "their own (one per ADD thread of the store: the ceiling of one transaction per allocation at the store's "
        + "concurrency); global lock, N clients taking one etcd lock around every allocation "
        + "(whereabouts' design); jipam's etcd store, N store instances with their own node names and " + callers
        + " ADD threads each, in a fresh pool. " + rounds + " rounds; each phase has a " + Report.fmt(warmup)
        + " s warm-up and a " + Report.fmt(seconds) + " s window; the three designs of one (cluster, N) run "
        + "back to back in a seeded order. Medians over rounds; a ratio above 1 means the store does more per "
        + "second.");
    List<List<String>> rows = new ArrayList<>();
    Chart chart = new Chart(Chart.Kind.LINES, "etcd: allocations per second by nodes", "simulated nodes",
        "per second (log)", Chart.Scale.LOG);
    for (int m : members) {
      for (int n : nodes) {
        String w = ClusterScenario.workload(m, n, callers);
        double raw = median(w, RAW, "transaction", "throughput");
        double lock = median(w, LOCK, "ADD", "throughput");
        double store = median(w, STORE, "ADD", "throughput");
        double batch = median(w, STORE, "ADD", "requests per transaction");
        rows.add(List.of(Integer.toString(m), Integer.toString(n), Report.fmt(raw), Report.fmt(lock),
            Report.fmt(store), Report.fmt(batch), Report.ratio(Stats.ratio(store, raw)),
            Report.ratio(Stats.ratio(store, lock))));
      }
    }
    // series in pairs per design (one-member, then three-member), so the legend reads by design
    for (String[] design : new String[][] {{STORE, "ADD", "store"}, {RAW, "transaction", "raw CAS (tx)"},
        {LOCK, "ADD", "global lock"}}) {
      for (int m : members) {
        for (int n : nodes) {
          chart.put(design[2] + ", " + members(m), Integer.toString(n),
              median(ClusterScenario.workload(m, n, callers), design[0], design[1], "throughput"));
        }
      }
    }
    r.table(List.of("etcd members", "nodes", "raw CAS tx/s", "global lock alloc/s", "store alloc/s",
        "store requests per transaction", "store / raw CAS", "store / global lock"), "rrrrrrrr", rows);
    if (members.size() > 1) {
      int base = members.get(0);
      List<String> header = new ArrayList<>(List.of("nodes"));
      for (int m : members.subList(1, members.size())) {
        for (String d : List.of("store", RAW, LOCK)) {
          header.add(d + ", " + members(m) + " / " + members(base));
        }
      }
      List<List<String>> cmp = new ArrayList<>();
      for (int n : nodes) {
        List<String> row = new ArrayList<>(List.of(Integer.toString(n)));
        for (int m : members.subList(1, members.size())) {
          String w = ClusterScenario.workload(m, n, callers);
          String b = ClusterScenario.workload(base, n, callers);
          row.add(Report.ratio(Stats.ratio(median(w, STORE, "ADD", "throughput"),
              median(b, STORE, "ADD", "throughput"))));
          row.add(Report.ratio(Stats.ratio(median(w, RAW, "transaction", "throughput"),
              median(b, RAW, "transaction", "throughput"))));
          row.add(Report.ratio(Stats.ratio(median(w, LOCK, "ADD", "throughput"),
              median(b, LOCK, "ADD", "throughput"))));
        }
        cmp.add(row);
      }
      r.heading(3, "Cluster size: each design on the larger cluster against the " + base + "-member one");
      r.table(header, "r".repeat(header.size()), cmp);
    }
    chart.savePng(c.file("cluster-throughput.png"), 900, 540);
    r.image("cluster throughput by nodes", "cluster-throughput.png");

    r.heading(3, "Tight pool").paragraph("N nodes start " + podsPerNode + " pods each, "
        + Math.min(callers, podsPerNode) + " at a time per node, in a pool of exactly N × " + podsPerNode + " addresses starting at "
        + TightPool.FIRST + " (not on a /26 boundary, so most nodes must borrow from other nodes' blocks). A pod's "
        + "ADD is repeated only after TRY_AGAIN_LATER (at most " + TightPool.ATTEMPTS + " attempts: the retries); "
        + "an `Exhausted` answer is never repeated and counts as refused. Afterwards: no address given twice, the "
        + "store lists exactly the placed pods, and one more ADD is refused. Fill time: from the first ADD to the "
        + "last answer, median over rounds; the counts are totals over rounds.");
    List<List<String>> tight = new ArrayList<>();
    Chart fill = new Chart(Chart.Kind.LINES, "Tight pool: time until every pod has an address", "simulated nodes",
        "ms (log)", Chart.Scale.LOG);
    for (int m : members) {
      for (int n : nodes) {
        String w = ClusterScenario.tightWorkload(m, n, n * podsPerNode);
        List<Double> all = values(w, STORE, TIGHT, "all placed");
        long ok = all.stream().filter(v -> v == 1).count();
        double time = median(w, STORE, TIGHT, "fill time");
        tight.add(List.of(Integer.toString(m), Integer.toString(n), Integer.toString(n * podsPerNode),
            (ok == all.size() && !all.isEmpty() ? "yes" : "**no**") + " (" + ok + " of " + all.size() + " rounds)",
            Report.fmt(time), count(sum(w, "placed")), count(sum(w, "retries")), count(sum(w, "errors")),
            count(sum(w, "refused")), count(sum(w, "duplicates"))));
        fill.put(members(m), Integer.toString(n), time);
      }
    }
    r.table(List.of("etcd members", "nodes", "pods = addresses", "every pod got one", "fill time ms",
        "pods placed (all rounds)", "retries", "errors", "refused", "addresses given twice"), "rrrlrrrrrr", tight);
    if (!problems.isEmpty()) {
      r.paragraph("First problem of each fill that had one:\n\n- " + String.join("\n- ", problems));
    }
    fill.savePng(c.file("cluster-tight-pool.png"), 900, 540);
    r.image("tight pool fill time by nodes", "cluster-tight-pool.png");
  }

  private static String count(double v) {
    return String.format(Locale.ROOT, "%,.0f", v);
  }
}
