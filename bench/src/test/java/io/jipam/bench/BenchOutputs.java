package io.jipam.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import picocli.CommandLine;

/** Runs {@code jipam-bench} in this JVM and checks what it wrote: CSV, Markdown tables, PNG charts. */
final class BenchOutputs {
  private BenchOutputs() {}

  /** Exit code, stdout, stderr of one run. */
  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
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

  /** samples.csv's rows, numbers checked. */
  static List<String[]> samples(Path out) throws IOException {
    List<String[]> rows = csv(out.resolve("samples.csv"), Sample.CSV_HEADER);
    for (String[] row : rows) {
      Integer.parseInt(row[4]);
      assertTrue(Integer.parseInt(row[7]) >= 1, Arrays.toString(row));
      Double.parseDouble(row[8]);
    }
    return rows;
  }

  /** A Markdown table holding a row that starts with {@code rowStart}: header, separator, same column count. */
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

  /** A PNG (its signature) that decodes to the harness's chart size. */
  static void assertPng(Path file) throws IOException {
    byte[] head = Arrays.copyOf(Files.readAllBytes(file), 8);
    assertEquals(Arrays.toString(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}), Arrays.toString(head),
        file + " has no PNG signature");
    BufferedImage image = ImageIO.read(file.toFile());
    assertNotNull(image, file + " does not decode");
    assertEquals(900, image.getWidth());
    assertEquals(540, image.getHeight());
  }

  /** The value of a Markdown table row's cell (0-based, after the leading pipe). */
  static String cell(String markdown, String rowStart, int index) {
    String line = markdown.lines().filter(l -> l.startsWith(rowStart)).findFirst().orElseThrow(
        () -> new AssertionError("no row " + rowStart + " in:\n" + markdown));
    return line.split("\\|", -1)[index + 1].trim();
  }
}
