package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.assertPng;
import static io.jipam.bench.ScenarioOutputs.machine;
import static io.jipam.bench.ScenarioOutputs.run;
import static io.jipam.bench.ScenarioOutputs.samples;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.bench.ScenarioOutputs.Row;
import io.jipam.bench.ScenarioOutputs.Run;
import io.jipam.bench.harness.ScenarioType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Smoke tests of {@code jipam-bench}: every scenario at {@code --quick} size runs end to end and
 * every output file parses. Not how fast anything is. The plugin scenario needs the built plugin
 * ({@code dist/bin/jipam}, there when the reactor has packaged ipam-plugin-bin), the etcd scenario
 * an etcd binary; each is skipped with the reason when it is missing.
 */
class JipamBenchIT {
  @TempDir
  Path tmp;

  @Test
  void help_listsEveryScenario() {
    Run run = run("--help");
    assertEquals(0, run.exit(), run.err());
    for (String scenario : List.of("allocator", "plugin", "etcd", "service", "cluster", "runtime", "churn", "all",
        "report")) {
      assertTrue(run.out().contains("\n  " + scenario + " "), scenario + " missing from:\n" + run.out());
    }
  }

  @Test
  void distClassPath_holdsTheTestkitAndNoTestFramework() throws IOException {
    Path lib = Path.of(System.getProperty("jipam.dist", "../dist"), "lib", "bench");
    assumeTrue(Files.isDirectory(lib), lib + " not built (./mvnw -q -DskipTests package)");
    Set<String> jars = new TreeSet<>();
    try (var files = Files.list(lib)) {
      files.forEach(f -> jars.add(f.getFileName().toString()));
    }
    // the harness starts etcd and jipamd with the testkit's launchers, at run time, without JUnit
    assertTrue(jars.contains("ipam-testkit.jar"), "no ipam-testkit.jar in " + lib + ": " + jars);
    List<String> frameworks = jars.stream().filter(j -> j.startsWith("junit") || j.startsWith("assertj")
        || j.startsWith("opentest4j") || j.startsWith("apiguardian")).toList();
    assertEquals(List.of(), frameworks, "test frameworks on jipam-bench's class path " + lib);
  }

  @Test
  void commandLine_registryEntries_areTheSubcommandsWithTheirHelpLines() {
    CommandLine cmd = JipamBench.commandLine();
    List<String> expected = new ArrayList<>(Scenarios.ALL.stream().map(ScenarioType::name).toList());
    expected.addAll(List.of("all", "report"));
    assertEquals(expected, new ArrayList<>(cmd.getSubcommands().keySet()));
    for (ScenarioType<?> type : Scenarios.ALL) {
      CommandLine sub = cmd.getSubcommands().get(type.name());
      assertEquals(List.of(type.description()), List.of(sub.getCommandSpec().usageMessage().description()));
      assertEquals(type.name(), type.bind().scenario().get().name(), "the scenario's own name");
      // every option of the scenario's options class is on its subcommand, and on all's when all takes them
      CommandLine.Model.CommandSpec options = CommandLine.Model.CommandSpec.forAnnotatedObject(type.options().get());
      for (CommandLine.Model.OptionSpec o : options.options()) {
        assertNotNull(sub.getCommandSpec().findOption(o.longestName()), type.name() + " lacks " + o.longestName());
        if (type.inAll() == ScenarioType.InAll.WITH_OPTIONS) {
          assertNotNull(cmd.getSubcommands().get("all").getCommandSpec().findOption(o.longestName()),
              "all lacks " + type.name() + "'s " + o.longestName());
        }
      }
    }
  }

  @Test
  void noScenario_printsUsageAndExits2() {
    Run run = run();
    assertEquals(2, run.exit());
    assertTrue(run.err().contains("name a scenario"), run.err());
  }

  @Test
  void badOption_isAClearErrorAndWritesNothing() {
    Path out = tmp.resolve("bad");
    Run fills = run("allocator", "--quick", "--out", out.toString(), "--fills", "abc");
    assertEquals(2, fills.exit(), fills.err());
    assertTrue(fills.err().contains("--fills: not a number: 'abc'"), fills.err());
    Run progress = run("allocator", "--quick", "--out", out.toString(), "--progress", "sometimes");
    assertEquals(2, progress.exit(), progress.err());
    assertTrue(progress.err().contains("--progress must be auto, always or never, got 'sometimes'"), progress.err());
    Run allocations = run("plugin", "--quick", "--out", out.toString(), "--allocations", "70000");
    assertEquals(2, allocations.exit(), allocations.err());
    assertTrue(allocations.err().contains("each must be in [0, 65000], got 70000"), allocations.err());
    assertFalse(Files.exists(out), "a refused command created " + out);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS) // a hang guard; the scenarios take 10-30 s on a quiet machine
  void allocatorQuick_writesCsvMarkdownPngAndMachineJson() throws IOException {
    Path out = tmp.resolve("allocator");
    Run run = run("allocator", "--quick", "--seed", "7", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    // not a terminal here: no progress bar drawn (it redraws with carriage returns)
    assertFalse(run.err().contains("\r"), run.err());
    List<Row> rows = samples(out);
    Set<String> subjects = new TreeSet<>();
    for (Row row : rows) {
      assertEquals("allocator", row.scenario());
      assertEquals("range=10.0.0.0/24;fill=50", row.workload());
      subjects.add(row.subject());
      assertEquals("ns", row.unit());
      assertTrue(row.value() > 0, row.toString());
    }
    assertEquals(new TreeSet<>(List.of("jipam round-robin", "jipam lowest-free", "host-local scan (model)",
        "k8s ClusterIP bitmap (model)", "BitSet round-robin", "BitSet lowest-free")), subjects);
    assertEquals(6 * 2, rows.size(), "6 subjects x 2 rounds of one measured iteration");
    String summary = Files.readString(out.resolve("summary.md"));
    assertMarkdownTable(summary, "| 10.0.0.0/24 | 50 |");
    assertPng(out.resolve("allocator-10_0_0_0_24.png"));
    machine(out, 7);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS) // a hang guard; the scenarios take 10-30 s on a quiet machine
  void pluginQuick_measuresJipamHostLocalAndTheFloorWithCpu() throws IOException {
    Path jipam = Path.of(System.getProperty("jipam.dist", "../dist"), "bin", "jipam");
    assumeTrue(Files.isExecutable(jipam), jipam + " not built (./mvnw -q -DskipTests package)");
    boolean hostLocal = Files.isExecutable(Path.of("/usr/lib/cni/host-local"));
    Path out = tmp.resolve("plugin");
    // --cpu-seconds 1: the CPU blocks still run (a block per subject at least), at a fifth of their
    // default cost, which in the suite is most of this scenario's time
    Run run = run("plugin", "--quick", "--cpu-seconds", "1", "--jipam", jipam.toString(), "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<Row> rows = samples(out);
    List<String> expected = new ArrayList<>(List.of("jipam", "JVM floor"));
    if (hostLocal) {
      expected.add("host-local");
    }
    if (Files.isExecutable(jipam.resolveSibling("jipamd"))) {
      expected.add("jipam via jipamd"); // daemon mode: the plugin forwarding to a jipamd on the file store
    }
    for (String subject : expected) {
      for (String workload : List.of("allocations=0;concurrency=1", "allocations=100;concurrency=1",
          "allocations=0;concurrency=4", "allocations=100;concurrency=4")) {
        double wall = sum(rows, workload, subject, "wall");
        assertTrue(wall > 0, subject + " " + workload + " wall " + wall);
      }
    }
    // a JVM start costs tens of ms of CPU: 16 calls of jipam cannot all fall under one 10 ms tick
    assertTrue(sum(rows, "allocations=0;concurrency=1", "jipam", "cpu")
        + sum(rows, "allocations=100;concurrency=1", "jipam", "cpu") > 0, "jipam CPU was not accounted");
    String summary = Files.readString(out.resolve("summary.md"));
    assertMarkdownTable(summary, "| 100 |");
    for (String png : List.of("plugin-latency.png", "plugin-cpu.png", "plugin-throughput.png")) {
      assertPng(out.resolve(png));
    }
    machine(out, 1);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS) // a hang guard; the scenarios take 10-30 s on a quiet machine
  void etcdQuick_measuresStoreRawAndLockOnARealEtcd() throws IOException {
    assumeTrue(ScenarioOutputs.etcdInstalled(), "no etcd binary on PATH");
    Path out = tmp.resolve("etcd");
    Run run = run("etcd", "--quick", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<Row> rows = samples(out);
    for (String subject : List.of("raw CAS", "global lock", "jipam etcd store")) {
      assertTrue(rows.stream().anyMatch(r -> r.subject().equals(subject) && r.metric().equals("throughput")
          && r.value() > 0), subject + " has no throughput");
    }
    assertMarkdownTable(Files.readString(out.resolve("summary.md")), "| jipam etcd store, ADD |");
    assertPng(out.resolve("etcd-throughput.png"));
    machine(out, 1);
  }

  private static double sum(List<Row> rows, String workload, String subject, String metric) {
    return rows.stream().filter(r -> r.workload().equals(workload) && r.subject().equals(subject)
        && r.metric().equals(metric)).mapToDouble(Row::value).sum();
  }
}
