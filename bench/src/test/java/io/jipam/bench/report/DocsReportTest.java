package io.jipam.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The template's placeholders, summary.md's sections and chart links, and what the bundled template must keep. */
class DocsReportTest {
  private static final String SUMMARY = String.join("\n",
      "# jipam-bench results", "", "Command: `jipam-bench all`. Machine: ...", "",
      "## plugin", "", "Whole-process calls.", "", "### Sequential", "", "| a | b |", "|---|---:|", "| 0 | 1.5 |", "",
      "![plugin latency](plugin-latency.png)", "",
      "## service", "", "**Failed**: java.lang.IllegalStateException: no jipamd", "",
      "Load average at end: [1.0, 2.0, 3.0].", "");

  @TempDir
  Path tmp;

  @Test
  void sections_splitAtLevelTwoHeadings_withoutPreambleOrClosingLoad() {
    Map<String, String> sections = DocsReport.sections(SUMMARY);
    assertEquals(List.of("plugin", "service"), List.copyOf(sections.keySet()));
    assertTrue(sections.get("plugin").startsWith("Whole-process calls."), sections.get("plugin"));
    assertTrue(sections.get("plugin").contains("### Sequential"));
    assertEquals("**Failed**: java.lang.IllegalStateException: no jipamd\n", sections.get("service"));
  }

  @Test
  void links_pngInTheResultsDir_pointsIntoImgAndIsCollected() {
    Set<String> charts = new LinkedHashSet<>();
    String out = DocsReport.links("a ![x](one.png) b ![y](https://example.org/two.png) ![z](three.png)", charts);
    assertEquals("a ![x](img/one.png) b ![y](https://example.org/two.png) ![z](img/three.png)", out);
    assertEquals(List.of("one.png", "three.png"), List.copyOf(charts));
  }

  @Test
  void render_placesSections_marksMissingOnes_andAppendsTheRest() throws Exception {
    String template = "run: {{command}}\n\n{{section:plugin}}\n## churn\n\n{{section:churn}}\n{{other-sections}}";
    Set<String> charts = new LinkedHashSet<>();
    String out = new DocsReport(tmp, tmp, template).render(DocsReport.sections(SUMMARY),
        new ObjectMapper().readTree("{\"command\":\"jipam-bench all --seed 1\"}"), charts);
    assertTrue(out.startsWith("run: jipam-bench all --seed 1\n\nWhole-process calls."), out);
    assertTrue(out.contains("![plugin latency](img/plugin-latency.png)"), out);
    assertTrue(out.contains("## churn\n\n*Not in this run.*"), out);
    assertTrue(out.endsWith("## service\n\n**Failed**: java.lang.IllegalStateException: no jipamd\n"), out);
    assertFalse(out.contains("Load average at end"), out);
    assertEquals(Set.of("plugin-latency.png"), charts);
  }

  @Test
  void render_unknownPlaceholder_isAnErrorNamingIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DocsReport(tmp, tmp,
        "{{sektion:plugin}}").render(Map.of(), new ObjectMapper().readTree("{}"), new LinkedHashSet<>()));
    assertEquals("template: unknown placeholder {{sektion:plugin}}", e.getMessage());
  }

  @Test
  void write_resultsWithoutSummary_isAnErrorAndWritesNothing() throws Exception {
    Path docs = Files.createDirectories(tmp.resolve("docs"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new DocsReport(tmp.resolve("nothing"), docs, "x").write());
    assertTrue(e.getMessage().contains("no summary.md"), e.getMessage());
    try (var files = Files.list(docs)) {
      assertEquals(0, files.count());
    }
  }

  @Test
  void bundledTemplate_keepsTheDetailPagesTheMachineAndEveryScenario() throws Exception {
    String template = DocsReport.bundledTemplate();
    for (String page : List.of("benchmarks-jipamd.md", "benchmarks-allocator.md", "benchmarks-etcd.md",
        "benchmarks-startup.md")) {
      assertTrue(template.contains("](" + page + ")"), "no link to " + page);
    }
    for (String placeholder : List.of("{{command}}", "{{machine}}", "{{other-sections}}", "{{section:plugin}}",
        "{{section:runtime}}", "{{section:churn}}", "{{section:allocator}}", "{{section:etcd}}",
        "{{section:service}}", "{{section:cluster}}")) {
      assertTrue(template.contains(placeholder), "no " + placeholder);
    }
    assertTrue(template.contains("## Where jipam is behind, and why"), "the template must say where jipam is behind");
    assertTrue(template.contains("## The harness: `jipam-bench`"), "other pages link to #the-harness-jipam-bench");
  }
}
