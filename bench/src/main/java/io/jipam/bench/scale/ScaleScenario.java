package io.jipam.bench.scale;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.core.store.Pool;
import io.jipam.testkit.Etcd;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import picocli.CommandLine.Option;

/**
 * {@code scale}: a cluster of N nodes × P pods on a real etcd started here (1 and 3 members), every
 * allocation made through the etcd store as its node would ({@link ScaleCluster}), and at growing
 * allocation counts (1,000, 10,000, 100,000 and the full count, those below it) the cost of each
 * node-scoped and pool-wide operation ({@link ScaleProbe}); then a restart storm. Per-node calls
 * should cost the same at every count; pool-wide views grow with the pool.
 *
 * <p>Default: 1,000 nodes × 110 pods (under 10 minutes here); {@code --full}: 5,000 × 110.
 */
public final class ScaleScenario implements Scenario {
  static final String SUBJECT = "jipam etcd store";

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--nodes", paramLabel = "N", description = "nodes (default: 1000; --full: 5000; --quick: 20)")
    Integer nodes;

    @Option(names = "--pods", paramLabel = "P", description = "pods per node (default: 110; --quick: 10)")
    Integer pods;

    @Option(names = "--full", description = "5,000 nodes x 110 pods (550,000 allocations)")
    boolean full;

    @Option(names = "--members", paramLabel = "N", split = ",",
        description = "etcd cluster sizes, each started here (default: 1,3; --quick: 1)")
    List<Integer> members;
  }

  private final Options options;

  public ScaleScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "scale";
  }

  int nodes(boolean quick) {
    return options.nodes != null ? options.nodes : options.full ? 5000 : quick ? 20 : 1000;
  }

  int pods(boolean quick) {
    return options.pods != null ? options.pods : quick ? 10 : 110;
  }

  List<Integer> members(boolean quick) {
    return options.members != null ? options.members : quick ? List.of(1) : List.of(1, 3);
  }

  /** The allocation counts measured at: 1,000, 10,000, 100,000 below the total, and the total. */
  static List<Integer> checkpoints(int total, boolean quick) {
    TreeSet<Integer> at = new TreeSet<>();
    if (quick) {
      at.add(Math.max(1, total / 10));
    }
    for (int c : new int[] {1_000, 10_000, 100_000}) {
      if (c < total) {
        at.add(c);
      }
    }
    at.add(total);
    return new ArrayList<>(at);
  }

  @Override
  public void validate(boolean quick) {
    if (nodes(quick) < 2 || nodes(quick) > 20_000) {
      throw new IllegalArgumentException("--nodes must be in [2, 20000], got " + nodes(quick));
    }
    if (pods(quick) < 2 || pods(quick) > 250) {
      throw new IllegalArgumentException("--pods must be in [2, 250], got " + pods(quick));
    }
    for (int m : members(quick)) {
      if (m < 1 || m > 7) {
        throw new IllegalArgumentException("--members: each must be in [1, 7], got " + m);
      }
    }
  }

  @Override
  public long steps(RunContext c) {
    return (long) members(c.quick()).size() * (checkpoints(nodes(c.quick()) * pods(c.quick()), c.quick()).size() + 2);
  }

  static String workload(int members, int allocations) {
    return "members=" + members + ";allocations=" + allocations;
  }

  @Override
  public void run(RunContext c) throws Exception {
    if (Etcd.binary() == null) {
      throw new IllegalStateException("no etcd binary on PATH: apt-get install etcd-server");
    }
    boolean quick = c.quick();
    int nodes = nodes(quick);
    int pods = pods(quick);
    List<Integer> checkpoints = checkpoints(nodes * pods, quick);
    c.report().heading(2, "scale: " + nodes + " nodes x " + pods + " pods on etcd");
    c.report().paragraph("Every allocation is made through the etcd store by a store of its node (stores are opened "
        + "and closed node by node, " + ScaleCluster.WORKERS + " nodes at once, all nodes of a phase on one etcd client; pods of a "
        + "node are allocated " + ScaleCluster.CALLERS + " at once so they share transactions as on a busy node). "
        + "Pool " + ScaleCluster.POOL_RANGE + " in /122 blocks (64 addresses). Per-node figures are medians over "
        + ScaleProbe.REPEATS + " calls of a probe node; pool-wide ones one call each.");
    for (int m : members(quick)) {
      c.progress().step("starting a " + m + "-member etcd");
      try (Etcd etcd = Etcd.builder().members(m).timing(Etcd.Timing.ETCD_DEFAULT).start()) {
        Pool pool = ScaleCluster.pool();
        ScaleCluster cluster = new ScaleCluster(etcd.endpoints(), pool, pods);
        Map<String, Map<Integer, Double>> table = new LinkedHashMap<>();
        List<Integer> counts = new ArrayList<>();
        int built = 0;
        for (int at : checkpoints) {
          int upToNode = Math.min(nodes, (at + pods - 1) / pods);
          long start = System.nanoTime();
          cluster.build(built, upToNode);
          double buildSeconds = (System.nanoTime() - start) / 1e9;
          built = upToNode;
          int allocations = built * pods;
          c.progress().step(m + " member(s): " + allocations + " allocations");
          String w = workload(m, allocations);
          c.results().add(new Sample(name(), w, SUBJECT, "build", 0, "wall", "s", 1, buildSeconds));
          counts.add(allocations);
          table.computeIfAbsent("build (s)", k -> new LinkedHashMap<>()).put(allocations, buildSeconds);
          for (ScaleProbe.Figure f : new ScaleProbe(etcd.endpoints(), pool, pods, built).measure()) {
            c.results().add(new Sample(name(), w, SUBJECT, f.operation(), 0, f.metric(), f.unit(), 1, f.value()));
            table.computeIfAbsent(f.operation() + " (" + f.unit() + ")", k -> new LinkedHashMap<>())
                .put(allocations, f.value());
          }
          c.results().flush();
        }
        c.progress().step(m + " member(s): restart storm");
        ScaleCluster.Storm storm = cluster.restartStorm(built);
        String w = workload(m, built * pods);
        c.results().add(new Sample(name(), w, SUBJECT, "restart storm", 0, "wall", "s", 1, storm.seconds()));
        c.results().add(new Sample(name(), w, SUBJECT, "restart storm", 0, "duplicates", "count", 1, storm.duplicates()));
        c.results().add(new Sample(name(), w, SUBJECT, "restart storm", 0, "findings", "count", 1,
            storm.findings().size()));
        c.results().add(new Sample(name(), w, SUBJECT, "restart storm", 0, "failed calls", "count", 1,
            storm.failedCalls()));
        report(c, m, counts, table, storm, nodes);
      }
    }
  }

  /** A chart of the given rows against the allocation count (log scale), into the report. */
  private static void chart(RunContext c, int members, List<Integer> counts, Map<String, Map<Integer, Double>> table,
      String what, List<String> operations) throws java.io.IOException {
    Chart chart = new Chart(Chart.Kind.LINES, "scale, " + members + "-member etcd: " + what, "allocations",
        "ms (log)", Chart.Scale.LOG);
    for (String op : operations) {
      Map<Integer, Double> byCount = table.getOrDefault(op, Map.of());
      counts.stream().filter(byCount::containsKey).forEach(n -> chart.put(op, String.format("%,d", n),
          Math.max(0.01, byCount.get(n))));
    }
    String png = "scale-" + members + "-" + what.replaceAll("[^a-z]+", "-") + ".png";
    chart.savePng(c.file(png), 900, 540);
    c.report().image("scale " + what + ", " + members + " member(s)", png);
  }

  private static void report(RunContext c, int members, List<Integer> counts, Map<String, Map<Integer, Double>> table,
      ScaleCluster.Storm storm, int nodes) throws java.io.IOException {
    c.report().heading(3, members + "-member etcd");
    List<String> header = new ArrayList<>(List.of("operation"));
    counts.forEach(n -> header.add(String.format("%,d", n)));
    header.add("last / first");
    List<List<String>> rows = new ArrayList<>();
    table.forEach((op, byCount) -> {
      List<String> row = new ArrayList<>(List.of(op));
      counts.forEach(n -> row.add(byCount.containsKey(n) ? Report.fmt(byCount.get(n)) : "-"));
      Double first = byCount.get(counts.get(0));
      Double last = byCount.get(counts.get(counts.size() - 1));
      row.add(first != null && last != null && first > 0 ? Report.ratio(last / first) : "-");
      rows.add(row);
    });
    c.report().table(header, "l" + "r".repeat(counts.size() + 1), rows);
    chart(c, members, counts, table, "per-node calls", List.of("first ADD of a fresh node (ms)", "ADD (ms)", "DEL (ms)",
        "GC of a node (retainOnly) (ms)", "usage of a node (its blocks: metrics) (ms)", "reclaim preview of a node (ms)",
        "reclaim of a node with P pods (ms)"));
    chart(c, members, counts, table, "pool-wide views", List.of("cluster usage (ms)", "one list page (500) (ms)",
        "one list page (500) from the middle (ms)", "list (whole pool) (ms)", "audit (whole pool) (ms)"));
    c.report().paragraph("Restart storm: all " + nodes + " nodes (" + ScaleCluster.WORKERS + " at a time), "
        + "each re-ADDs every pod (idempotent), then DELs a tenth and ADDs a tenth anew: "
        + Report.fmt(storm.seconds()) + " s, " + storm.duplicates() + " duplicate addresses, " + storm.failedCalls()
        + " failed calls, audit " + (storm.findings().isEmpty() ? "clean" : storm.findings().size() + " findings: "
        + storm.findings().subList(0, Math.min(3, storm.findings().size()))) + ".");
  }
}
