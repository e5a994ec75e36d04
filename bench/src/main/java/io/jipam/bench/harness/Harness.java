package io.jipam.bench.harness;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Runs scenarios one after another into one results directory:
 *
 * <table>
 *   <caption>the results directory</caption>
 *   <tr><th>file</th><th>what</th></tr>
 *   <tr><td>samples.csv</td><td>every raw sample ({@link Sample#CSV_HEADER}), written as taken</td></tr>
 *   <tr><td>summary.md</td><td>medians and same-run ratios per scenario, with chart links</td></tr>
 *   <tr><td>*.png</td><td>the charts</td></tr>
 *   <tr><td>machine.json</td><td>the machine, versions, commit, load ({@link MachineInfo})</td></tr>
 * </table>
 *
 * A scenario that fails is reported in summary.md with its error and the others still run; the
 * run then ends with a failure.
 */
public final class Harness {
  private final Path out;
  private final long seed;
  private final boolean quick;
  private final int rounds;
  private final Progress progress;
  private final PrintStream log;

  public Harness(Path out, long seed, boolean quick, int rounds, Progress progress, PrintStream log) {
    this.out = out;
    this.seed = seed;
    this.quick = quick;
    this.rounds = rounds;
    this.progress = progress;
    this.log = log;
  }

  /** Runs the scenarios; true when all of them completed. */
  public boolean run(List<Scenario> scenarios, Path jipamHome, String command) throws IOException {
    Files.createDirectories(out);
    MachineInfo machine = MachineInfo.collect(jipamHome, command, seed);
    machine.write(out.resolve("machine.json"));
    Report report = new Report();
    report.heading(1, "jipam-bench results")
        .paragraph("Command: `" + command + "`" + (quick ? " (**--quick**: smoke-test sizes, the figures mean nothing)" : "")
            + ". Machine: " + machine.fields().get("cores") + " cores, " + machine.fields().get("cpuModel") + ", "
            + machine.fields().get("os") + ", Linux " + machine.fields().get("kernel") + "; jipam "
            + machine.fields().get("jipamCommit") + "; load average at start " + machine.fields().get("loadAverageStart")
            + " (details in machine.json). Every ratio compares figures measured in this run.");
    boolean allDone = true;
    try (Results results = new Results(out.resolve("samples.csv"))) {
      RunContext context = new RunContext(out, seed, quick, rounds, results, report, progress);
      for (Scenario scenario : scenarios) {
        long start = System.nanoTime();
        log.printf("jipam-bench: %s ...%n", scenario.name());
        try {
          progress.start(scenario.name(), scenario.steps(context));
          scenario.run(context);
        } catch (Exception e) {
          allDone = false;
          report.heading(2, scenario.name()).paragraph("**Failed**: " + e);
          log.printf("jipam-bench: %s failed: %s%n", scenario.name(), e);
          if (!(e instanceof IllegalStateException || e instanceof IllegalArgumentException)) {
            e.printStackTrace(log); // unexpected: the trace helps; a missing binary's message says it all
          }
        } finally {
          progress.close();
          results.flush();
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        log.printf(Locale.ROOT, "jipam-bench: %s took %d min %02d s%n", scenario.name(), took.toMinutes(),
            took.toSecondsPart());
      }
    } finally {
      machine.end();
      machine.write(out.resolve("machine.json"));
      report.paragraph("Load average at end: " + machine.fields().get("loadAverageEnd") + ".");
      report.write(out.resolve("summary.md"));
    }
    return allDone;
  }
}
