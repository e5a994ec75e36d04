package io.jipam.bench;

import static io.jipam.bench.ScenarioOutputs.assertMarkdownTable;
import static io.jipam.bench.ScenarioOutputs.assertPng;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of {@code jipam-bench runtime --quick}: containerd + runc started by the harness run
 * containers with {@code ctr run --cni} for every IPAM subject, the outputs parse, no address is
 * left in any store, and the node's dirs, mounts and namespace are gone afterwards. Skipped unless
 * root with containerd, runc, the reference plugins, busybox-static and a built dist/.
 */
class RuntimeSmokeIT {
  private static final Path DIST = Path.of(System.getProperty("jipam.dist", "../dist"));

  @TempDir
  Path tmp;

  private static Set<String> nodeDirs() throws IOException {
    try (Stream<Path> tmp = Files.list(Path.of("/tmp"))) {
      return tmp.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("jipam-bench-rt-"))
          .collect(Collectors.toSet());
    }
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void runtimeQuick_containersGetAddressesFromEachIpamAndEverythingIsRemoved() throws Exception {
    assumeTrue(Files.isExecutable(DIST.resolve("bin/jipam")), "dist/ not built (./mvnw -q -DskipTests package)");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines()
        .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[1].equals("0")), "needs root");
    assumeTrue(Stream.of("/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/usr/lib/cni/bridge", "/bin/busybox")
        .allMatch(p -> Files.isExecutable(Path.of(p))), "needs containerd, runc, the CNI plugins and busybox-static");
    Set<String> before = nodeDirs();
    Path out = tmp.resolve("runtime");
    ScenarioOutputs.Run run = ScenarioOutputs.run("runtime", "--quick", "--jipam", DIST.resolve("bin/jipam").toString(),
        "--daemon-warmup", "3", "--out", out.toString());
    assertEquals(0, run.exit(), run.err());
    assertFalse(run.err().contains("\r"), "a progress bar was drawn on a non-terminal: " + run.err());
    String summary = Files.readString(out.resolve("summary.md"));
    assertFalse(summary.contains("**Skipped**"), summary);
    if (Files.isExecutable(DIST.resolve("bin/jipamd"))) {
      assertTrue(summary.contains("jipamd serves 3 untimed ADD+DEL pairs"), summary);
    }
    List<ScenarioOutputs.Row> samples = ScenarioOutputs.samples(out);
    List<String> subjects = Files.isExecutable(DIST.resolve("bin/jipamd"))
        ? List.of("jipam", "jipam via jipamd", "host-local") : List.of("jipam", "host-local");
    for (String subject : subjects) {
      for (int n : List.of(1, 2)) {
        long addressed = samples.stream().filter(r -> r.scenario().equals("runtime") && r.workload().equals("atOnce=" + n)
            && r.subject().equals(subject) && r.metric().equals("time to address") && r.value() > 0).count();
        assertEquals(n, addressed, subject + " at " + n + " at once");
      }
      assertMarkdownTable(summary, "| 2 | " + subject + " |");
      assertTrue(summary.contains(subject + ": 0"), "addresses left in " + subject + "'s store: " + summary);
    }
    for (String png : List.of("runtime-throughput.png", "runtime-time-to-address.png", "runtime-cpu.png")) {
      assertPng(out.resolve(png));
    }
    assertEquals(before, nodeDirs(), "the node's dir was not removed");
    assertTrue(Files.readAllLines(Path.of("/proc/self/mounts")).stream().noneMatch(l -> l.contains("/jipam-bench-rt-")),
        "a mount of the node is left");
    Process netns = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
    String namespaces = new String(netns.getInputStream().readAllBytes());
    netns.waitFor();
    for (String dir : before) {
      namespaces = namespaces.replace(dir, "");
    }
    assertFalse(namespaces.contains("jipam-bench-rt-"), "a node namespace is left: " + namespaces);
  }
}
