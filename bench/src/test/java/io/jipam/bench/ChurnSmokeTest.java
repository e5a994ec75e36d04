package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.assertPng;
import static io.jipam.bench.ScenarioOutputs.cell;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of {@code jipam-bench churn --quick}: it runs each subject that is here (jipam direct
 * and via jipamd when dist/ is built, host-local when installed), and its samples, timeline,
 * calls, summary and charts parse. Not how fast anything is.
 */
class ChurnSmokeTest {
  private static final Path DIST = Path.of(System.getProperty("jipam.dist", "../dist"));
  private static final Path HOST_LOCAL = Path.of("/usr/lib/cni/host-local");

  @TempDir
  Path tmp;

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void churnQuick_everySubjectAddressesEveryPodAndReleasesIt() throws IOException {
    boolean jipam = Files.isExecutable(DIST.resolve("bin/jipam"));
    boolean daemon = jipam && Files.isExecutable(DIST.resolve("bin/jipamd"));
    boolean hostLocal = Files.isExecutable(HOST_LOCAL);
    assumeTrue(jipam || hostLocal, "neither " + DIST.resolve("bin/jipam") + " nor " + HOST_LOCAL + " is here");
    Path out = tmp.resolve("churn");
    ScenarioOutputs.Run run = ScenarioOutputs.run("churn", "--quick", "--seed", "5", "--jipam",
        DIST.resolve("bin/jipam").toString(), "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    assertFalse(run.err().contains("\r"), "a progress bar was drawn on a non-terminal: " + run.err());

    List<String> subjects = new ArrayList<>();
    if (jipam) {
      subjects.add("file");
    }
    if (hostLocal) {
      subjects.add("host-local");
    }
    if (daemon) {
      subjects.add("daemon");
    }
    List<ScenarioOutputs.Row> samples = ScenarioOutputs.samples(out);
    List<String[]> calls = ScenarioOutputs.csv(out.resolve("churn-calls.csv"),
        "subject,round,pod,command,arrival_ms,start_ms,end_ms,ok");
    List<String[]> timeline = ScenarioOutputs.csv(out.resolve("churn-timeline.csv"), "subject,round,seconds,in_use,waiting");
    String summary = Files.readString(out.resolve("summary.md"));
    long pods = -1;
    for (String subject : subjects) {
      long adds = samples.stream().filter(r -> r.scenario().equals("churn") && r.subject().equals(subject)
          && r.metric().equals("time to address")).count();
      long dels = calls.stream().filter(r -> r[0].equals(subject) && r[3].equals("DEL") && r[7].equals("true")).count();
      assertTrue(adds > 0, subject + " addressed no pod");
      assertEquals(adds, dels, subject + ": every addressed pod is released");
      if (pods >= 0) {
        assertEquals(pods, adds, "every subject plays the same pods");
      }
      pods = adds;
      assertTrue(calls.stream().filter(r -> r[0].equals(subject)).allMatch(r -> r[7].equals("true")), subject + " had a failed call");
      List<String[]> points = timeline.stream().filter(r -> r[0].equals(subject)).toList();
      assertTrue(points.stream().anyMatch(r -> Integer.parseInt(r[3]) > 0), subject + ": no pod ever held an address");
      assertEquals("0", points.get(points.size() - 1)[3], subject + ": pods still hold addresses at the end");
      assertTrue(samples.stream().anyMatch(r -> r.subject().equals(subject) && r.metric().equals("cpu")),
          subject + " has no CPU sample");
    }
    String label = jipam ? "| jipam (file store) |" : "| host-local |";
    assertMarkdownTable(summary, label);
    assertEquals(Long.toString(pods), cell(summary, label, 1));
    assertEquals("0", cell(summary, label, 10), "addresses left in the store");
    assertPng(out.resolve("churn-in-use.png"));
    assertPng(out.resolve("churn-time-to-address.png"));
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void churnQuick_etcdSubject_addressesEveryPodThroughJipamdOnARealEtcd() throws IOException {
    assumeTrue(Files.isExecutable(DIST.resolve("bin/jipam")) && Files.isExecutable(DIST.resolve("bin/jipamd")),
        "dist/ not built (./mvnw -q -DskipTests package)");
    assumeTrue(ScenarioOutputs.etcdInstalled(), "no etcd on PATH");
    Path out = tmp.resolve("etcd");
    ScenarioOutputs.Run run = ScenarioOutputs.run("churn", "--quick", "--subjects", "etcd", "--jipam",
        DIST.resolve("bin/jipam").toString(), "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    List<String[]> calls = ScenarioOutputs.csv(out.resolve("churn-calls.csv"),
        "subject,round,pod,command,arrival_ms,start_ms,end_ms,ok");
    long adds = calls.stream().filter(r -> r[3].equals("ADD") && r[7].equals("true")).count();
    long dels = calls.stream().filter(r -> r[3].equals("DEL") && r[7].equals("true")).count();
    assertTrue(adds > 0 && adds == dels && adds * 2 == calls.size(), "ADDs " + adds + ", DELs " + dels + " of " + calls.size());
    String summary = Files.readString(out.resolve("summary.md"));
    assertMarkdownTable(summary, "| jipam via jipamd (etcd store) |");
    assertEquals("–", cell(summary, "| jipam via jipamd (etcd store) |", 10), "no store dir to count for etcd");
  }

  @Test
  void churn_unknownSubjectByItsOldOptionName_isAClearErrorAndWritesNothing() {
    Path out = tmp.resolve("bad");
    ScenarioOutputs.Run run = ScenarioOutputs.run("churn", "--quick", "--backend", "calico", "--out", out.toString());
    assertEquals(2, run.exit(), run.err());
    assertTrue(run.err().contains("--subjects: unknown subject 'calico'"), run.err());
    ScenarioOutputs.Run rate = ScenarioOutputs.run("churn", "--rate", "0", "--out", out.toString());
    assertEquals(2, rate.exit(), rate.err());
    assertTrue(rate.err().contains("--rate must be in (0, 1000], got 0.0"), rate.err());
    assertFalse(Files.exists(out), "a refused command created " + out);
  }
}
