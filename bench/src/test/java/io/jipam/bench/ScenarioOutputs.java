package io.jipam.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jipam.bench.harness.Sample;
import io.jipam.testkit.Etcd;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import javax.imageio.ImageIO;
import picocli.CommandLine;

/**
 * The bench tests' one output checker: runs {@code jipam-bench} in this JVM and checks what it
 * wrote: samples.csv (header, column count, numeric columns), a scenario's own CSV files (header,
 * column count), Markdown tables (header, separator, row of the same width), PNG charts (signature,
 * decode, size, link from the summary) and machine.json.
 */
final class ScenarioOutputs {
  private static final List<String> MACHINE_FIELDS = List.of("cores", "memoryBytes", "cpuModel", "kernel", "os", "jdk",
      "pluginJvm", "peers", "jipamCommit", "loadAverageStart", "loadAverageEnd", "command", "seed", "startedAt",
      "endedAt");

  private ScenarioOutputs() {}

  /** Exit code, stdout, stderr of one run of the command line. */
  record Run(int exit, String out, String err) {}

  /**
   * Runs the command line in this JVM. Runs may go on at once (IT classes run side by side): each
   * gets its own console ({@link ConsoleRoute}).
   */
  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    ConsoleRoute.Captured<Integer> run = ConsoleRoute.capture(() -> {
      CommandLine cmd = JipamBench.commandLine();
      cmd.setOut(new PrintWriter(out, true));
      cmd.setErr(new PrintWriter(err, true));
      return cmd.execute(args);
    });
    return new Run(run.result(), out + run.out(), err + run.err());
  }

  /** One parsed row of samples.csv. */
  record Row(String scenario, String workload, String subject, String operation, int round, String metric,
      String unit, int calls, double value) {}

  /** The data rows of samples.csv, after checking the header, the column count and the numbers. */
  static List<Row> csv(Path file) throws IOException {
    List<Row> rows = new ArrayList<>();
    for (String[] c : csv(file, Sample.CSV_HEADER)) {
      Row row = new Row(c[0], c[1], c[2], c[3], Integer.parseInt(c[4]), c[5], c[6], Integer.parseInt(c[7]),
          Double.parseDouble(c[8]));
      assertTrue(row.calls() >= 1 && Double.isFinite(row.value()), String.join(",", c));
      rows.add(row);
    }
    return rows;
  }

  /** The data rows of a CSV file with the given header; every row has as many cells as the header. */
  static List<String[]> csv(Path file, String header) throws IOException {
    List<String> lines = Files.readAllLines(file);
    assertEquals(header, lines.get(0), file.toString());
    int columns = header.split(",").length;
    List<String[]> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",", -1);
      assertEquals(columns, cells.length, file + ": " + line);
      rows.add(cells);
    }
    assertFalse(rows.isEmpty(), "no rows in " + file);
    return rows;
  }

  /** samples.csv of a results directory, as {@link #csv(Path)}. */
  static List<Row> samples(Path out) throws IOException {
    return csv(out.resolve("samples.csv"));
  }

  static List<Row> select(List<Row> rows, Predicate<Row> filter) {
    return rows.stream().filter(filter).toList();
  }

  /** A Markdown table around the first line starting {@code rowStart}: header, separator, same width. */
  static void assertMarkdownTable(String markdown, String rowStart) {
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

  /** The value of a Markdown table row's cell (0-based, after the leading pipe). */
  static String cell(String markdown, String rowStart, int index) {
    String line = markdown.lines().filter(l -> l.startsWith(rowStart)).findFirst().orElseThrow(
        () -> new AssertionError("no row " + rowStart + " in:\n" + markdown));
    return line.split("\\|", -1)[index + 1].trim();
  }

  /** A PNG (its signature) that decodes to the harness's chart size, 900 × 540. */
  static void assertPng(Path file) throws IOException {
    byte[] head = new byte[8];
    try (var in = Files.newInputStream(file)) {
      assertEquals(8, in.read(head));
    }
    assertEquals(0x89, head[0] & 0xff, file + " has no PNG signature");
    assertEquals("PNG", new String(head, 1, 3, StandardCharsets.US_ASCII));
    BufferedImage image = ImageIO.read(file.toFile());
    assertNotNull(image, file + " does not decode as an image");
    assertEquals(900, image.getWidth());
    assertEquals(540, image.getHeight());
  }

  /** {@link #assertPng(Path)}, and linked from the summary. */
  static void assertPng(Path file, String summary) throws IOException {
    assertPng(file);
    assertTrue(summary.contains("](" + file.getFileName() + ")"), file.getFileName() + " not linked from summary.md");
  }

  /** machine.json parses, has every field, names this machine's cores and both peers, and the seed. */
  static JsonNode machine(Path out, long seed) throws IOException {
    JsonNode machine = new ObjectMapper().readTree(out.resolve("machine.json").toFile());
    for (String field : MACHINE_FIELDS) {
      assertTrue(machine.has(field), "machine.json lacks " + field + ": " + machine);
    }
    assertEquals(Runtime.getRuntime().availableProcessors(), machine.get("cores").asInt());
    assertTrue(machine.get("peers").has("host-local") && machine.get("peers").has("etcd"), machine.toString());
    assertEquals(seed, machine.get("seed").asLong(), machine.toString());
    return machine;
  }

  /** Whether an etcd binary is on PATH ({@link Etcd#binary()}). */
  static boolean etcdInstalled() {
    return Etcd.binary() != null;
  }
}
