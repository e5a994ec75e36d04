package io.jipam.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jipam.bench.harness.Sample;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
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
  private static final String[] CSV_COLUMNS = Sample.CSV_HEADER.split(",");

  @TempDir
  Path tmp;

  /** Exit code, stdout, stderr of one run of the command line in this JVM. */
  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    PrintStream savedErr = System.err;
    PrintStream savedOut = System.out;
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    int exit;
    try {
      System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
      System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
      CommandLine cmd = JipamBench.commandLine();
      cmd.setOut(new PrintWriter(out, true));
      cmd.setErr(new PrintWriter(err, true));
      exit = cmd.execute(args);
    } finally {
      System.setErr(savedErr);
      System.setOut(savedOut);
    }
    return new Run(exit, out + stdout.toString(StandardCharsets.UTF_8), err + stderr.toString(StandardCharsets.UTF_8));
  }

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
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void allocatorQuick_writesCsvMarkdownPngAndMachineJson() throws IOException {
    Path out = tmp.resolve("allocator");
    Run run = run("allocator", "--quick", "--seed", "7", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    // not a terminal here: no progress bar drawn (it redraws with carriage returns)
    assertFalse(run.err().contains("\r"), run.err());
    List<String[]> rows = csv(out.resolve("samples.csv"));
    Set<String> subjects = new TreeSet<>();
    for (String[] row : rows) {
      assertEquals("allocator", row[0]);
      assertEquals("range=10.0.0.0/24;fill=50", row[1]);
      subjects.add(row[2]);
      assertEquals("ns", row[6]);
      assertTrue(Double.parseDouble(row[8]) > 0, String.join(",", row));
    }
    assertEquals(new TreeSet<>(List.of("jipam round-robin", "jipam lowest-free", "host-local scan (model)",
        "k8s ClusterIP bitmap (model)", "BitSet round-robin", "BitSet lowest-free")), subjects);
    assertEquals(6 * 2, rows.size(), "6 subjects x 2 rounds of one measured iteration");
    String summary = Files.readString(out.resolve("summary.md"));
    assertMarkdownTable(summary, "| 10.0.0.0/24 | 50 |");
    assertPng(out.resolve("allocator-10_0_0_0_24.png"));
    JsonNode machine = machine(out);
    assertEquals(7, machine.get("seed").asLong());
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void pluginQuick_measuresJipamHostLocalAndTheFloorWithCpu() throws IOException {
    Path jipam = Path.of(System.getProperty("jipam.dist", "../dist"), "bin", "jipam");
    assumeTrue(Files.isExecutable(jipam), jipam + " not built (./mvnw -q -DskipTests package)");
    boolean hostLocal = Files.isExecutable(Path.of("/usr/lib/cni/host-local"));
    Path out = tmp.resolve("plugin");
    Run run = run("plugin", "--quick", "--jipam", jipam.toString(), "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<String[]> rows = csv(out.resolve("samples.csv"));
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
    machine(out);
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void etcdQuick_measuresStoreRawAndLockOnARealEtcd() throws IOException {
    boolean etcd = Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin").split(":"))
        .anyMatch(d -> Files.isExecutable(Path.of(d, "etcd")));
    assumeTrue(etcd, "no etcd binary on PATH");
    Path out = tmp.resolve("etcd");
    Run run = run("etcd", "--quick", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<String[]> rows = csv(out.resolve("samples.csv"));
    for (String subject : List.of("raw CAS", "global lock", "jipam etcd store")) {
      assertTrue(rows.stream().anyMatch(r -> r[2].equals(subject) && r[5].equals("throughput")
          && Double.parseDouble(r[8]) > 0), subject + " has no throughput");
    }
    assertMarkdownTable(Files.readString(out.resolve("summary.md")), "| jipam etcd store, ADD |");
    assertPng(out.resolve("etcd-throughput.png"));
    machine(out);
  }

  private static double sum(List<String[]> rows, String workload, String subject, String metric) {
    return rows.stream().filter(r -> r[1].equals(workload) && r[2].equals(subject) && r[5].equals(metric))
        .mapToDouble(r -> Double.parseDouble(r[8])).sum();
  }

  /** The data rows of samples.csv, after checking the header and the column count of every row. */
  private static List<String[]> csv(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    assertEquals(Sample.CSV_HEADER, lines.get(0));
    List<String[]> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",", -1);
      assertEquals(CSV_COLUMNS.length, cells.length, line);
      Integer.parseInt(cells[4]);
      Integer.parseInt(cells[7]);
      Double.parseDouble(cells[8]);
      rows.add(cells);
    }
    assertFalse(rows.isEmpty(), "no samples in " + file);
    return rows;
  }

  /** A Markdown table: a header row, a separator row of the same width, and the expected row. */
  private static void assertMarkdownTable(String markdown, String rowStart) {
    List<String> lines = markdown.lines().toList();
    int row = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith(rowStart)) {
        row = i;
        break;
      }
    }
    assertTrue(row >= 2, "no row starting " + rowStart + " in:\n" + markdown);
    int header = row;
    while (header > 0 && lines.get(header - 1).startsWith("|")) {
      header--;
    }
    long columns = lines.get(header).chars().filter(ch -> ch == '|').count();
    assertTrue(lines.get(header + 1).matches("\\|(-+:?\\|)+"), "separator: " + lines.get(header + 1));
    assertEquals(columns, lines.get(header + 1).chars().filter(ch -> ch == '|').count());
    assertEquals(columns, lines.get(row).chars().filter(ch -> ch == '|').count(), lines.get(row));
  }

  private static void assertPng(Path file) throws IOException {
    BufferedImage image = ImageIO.read(file.toFile());
    assertNotNull(image, file + " does not decode as an image");
    assertEquals(900, image.getWidth());
    assertEquals(540, image.getHeight());
  }

  private static JsonNode machine(Path out) throws IOException {
    JsonNode machine = new ObjectMapper().readTree(out.resolve("machine.json").toFile());
    for (String field : List.of("cores", "memoryBytes", "cpuModel", "kernel", "os", "jdk", "pluginJvm", "peers",
        "jipamCommit", "loadAverageStart", "loadAverageEnd", "command", "seed", "startedAt", "endedAt")) {
      assertTrue(machine.has(field), "machine.json lacks " + field + ": " + machine);
    }
    assertEquals(Runtime.getRuntime().availableProcessors(), machine.get("cores").asInt());
    assertTrue(machine.get("peers").has("host-local") && machine.get("peers").has("etcd"), machine.toString());
    return machine;
  }
}
