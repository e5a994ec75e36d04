package io.jipam.bench.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code summary.md}: Markdown that scenarios append to (headings, paragraphs, tables, chart
 * links); written out once at the end of the run. Not thread-safe: one scenario writes at a time.
 */
public final class Report {
  private final StringBuilder text = new StringBuilder();

  /** Appends a heading of the given level (1 to 6). */
  public Report heading(int level, String title) {
    text.append("#".repeat(level)).append(' ').append(title).append("\n\n");
    return this;
  }

  /** Appends a paragraph. */
  public Report paragraph(String paragraph) {
    text.append(paragraph).append("\n\n");
    return this;
  }

  /** Appends a fenced code block. */
  public Report code(String code) {
    text.append("```\n").append(code).append("\n```\n\n");
    return this;
  }

  /**
   * Appends a table. {@code align} has one character per column: {@code l} or {@code r}.
   * Every row must have as many cells as the header.
   */
  public Report table(List<String> header, String align, List<List<String>> rows) {
    if (align.length() != header.size()) {
      throw new IllegalArgumentException("align " + align + " does not match " + header.size() + " columns");
    }
    text.append("| ").append(String.join(" | ", header)).append(" |\n|");
    for (char a : align.toCharArray()) {
      text.append(a == 'r' ? "---:|" : "---|");
    }
    text.append('\n');
    for (List<String> row : rows) {
      if (row.size() != header.size()) {
        throw new IllegalArgumentException("row " + row + " has " + row.size() + " cells, header " + header.size());
      }
      text.append("| ").append(String.join(" | ", row)).append(" |\n");
    }
    text.append('\n');
    return this;
  }

  /** Appends an image link to a chart in the same directory. */
  public Report image(String alt, String file) {
    text.append("![").append(alt).append("](").append(file).append(")\n\n");
    return this;
  }

  /** The Markdown so far. */
  public String markdown() {
    return text.toString();
  }

  /** Writes the Markdown to {@code file}. */
  public void write(Path file) throws IOException {
    Files.writeString(file, text, StandardCharsets.UTF_8);
  }

  /** A figure with a precision that suits its size: 3 significant digits, grouped thousands. */
  public static String fmt(double value) {
    if (Double.isNaN(value)) {
      return "–";
    }
    double abs = Math.abs(value);
    if (abs >= 100) {
      return String.format(Locale.ROOT, "%,.0f", value);
    }
    if (abs >= 10) {
      return String.format(Locale.ROOT, "%.1f", value);
    }
    if (abs >= 1) {
      return String.format(Locale.ROOT, "%.2f", value);
    }
    return String.format(Locale.ROOT, "%.3f", value);
  }

  /** A ratio as {@code 0.18×}; a dash when it could not be measured. */
  public static String ratio(double value) {
    return Double.isNaN(value) ? "–" : fmt(value) + "×";
  }
}
