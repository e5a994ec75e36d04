package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.assertPng;
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
 * Smoke test of {@code jipam-bench cluster} at {@code --quick} size on a one-member and a
 * three-member etcd started by the harness: every design measured in every cell, the tight pool
 * filled exactly, every output file parses. Not how fast anything is. Needs an etcd binary.
 */
class ClusterScenarioIT {
  @TempDir
  Path tmp;

  @Test
  void cluster_badOption_isAClearErrorAndWritesNothing() {
    Path out = tmp.resolve("bad");
    ScenarioOutputs.Run members = ScenarioOutputs.run("cluster", "--quick", "--out", out.toString(), "--members", "1,0");
    assertEquals(2, members.exit(), members.err());
    assertTrue(members.err().contains("--members: each must be in [1, 7], got 0"), members.err());
    ScenarioOutputs.Run pods = ScenarioOutputs.run("cluster", "--quick", "--out", out.toString(), "--nodes", "16",
        "--pods-per-node", "5000");
    assertEquals(2, pods.exit(), pods.err());
    assertTrue(pods.err().contains("nodes x pods <= 65000, got 5000 x 16"), pods.err());
    assertFalse(Files.exists(out), "a refused command created " + out);
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void clusterQuick_measuresEveryDesignAndFillsTheTightPool() throws IOException {
    assumeTrue(ScenarioOutputs.etcdInstalled(), "no etcd binary on PATH");
    Path out = tmp.resolve("cluster");
    ScenarioOutputs.Run run = ScenarioOutputs.run("cluster", "--quick", "--seed", "3", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<Row> rows = csv(out.resolve("samples.csv"));
    for (int members : List.of(1, 3)) {
      for (int nodes : List.of(1, 2)) {
        String w = "members=" + members + ";nodes=" + nodes + ";callers=2";
        for (String subject : List.of("raw CAS", "global lock", "jipam etcd store")) {
          List<Row> t = select(rows, r -> r.workload().equals(w) && r.subject().equals(subject)
              && r.metric().equals("throughput"));
          assertEquals(1, t.size(), w + " " + subject + ": " + t);
          assertTrue(t.get(0).value() >= 0, t.toString());
        }
        String tight = "members=" + members + ";nodes=" + nodes + ";pods=" + nodes * 4;
        // the invariant, not a speed: every pod got its own address and the pool ended exactly full
        assertEquals(List.of(1.0), values(rows, tight, "all placed"), tight);
        assertEquals(List.of((double) nodes * 4), values(rows, tight, "placed"), tight);
        assertEquals(List.of(0.0), values(rows, tight, "duplicates"), tight);
        assertTrue(values(rows, tight, "fill time").get(0) > 0, tight);
      }
    }
    String summary = Files.readString(out.resolve("summary.md"));
    assertMarkdownTable(summary, "| 3 | 2 |");
    assertMarkdownTable(summary, "| 1 | 1 | 4 | yes (1 of 1 rounds) |");
    assertPng(out.resolve("cluster-throughput.png"), summary);
    assertPng(out.resolve("cluster-tight-pool.png"), summary);
    ScenarioOutputs.machine(out, 3);
  }

  private static List<Double> values(List<Row> rows, String workload, String metric) {
    return select(rows, r -> r.workload().equals(workload) && r.operation().equals("tight pool")
        && r.metric().equals(metric)).stream().map(Row::value).toList();
  }
}
