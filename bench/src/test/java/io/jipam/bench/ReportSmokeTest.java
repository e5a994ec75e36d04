package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.assertPng;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jipam-bench report} on the results of a real (quick, host-local only) churn run: the page
 * it writes has the run's table, the machine and the command, links only to charts it copied to
 * img/, and the prose of the template.
 */
class ReportSmokeTest {
  @TempDir
  Path tmp;

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void reportFromAChurnRun_writesThePageAndCopiesItsCharts() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/lib/cni/host-local")), "host-local is not installed");
    Path results = tmp.resolve("results");
    ScenarioOutputs.Run run = ScenarioOutputs.run("churn", "--quick", "--subjects", "host-local", "--out", results.toString());
    assertEquals(0, run.exit(), run.err());
    Path docs = Files.createDirectories(tmp.resolve("docs"));
    ScenarioOutputs.Run report = ScenarioOutputs.run("report", "--from", results.toString(), "--docs", docs.toString());
    assertEquals(0, report.exit(), report.err());
    String page = Files.readString(docs.resolve("benchmarks.md"));
    assertMarkdownTable(page, "| host-local |");
    assertMarkdownTable(page, "| CPU |");
    assertTrue(page.contains("dist/bin/jipam-bench churn --quick --subjects host-local --out " + results), page);
    assertTrue(page.contains("## Where jipam is behind, and why"), page);
    assertTrue(page.contains("## The plugin against host-local") && page.contains("*Not in this run.*"), page);
    assertFalse(page.contains("{{"), "a placeholder is left: " + page);
    for (String png : new String[] {"churn-in-use.png", "churn-time-to-address.png"}) {
      assertTrue(page.contains("(img/" + png + ")"), png + " not linked");
      assertPng(docs.resolve("img").resolve(png));
    }
    ScenarioOutputs.Run missing = ScenarioOutputs.run("report", "--from", tmp.resolve("none").toString(), "--docs", docs.toString());
    assertEquals(2, missing.exit(), missing.err());
    assertTrue(missing.err().contains("no summary.md"), missing.err());
  }
}
