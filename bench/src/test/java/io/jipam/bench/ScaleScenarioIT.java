package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.csv;
import static io.jipam.bench.ScenarioOutputs.select;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.bench.ScenarioOutputs.Row;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of {@code jipam-bench scale} at a small size (20 nodes x 10 pods on a one-member etcd
 * started by the harness): every operation measured at every allocation count, the restart storm
 * without a duplicate, a failed call or an audit finding, every output parses. Not how fast
 * anything is. Needs an etcd binary.
 */
class ScaleScenarioIT {
  private static final List<String> OPERATIONS = List.of("first ADD of a fresh node", "ADD", "DEL",
      "GC of a node (retainOnly)", "usage of a node (its blocks: metrics)", "reclaim preview of a node",
      "reclaim of a node with P pods", "cluster usage", "one list page (500)", "list (whole pool)",
      "one list page (500) from the middle", "audit (whole pool)");

  @TempDir
  Path tmp;

  @Test
  void scale_badOption_isAClearErrorAndWritesNothing() {
    Path out = tmp.resolve("bad");
    ScenarioOutputs.Run run = ScenarioOutputs.run("scale", "--quick", "--out", out.toString(), "--pods", "1");
    assertEquals(2, run.exit(), run.err());
    assertTrue(run.err().contains("--pods must be in [2, 250], got 1"), run.err());
    assertFalse(Files.exists(out), "a refused command created " + out);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void scaleQuick_measuresEveryOperationAtEveryCountAndTheStormIsClean() throws IOException {
    assumeTrue(ScenarioOutputs.etcdInstalled(), "no etcd binary on PATH");
    Path out = tmp.resolve("scale");
    ScenarioOutputs.Run run = ScenarioOutputs.run("scale", "--quick", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<Row> rows = csv(out.resolve("samples.csv"));
    for (int allocations : List.of(20, 200)) {
      String w = "members=1;allocations=" + allocations;
      for (String op : OPERATIONS) {
        List<Row> t = select(rows, r -> r.workload().equals(w) && r.operation().equals(op) && r.metric().equals("wall"));
        assertEquals(1, t.size(), w + " " + op + ": " + t);
        assertTrue(t.get(0).value() > 0, t.toString());
      }
      assertEquals(List.of(0.0), values(rows, w, "audit findings", "count"), w);
      double perPair = values(rows, w, "written per ADD+DEL", "bytes").get(0);
      assertTrue(perPair > 200 && perPair < 2048, w + ": " + perPair + " B per ADD+DEL");
      assertTrue(values(rows, w, "etcd db size", "bytes").get(0) > 0, w);
      double views = values(rows, w, "largest etcd response to pool-wide views", "bytes").get(0);
      double calls = values(rows, w, "largest etcd response to a node's calls", "bytes").get(0);
      assertTrue(views > 0 && views < 16.0 * 1024 * 1024 / 1e6 && calls > 0 && calls < 64, w + ": " + views + " MB, "
          + calls + " KB");
      for (String read : List.of("a node's metrics scrape (its blocks)", "a node's readiness probe (ping)",
          "pool totals (cluster usage)")) {
        double requests = values(rows, w, read + ": etcd requests", "requests").get(0);
        assertTrue(requests >= 1 && requests <= 3, w + " " + read + ": " + requests + " requests");
        assertTrue(values(rows, w, read + ": etcd bytes read", "bytes").get(0) > 0, w + " " + read);
      }
    }
    String storm = "members=1;allocations=200";
    assertEquals(List.of(0.0), values(rows, storm, "restart storm", "duplicates"));
    assertEquals(List.of(0.0), values(rows, storm, "restart storm", "failed calls"));
    assertEquals(List.of(0.0), values(rows, storm, "restart storm", "findings"));
    String summary = Files.readString(out.resolve("summary.md"));
    assertMarkdownTable(summary, "| ADD (ms) |");
    assertTrue(summary.contains("0 duplicate addresses, 0 failed calls, audit clean"), summary);
    assertTrue(Files.size(out.resolve("scale-1-per-node-calls.png")) > 0);
    assertTrue(Files.size(out.resolve("scale-1-pool-wide-views.png")) > 0);
  }

  private static List<Double> values(List<Row> rows, String workload, String operation, String metric) {
    return select(rows, r -> r.workload().equals(workload) && r.operation().equals(operation)
        && r.metric().equals(metric)).stream().map(Row::value).toList();
  }
}
