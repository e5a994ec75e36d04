package io.jipam.bench.alloc;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Progress;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.harness.Stats;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.IterationType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine.Option;

/**
 * {@code allocator}: {@link AllocatorBenchmark} through JMH's API. A round is one JMH run over
 * every method at every range and fill, one fork per cell with {@link #WARMUPS} warm-up and one measured
 * iteration (its average ns per allocate+release pair); rounds follow one another, so every
 * subject is measured once in each stretch of the machine's load. The summary gives the median
 * over rounds and, per cell, jipam's median over each peer model's.
 */
public final class AllocatorScenario implements Scenario {
  /** JMH method → the subject name in the results, in the order of the summary's columns. */
  static final Map<String, String> SUBJECTS = new LinkedHashMap<>();

  static {
    SUBJECTS.put("rangeSetRoundRobin", "jipam round-robin");
    SUBJECTS.put("rangeSetLowestFree", "jipam lowest-free");
    SUBJECTS.put("hostLocalScan", "host-local scan (model)");
    SUBJECTS.put("k8sRandomScan", "k8s ClusterIP bitmap (model)");
    SUBJECTS.put("bitSetRoundRobin", "BitSet round-robin");
    SUBJECTS.put("bitSetLowestFree", "BitSet lowest-free");
  }

  /** Warm-up iterations per fork: two, to give the JIT time before the measured one on a loaded machine. */
  static final int WARMUPS = 2;

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--ranges", paramLabel = "CIDR", split = ",",
        description = "ranges (default: 10.0.0.0/16,10.0.0.0/8; --quick: 10.0.0.0/24)")
    List<String> ranges;

    @Option(names = "--fills", paramLabel = "PERCENT", split = ",",
        description = "percent of each range in use (default: 0,90,99.99; --quick: 50)")
    List<String> fills;

    @Option(names = "--iteration-ms", paramLabel = "MS", defaultValue = "200",
        description = "length of one JMH iteration (default: ${DEFAULT-VALUE}; --quick: 50)")
    int iterationMillis;
  }

  private final Options options;

  public AllocatorScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "allocator";
  }

  private List<String> ranges(boolean quick) {
    return options.ranges != null ? options.ranges : quick ? List.of("10.0.0.0/24") : List.of("10.0.0.0/16", "10.0.0.0/8");
  }

  private List<String> fills(boolean quick) {
    List<String> fills = options.fills != null ? options.fills : quick ? List.of("50") : List.of("0", "90", "99.99");
    for (String fill : fills) {
      double f;
      try {
        f = Double.parseDouble(fill);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--fills: not a number: '" + fill + "'");
      }
      if (!(f >= 0 && f < 100)) {
        throw new IllegalArgumentException("--fills: a fill must be in [0, 100), got " + fill);
      }
    }
    return fills;
  }

  private int rounds(RunContext c) {
    return c.roundsOr(2);
  }

  private int iterationMillis(RunContext c) {
    return c.quick() && options.iterationMillis == 200 ? 50 : options.iterationMillis;
  }

  @Override
  public void validate(boolean quick) {
    fills(quick);
    for (String range : ranges(quick)) {
      try {
        io.jipam.core.net.Cidr.parse(range);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("--ranges: not a CIDR: '" + range + "'");
      }
    }
    if (options.iterationMillis < 1) {
      throw new IllegalArgumentException("--iteration-ms must be >= 1, got " + options.iterationMillis);
    }
  }

  @Override
  public long steps(RunContext c) {
    return (long) ranges(c.quick()).size() * fills(c.quick()).size() * SUBJECTS.size() * (WARMUPS + 1L) * rounds(c);
  }

  @Override
  public void run(RunContext c) throws Exception {
    List<String> ranges = ranges(c.quick());
    List<String> fills = fills(c.quick());
    int rounds = rounds(c);
    TimeValue iteration = TimeValue.milliseconds(iterationMillis(c));
    System.setProperty("jipam.bench.quiet", "true");
    for (int round = 0; round < rounds; round++) {
      OptionsBuilder jmh = new OptionsBuilder();
      jmh.include(AllocatorBenchmark.class.getName() + "\\.(" + String.join("|", SUBJECTS.keySet()) + ")$")
          .param("subnet", ranges.toArray(String[]::new))
          .param("fill", fills.toArray(String[]::new))
          .param("seed", Long.toString(c.seed()))
          // --quick runs in this JVM: no fork start-up, and no class path to hand to a fork in tests
          .forks(c.quick() ? 0 : 1)
          .warmupIterations(WARMUPS).warmupTime(iteration)
          .measurementIterations(1).measurementTime(iteration)
          .jvmArgsAppend("-Djipam.bench.quiet=true")
          .shouldFailOnError(true)
          .verbosity(VerboseMode.SILENT);
      Collection<RunResult> runs = new Runner(jmh.build(), new ProgressFormat(c.progress(), round, rounds)).run();
      for (RunResult run : runs) {
        BenchmarkParams p = run.getParams();
        String method = p.getBenchmark().substring(p.getBenchmark().lastIndexOf('.') + 1);
        String workload = workload(p.getParam("subnet"), p.getParam("fill"));
        for (BenchmarkResult fork : run.getBenchmarkResults()) {
          for (IterationResult it : fork.getIterationResults()) {
            c.results().add(new Sample(name(), workload, SUBJECTS.get(method), "allocate+release", round,
                "time", "ns", 1, it.getPrimaryResult().getScore()));
          }
        }
      }
    }
    report(c, ranges, fills, rounds);
  }

  static String workload(String range, String fill) {
    return "range=" + range + ";fill=" + fill;
  }

  private double median(RunContext c, String workload, String subject) {
    return Stats.median(c.results().values(s -> s.scenario().equals(name()) && s.workload().equals(workload)
        && s.subject().equals(subject)));
  }

  private void report(RunContext c, List<String> ranges, List<String> fills, int rounds) throws IOException {
    Report r = c.report();
    r.heading(2, "allocator").paragraph("One allocate+release pair at a fixed fill (JMH, average time per pair, "
        + "median of " + rounds + " rounds; a round runs every cell in its own fork, " + WARMUPS + " warm-up and one "
        + "measured iteration of " + iterationMillis(c) + " ms, so each subject is measured once per stretch of the machine's "
        + "load). jipam's tree allocator next to models of its peers' algorithms on a flat bitmap of the "
        + "same fill: host-local's step-by-step scan from the last reserved address, Kubernetes' ClusterIP "
        + "bitmap (random start, bit at a time), and `java.util.BitSet.nextClearBit` (word at a time). The "
        + "models have the peers' algorithms, not their per-step costs (a host-local step creates a file: "
        + "see `plugin`). A ratio below 1 means jipam is faster.");
    List<String> header = new ArrayList<>(List.of("range", "fill %"));
    SUBJECTS.values().forEach(s -> header.add(s + " ns"));
    header.addAll(List.of("jipam RR / host-local", "jipam RR / k8s", "jipam LF / BitSet LF"));
    List<List<String>> rows = new ArrayList<>();
    for (String range : ranges) {
      Chart chart = new Chart(Chart.Kind.LINES, "Allocate+release, " + range, "fill %", "ns per pair (log)",
          Chart.Scale.LOG);
      for (String fill : fills) {
        String w = workload(range, fill);
        List<String> row = new ArrayList<>(List.of(range, fill));
        Map<String, Double> m = new LinkedHashMap<>();
        for (String subject : SUBJECTS.values()) {
          double v = median(c, w, subject);
          m.put(subject, v);
          row.add(Report.fmt(v));
          chart.put(subject, fill, v);
        }
        row.add(Report.ratio(Stats.ratio(m.get("jipam round-robin"), m.get("host-local scan (model)"))));
        row.add(Report.ratio(Stats.ratio(m.get("jipam round-robin"), m.get("k8s ClusterIP bitmap (model)"))));
        row.add(Report.ratio(Stats.ratio(m.get("jipam lowest-free"), m.get("BitSet lowest-free"))));
        rows.add(row);
      }
      String png = "allocator-" + range.replaceAll("[^0-9a-zA-Z]+", "_") + ".png";
      chart.savePng(c.file(png), 900, 540);
      r.image("allocator " + range, png);
    }
    r.table(header, "ll" + "r".repeat(header.size() - 2), rows);
  }

  /** Silent JMH output that counts iterations on the progress bar. */
  private static final class ProgressFormat implements OutputFormat {
    private final Progress progress;
    private final String round;

    ProgressFormat(Progress progress, int round, int rounds) {
      this.progress = progress;
      this.round = "round " + (round + 1) + "/" + rounds + ": ";
    }

    @Override
    public void iteration(BenchmarkParams b, IterationParams i, int n) {}

    @Override
    public void iterationResult(BenchmarkParams b, IterationParams i, int n, IterationResult r) {
      if (i.getType() == IterationType.WARMUP || i.getType() == IterationType.MEASUREMENT) {
        progress.advance(1);
      }
    }

    @Override
    public void startBenchmark(BenchmarkParams b) {
      String method = b.getBenchmark().substring(b.getBenchmark().lastIndexOf('.') + 1);
      progress.step(round + SUBJECTS.get(method) + " " + b.getParam("subnet") + " " + b.getParam("fill") + "%");
    }

    @Override
    public void endBenchmark(BenchmarkResult r) {}

    @Override
    public void startRun() {}

    @Override
    public void endRun(Collection<RunResult> r) {}

    @Override
    public void print(String s) {}

    @Override
    public void println(String s) {}

    @Override
    public void flush() {}

    @Override
    public void close() {}

    @Override
    public void verbosePrintln(String s) {}

    @Override
    public void write(int b) {}

    @Override
    public void write(byte[] b) {}
  }
}
