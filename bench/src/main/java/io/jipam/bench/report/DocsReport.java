package io.jipam.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code docs/benchmarks.md} from a template and a run's results directory: the template holds the
 * prose; its placeholders take the run's tables, the command and the machine. The charts the
 * placed sections link to are copied into {@code docs/img/} under their own (stable) names and the
 * links rewritten to {@code img/<name>}.
 *
 * <table>
 *   <caption>placeholders</caption>
 *   <tr><th>placeholder</th><th>replaced by</th></tr>
 *   <tr><td>{@code {{command}}}</td><td>machine.json's {@code command}</td></tr>
 *   <tr><td>{@code {{machine}}}</td><td>a table of the machine, versions, commit, load average and run time</td></tr>
 *   <tr><td>{@code {{section:NAME}}}</td><td>summary.md's {@code ## NAME} section without its heading; when the run
 *       has none, a line saying so</td></tr>
 *   <tr><td>{@code {{other-sections}}}</td><td>every section of summary.md no {@code section:} placeholder took,
 *       with its heading (so a new scenario shows up before the template knows it)</td></tr>
 * </table>
 *
 * An unknown placeholder, a missing summary.md or machine.json, or a chart link to a file that is
 * not in the results directory is an error naming it; nothing is written then.
 */
public final class DocsReport {
  /** The template inside the jar. */
  public static final String TEMPLATE_RESOURCE = "/benchmarks-template.md";

  private final Path results;
  private final Path docs;
  private final String template;

  public DocsReport(Path results, Path docs, String template) {
    this.results = results;
    this.docs = docs;
    this.template = template;
  }

  /** The template shipped in the jar. */
  public static String bundledTemplate() throws IOException {
    try (InputStream in = DocsReport.class.getResourceAsStream(TEMPLATE_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("template " + TEMPLATE_RESOURCE + " is not on the class path");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** What {@link #write} wrote. */
  public record Written(Path markdown, List<Path> charts) {}

  /** Renders the template and writes {@code docs/benchmarks.md} and {@code docs/img/*.png}. */
  public Written write() throws IOException {
    Path summaryFile = results.resolve("summary.md");
    Path machineFile = results.resolve("machine.json");
    for (Path p : List.of(summaryFile, machineFile)) {
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException("--from " + results + ": no " + p.getFileName()
            + " (a results directory of jipam-bench holds summary.md and machine.json)");
      }
    }
    Map<String, String> sections = sections(Files.readString(summaryFile, StandardCharsets.UTF_8));
    JsonNode machine = new ObjectMapper().readTree(machineFile.toFile());
    Set<String> charts = new LinkedHashSet<>();
    String markdown = render(sections, machine, charts);
    for (String chart : charts) {
      if (!Files.isRegularFile(results.resolve(chart))) {
        throw new IllegalArgumentException("summary.md links to " + chart + ", which is not in " + results);
      }
    }
    Path img = Files.createDirectories(docs.resolve("img"));
    List<Path> copied = new ArrayList<>();
    for (String chart : charts) {
      Path to = img.resolve(chart);
      Files.copy(results.resolve(chart), to, StandardCopyOption.REPLACE_EXISTING);
      copied.add(to);
    }
    Path out = docs.resolve("benchmarks.md");
    Path tmp = docs.resolve(".benchmarks.md.tmp");
    Files.writeString(tmp, markdown, StandardCharsets.UTF_8);
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return new Written(out, copied);
  }

  /** The template with every placeholder replaced; the charts linked are added to {@code charts}. */
  String render(Map<String, String> sections, JsonNode machine, Set<String> charts) {
    Set<String> placed = new LinkedHashSet<>();
    StringBuilder out = new StringBuilder();
    int at = 0;
    while (true) {
      int open = template.indexOf("{{", at);
      if (open < 0) {
        out.append(template, at, template.length());
        break;
      }
      int close = template.indexOf("}}", open);
      if (close < 0) {
        throw new IllegalArgumentException("template: '{{' without '}}' at offset " + open);
      }
      out.append(template, at, open);
      String name = template.substring(open + 2, close).trim();
      if (name.equals("command")) {
        out.append(text(machine, "command"));
      } else if (name.equals("machine")) {
        out.append(machineTable(machine));
      } else if (name.startsWith("section:")) {
        String section = name.substring("section:".length());
        placed.add(section);
        String body = sections.get(section);
        out.append(body == null ? "*Not in this run.*\n" : links(body, charts));
      } else if (name.equals("other-sections")) {
        // last, so that the sections placed after it are known: filled in below
        out.append("\u0000OTHER\u0000");
      } else {
        throw new IllegalArgumentException("template: unknown placeholder {{" + name + "}}");
      }
      at = close + 2;
    }
    StringBuilder others = new StringBuilder();
    sections.forEach((section, body) -> {
      if (!placed.contains(section)) {
        others.append("## ").append(section).append("\n\n").append(links(body, charts));
      }
    });
    return out.toString().replace("\u0000OTHER\u0000", others.toString());
  }

  /**
   * summary.md's {@code ## } sections, name (the heading's first word) to body without the heading;
   * the text before the first one (the run's preamble) and the closing load-average line are dropped.
   */
  static Map<String, String> sections(String summary) {
    Map<String, String> sections = new LinkedHashMap<>();
    String name = null;
    StringBuilder body = new StringBuilder();
    for (String line : summary.split("\n", -1)) {
      if (line.startsWith("## ")) {
        if (name != null) {
          sections.put(name, tidy(body.toString()));
        }
        String heading = line.substring(3).trim();
        int space = heading.indexOf(' ');
        name = space < 0 ? heading : heading.substring(0, space);
        body.setLength(0);
      } else if (name != null && !line.startsWith("Load average at end:")) {
        body.append(line).append('\n');
      }
    }
    if (name != null) {
      sections.put(name, tidy(body.toString()));
    }
    return sections;
  }

  private static String tidy(String body) {
    return body.strip() + "\n";
  }

  /** Rewrites {@code ![alt](file.png)} links to {@code img/file.png} and collects the files. */
  static String links(String body, Set<String> charts) {
    StringBuilder out = new StringBuilder();
    int at = 0;
    while (true) {
      int bang = body.indexOf("![", at);
      if (bang < 0) {
        out.append(body, at, body.length());
        return out.toString();
      }
      int paren = body.indexOf("](", bang);
      int end = paren < 0 ? -1 : body.indexOf(')', paren);
      if (end < 0) {
        out.append(body, at, body.length());
        return out.toString();
      }
      String file = body.substring(paren + 2, end);
      out.append(body, at, paren + 2);
      if (!file.contains("/") && file.endsWith(".png")) {
        charts.add(file);
        out.append("img/").append(file);
      } else {
        out.append(file);
      }
      out.append(')');
      at = end + 1;
    }
  }

  private static String text(JsonNode machine, String field) {
    JsonNode v = machine.get(field);
    return v == null || v.isNull() ? "unknown: not in machine.json" : v.isTextual() ? v.asText() : v.toString();
  }

  /** The machine as a Markdown table. */
  static String machineTable(JsonNode m) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"CPU", text(m, "cores") + " cores, " + text(m, "cpuModel")});
    JsonNode mem = m.get("memoryBytes");
    rows.add(new String[] {"memory", mem != null && mem.isNumber()
        ? String.format(Locale.ROOT, "%.1f GiB", mem.asLong() / (1024.0 * 1024 * 1024)) : text(m, "memoryBytes")});
    rows.add(new String[] {"OS, kernel", text(m, "os") + ", Linux " + text(m, "kernel")});
    rows.add(new String[] {"harness JDK", text(m, "jdk")});
    JsonNode jvm = m.path("pluginJvm");
    rows.add(new String[] {"plugin JVM", jvm.path("version").asText("unknown") + " (`" + jvm.path("java").asText("?")
        + "`), start-up cache: " + (jvm.path("cacheFlags").asText("").isBlank() ? "none" : "`" + jvm.path("cacheFlags").asText() + "`")});
    List<String> peers = new ArrayList<>();
    m.path("peers").fields().forEachRemaining(e -> peers.add(e.getKey() + ": " + e.getValue().asText()));
    rows.add(new String[] {"peers", String.join("; ", peers)});
    rows.add(new String[] {"jipam commit", "`" + text(m, "jipamCommit") + "`"});
    rows.add(new String[] {"seed", text(m, "seed")});
    rows.add(new String[] {"load average (1, 5, 15 min)", "start " + load(m.get("loadAverageStart")) + ", end "
        + load(m.get("loadAverageEnd"))});
    rows.add(new String[] {"run", text(m, "startedAt") + " to " + text(m, "endedAt") + duration(m)});
    StringBuilder out = new StringBuilder("| | |\n|---|---|\n");
    for (String[] row : rows) {
      out.append("| ").append(row[0]).append(" | ").append(row[1].replace("|", "\\|")).append(" |\n");
    }
    return out.toString();
  }

  private static String load(JsonNode load) {
    if (load == null || !load.isArray() || load.isEmpty()) {
      return "unknown";
    }
    List<String> values = new ArrayList<>();
    load.forEach(v -> values.add(String.format(Locale.ROOT, "%.1f", v.asDouble())));
    return String.join(" / ", values);
  }

  private static String duration(JsonNode m) {
    try {
      Duration d = Duration.between(Instant.parse(text(m, "startedAt")), Instant.parse(text(m, "endedAt")));
      return String.format(Locale.ROOT, " (%d min %02d s)", d.toMinutes(), d.toSecondsPart());
    } catch (RuntimeException e) {
      return "";
    }
  }
}
