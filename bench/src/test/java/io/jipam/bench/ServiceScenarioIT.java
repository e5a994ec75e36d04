package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.assertPng;
import static io.jipam.bench.ScenarioOutputs.csv;
import static io.jipam.bench.ScenarioOutputs.select;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.bench.ScenarioOutputs.Row;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of {@code jipam-bench service} at {@code --quick} size: jipamd started as a process per
 * store, every output file parses. Not how fast anything is. Without an etcd binary the etcd store
 * is skipped and the summary says so; the test checks that instead.
 */
@Order(1) // among the module's longest (about 33 s in a suite run): started first, not last
class ServiceScenarioIT {
  @TempDir
  Path tmp;

  @Test
  void help_listsServiceAndClusterAsScenarios() {
    ScenarioOutputs.Run run = ScenarioOutputs.run("--help");
    assertEquals(0, run.exit(), run.err());
    for (String scenario : List.of("service", "cluster")) {
      assertTrue(run.out().contains("\n  " + scenario + " "), scenario + " missing from:\n" + run.out());
    }
    ScenarioOutputs.Run service = ScenarioOutputs.run("service", "--help");
    assertEquals(0, service.exit(), service.err());
    for (String option : List.of("--stores", "--concurrency", "--seconds", "--seed", "--rounds", "--jipamd")) {
      assertTrue(service.out().contains(option), option + " missing from:\n" + service.out());
    }
  }

  @Test
  void service_badOption_isAClearErrorAndWritesNothing() {
    Path out = tmp.resolve("bad");
    ScenarioOutputs.Run store = ScenarioOutputs.run("service", "--quick", "--out", out.toString(),
        "--stores", "memory,redis");
    assertEquals(2, store.exit(), store.err());
    assertTrue(store.err().contains("--stores: each must be one of memory, file, etcd, got 'redis'"), store.err());
    ScenarioOutputs.Run concurrency = ScenarioOutputs.run("service", "--quick", "--out", out.toString(),
        "--concurrency", "0");
    assertEquals(2, concurrency.exit(), concurrency.err());
    assertTrue(concurrency.err().contains("--concurrency: each must be in [1, 4096], got 0"), concurrency.err());
    ScenarioOutputs.Run seconds = ScenarioOutputs.run("service", "--quick", "--out", out.toString(), "--seconds", "-1");
    assertEquals(2, seconds.exit(), seconds.err());
    assertTrue(seconds.err().contains("--seconds must be in (0, 600], got -1.0"), seconds.err());
    ScenarioOutputs.Run nodes = ScenarioOutputs.run("service", "--quick", "--out", out.toString(), "--central",
        "--central-nodes", "0");
    assertEquals(2, nodes.exit(), nodes.err());
    assertTrue(nodes.err().contains("--central-nodes must be in [1, 256]") && nodes.err().contains("got 0, 4, 4, 1.0"),
        nodes.err());
    assertFalse(Files.exists(out), "a refused command created " + out);
  }

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  void serviceQuickCentral_centralJipamdAgainstRawAndDirect_writesEveryCellAndTheTable() throws IOException {
    org.junit.jupiter.api.Assumptions.assumeTrue(ScenarioOutputs.etcdInstalled(), "no etcd binary");
    Path out = tmp.resolve("central");
    ScenarioOutputs.Run run = ScenarioOutputs.run("service", "--quick", "--seed", "5", "--out", out.toString(),
        "--stores", "memory", "--concurrency", "1", "--central", "--central-nodes", "4", "--central-callers", "2",
        "--central-adds", "2");
    assertEquals(0, run.exit(), run.err());
    List<Row> central = select(csv(out.resolve("samples.csv")), r -> r.workload().equals("central;nodes=4;callers=2"));
    for (String subject : List.of("raw CAS", "raw CAS per caller", "direct", "central")) {
      List<Row> t = select(central, r -> r.subject().equals(subject) && r.metric().equals("throughput"));
      assertEquals(1, t.size(), subject + ": " + central);
      assertTrue(t.get(0).value() > 0, subject + " measured nothing: " + t);
      for (String cpu : List.of("cpu etcd", "cpu clients")) {
        List<Row> c = select(central, r -> r.subject().equals(subject) && r.metric().equals(cpu));
        assertEquals(1, c.size(), subject + " " + cpu + ": " + central);
        assertTrue(c.get(0).value() >= 0 && c.get(0).value() < 1_000, subject + " " + cpu + ": " + c);
      }
    }
    // etcd's counters over the cell: a pair writes 9 keys or so (ADD 4 puts, DEL 2 puts and 3 deletes, and
    // the tickets) and takes about 5 compares and reads; refused transactions would add their compares and
    // else-branch reads again (PairLoadIT checks the load's container IDs themselves)
    double pairsPerSecond = select(central, r -> r.subject().equals("central") && r.metric().equals("throughput"))
        .get(0).value();
    List<Row> ranges = select(central, r -> r.subject().equals("central") && r.metric().equals("etcd ranges/s"));
    List<Row> writes = select(central, r -> r.subject().equals("central") && r.metric().equals("etcd key writes/s"));
    assertEquals(1, ranges.size(), central.toString());
    assertEquals(1, writes.size(), central.toString());
    assertTrue(writes.get(0).value() / pairsPerSecond >= 5, "etcd key writes per pair: " + writes + " at "
        + pairsPerSecond + " pairs/s");
    assertTrue(ranges.get(0).value() / pairsPerSecond < 10, "etcd ranges per pair: " + ranges + " at "
        + pairsPerSecond + " pairs/s");
    assertEquals(List.of(0.0), select(central, r -> r.subject().equals("daemon ADD") && r.metric().equals("failures"))
        .stream().map(Row::value).toList(), "every daemon-mode ADD through the node jipamd succeeded");
    assertEquals(1, select(central, r -> r.subject().equals("daemon ADD") && r.metric().equals("p99")).size());
    String summary = Files.readString(out.resolve("summary.md"));
    assertTrue(summary.contains("### Central jipamd: 4 nodes x 2 clients on a one-member etcd"), summary);
    assertTrue(summary.contains("| central: etcd + clients + jipamd ms/pair |"), summary);
    assertTrue(summary.contains("| etcd key writes per pair | etcd ranges per pair |"), summary);
    assertMarkdownTable(summary, "| median |");
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void serviceQuick_startsJipamdPerStore_writesCsvMarkdownPngs() throws IOException {
    Path out = tmp.resolve("service");
    // a window of 1 s, not --quick's 0.3 s: at the end of a loaded suite run the etcd cell once
    // completed no pair in 0.3 s (its first commits, on a jipamd not yet compiled)
    ScenarioOutputs.Run run = ScenarioOutputs.run("service", "--quick", "--seconds", "1", "--seed", "5", "--out",
        out.toString());
    assertEquals(0, run.exit(), run.err());
    assertFalse(run.err().contains("\r"), "a progress bar was drawn off a terminal:\n" + run.err());
    List<String> stores = new ArrayList<>(List.of("memory", "file"));
    String summary = Files.readString(out.resolve("summary.md"));
    if (ScenarioOutputs.etcdInstalled()) {
      stores.add("etcd");
    } else {
      assertTrue(summary.contains("etcd store not run"), summary);
    }
    List<Row> rows = csv(out.resolve("samples.csv"));
    for (Row r : rows) {
      assertEquals("service", r.scenario());
      assertTrue(stores.contains(r.subject()), r.toString());
    }
    for (String store : stores) {
      double pairs = 0;
      for (int clients : List.of(1, 4)) {
        String workload = "concurrency=" + clients + ";connections=" + Math.min(clients, 4);
        List<Row> cell = select(rows, r -> r.subject().equals(store) && r.workload().equals(workload));
        List<Row> throughput = select(cell, r -> r.metric().equals("throughput") && r.unit().equals("pairs/s"));
        assertEquals(1, throughput.size(), store + " " + workload + ": " + cell);
        pairs += throughput.get(0).value();
        // every allocation the clients made was answered Allocated
        assertEquals(List.of(0.0), select(cell, r -> r.metric().equals("failures")).stream().map(Row::value).toList());
        List<Double> p = select(cell, r -> r.operation().equals("pair") && r.metric().startsWith("p"))
            .stream().map(Row::value).toList();
        // no pair finished in a window this short on a loaded machine: no percentiles, else all three, ordered
        assertTrue(p.isEmpty() || p.size() == 3 && p.get(0) <= p.get(1) && p.get(1) <= p.get(2), workload + " " + p);
      }
      // the jipamd really served: some pair completed (how many is the machine's business)
      assertTrue(pairs > 0, store + " completed no pair");
      assertMarkdownTable(summary, "| " + store + " | 4 |");
      assertPng(out.resolve("service-latency-" + store + ".png"), summary);
    }
    assertMarkdownTable(summary, "| 1 | ");
    assertPng(out.resolve("service-throughput.png"), summary);
    ScenarioOutputs.machine(out, 5);
  }
}
