package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.cni.JsonFields;
import io.jipam.core.cni.JsonReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The plugin's memory and time stay bounded on the largest inputs of the hostile-input catalogue
 * ({@link HostileInputIT}) and at the limits of docs/plugin.md: the real {@code dist/bin/jipam}
 * runs under GNU {@code time}, which reports the process's peak resident set (the kernel's
 * {@code ru_maxrss}) and its user and system CPU. Inputs past a limit must fail with their CNI
 * code at the cost of an ordinary call; the largest inputs within the limits must succeed within
 * the stated bounds.
 *
 * <p>The bounds are generous (about two times what was measured, more for CPU; figures in
 * docs/reliability.md) so that a loaded machine does not fail them, and still catch a blow-up:
 * reading a 64 MiB stdin whole would take the resident set past its bound, as would a parser that
 * recursed per nesting level or kept what it rejected. The resident set of the large accepted
 * inputs includes garbage not yet collected: the JVM's default young generation grows with the
 * machine's memory (measured on 24 GB). Wall time is bounded by the per-call timeout only: on a
 * shared machine it measures the load, not the plugin.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
@Isolated // measures the plugin's peak RSS and CPU: alone, not beside another IT class
class ResourceBoundsIT {
  static final Path TIME = Path.of("/usr/bin/time");
  static final int MIB = 1 << 20;

  @TempDir static Path tmp;
  static Path dataDir;

  @BeforeAll
  void prerequisites() {
    assertTrue(Files.isExecutable(CniExec.JIPAM), CniExec.JIPAM + " is missing: build with ./mvnw package");
    if (CniExec.underCi()) {
      assertTrue(Files.isExecutable(TIME), TIME + " is missing: apt-get install time");
    }
    assumeTrue(Files.isExecutable(TIME), TIME + " is missing (apt-get install time): resource bounds not measured");
  }

  /** One call's outcome and cost as the kernel accounted it. */
  record Cost(int exit, String stdout, long maxRssKib, double cpuSeconds, double wallSeconds) {}

  Cost call(Map<String, String> vars, byte[] stdin) throws Exception {
    Path in = Files.write(Files.createTempFile(tmp, "stdin", ".bin"), stdin);
    Path out = Files.createTempFile(tmp, "stdout", ".json");
    Path err = Files.createTempFile(tmp, "stderr", ".txt");
    Path usage = Files.createTempFile(tmp, "usage", ".txt");
    ProcessBuilder pb = new ProcessBuilder(TIME.toString(), "-f", "%M %U %S %e", "-o", usage.toString(),
        CniExec.JIPAM.toString());
    pb.environment().clear();
    pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    pb.environment().putAll(vars);
    Process p = pb.redirectInput(in.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError("the plugin did not finish within 60 s");
    }
    // GNU time writes "Command exited with non-zero status N" before the figures
    List<String> lines = Files.readAllLines(usage);
    String[] f = lines.get(lines.size() - 1).trim().split(" ");
    Cost cost = new Cost(p.exitValue(), Files.readString(out), Long.parseLong(f[0]),
        Double.parseDouble(f[1]) + Double.parseDouble(f[2]), Double.parseDouble(f[3]));
    Files.delete(in);
    return cost;
  }

  static Map<String, String> vars(String command, String containerId) {
    Map<String, String> v = new HashMap<>();
    v.put("CNI_COMMAND", command);
    v.put("CNI_CONTAINERID", containerId);
    v.put("CNI_IFNAME", "eth0");
    v.put("CNI_NETNS", "/var/run/netns/x");
    v.put("CNI_PATH", "/opt/cni/bin");
    return v;
  }

  static Map<String, String> with(Map<String, String> v, String name, String value) {
    Map<String, String> out = new HashMap<>(v);
    out.put(name, value);
    return out;
  }

  String conf(String version, String ipamBody, String extraTop) {
    return "{\"cniVersion\":\"" + version + "\",\"name\":\"bounds\",\"type\":\"bridge\"" + extraTop
        + ",\"ipam\":{\"type\":\"jipam\",\"dataDir\":\"" + dataDir + "\"," + ipamBody + "}}";
  }

  String small() {
    return conf("1.0.0", "\"subnet\":\"198.18.44.0/24\"", "");
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A config of exactly {@code size} bytes: a small one padded with a string field. */
  byte[] padded(int size) {
    String head = small();
    String open = head.substring(0, head.length() - 1) + ",\"x\":\"";
    StringBuilder s = new StringBuilder(size).append(open);
    s.append("a".repeat(size - open.length() - 2)).append("\"}");
    return bytes(s.toString());
  }

  /** A case: what to send, the CNI code expected (0: success), bounds in MiB and CPU seconds. */
  static Arguments row(String name, Map<String, String> vars, byte[] stdin, int code, String fragment,
      int rssMib, double cpuSeconds) {
    return Arguments.of(name, vars, stdin, code, fragment, rssMib, cpuSeconds);
  }

  Stream<Arguments> cases() {
    dataDir = tmp.resolve("data");
    Map<String, String> add = vars("ADD", "c1");
    List<Arguments> rows = new ArrayList<>();
    // the baseline: an ordinary ADD
    rows.add(row("ordinary ADD", add, bytes(small()), 0, "198.18.44.", 96, 2));
    // past a limit: refused at the cost of an ordinary call
    byte[] huge = new byte[64 * MIB];
    Arrays.fill(huge, (byte) 'a');
    System.arraycopy(bytes("{\"x\":\""), 0, huge, 0, 6);
    rows.add(row("64 MiB stdin", add, huge, 7, "larger than 4194304", 96, 2));
    rows.add(row("4 MiB of '[' (nesting)", add, bytes("[".repeat(4 * MIB)), 6, "deeper than 64", 96, 2));
    StringBuilder sets = new StringBuilder();
    for (int i = 0; i < 50_000; i++) {
      sets.append(i == 0 ? "" : ",").append("[{\"subnet\":\"fd01:").append(Integer.toHexString(i)).append("::/120\"}]");
    }
    rows.add(row("50,000 range sets", add, bytes(conf("1.0.0", "\"ranges\":[" + sets + "]", "")), 7, "at most 64", 96, 2));
    String longValue = "c".repeat(120_000);
    rows.add(row("CNI_CONTAINERID of 120,000 bytes", with(add, "CNI_CONTAINERID", longValue), bytes(small()), 4,
        "CNI_CONTAINERID", 96, 2));
    StringBuilder ips = new StringBuilder("IP=");
    for (int i = 0; ips.length() < 120_000; i++) {
      ips.append(i == 0 ? "" : ",").append("fd00::").append(Integer.toHexString(i + 2));
    }
    // counted before any is parsed: at most one per range set (their de-duplication was quadratic)
    rows.add(row("CNI_ARGS IP= of 12,000 addresses (120 kB)", with(add, "CNI_ARGS", ips.toString()), bytes(small()),
        4, "jipam allows at most 64", 96, 2));
    // the largest inputs within the limits: served
    rows.add(row("config of 4 MiB (the limit)", vars("ADD", "c2"), padded(4 * MIB), 0, "198.18.44.", 192, 4));
    StringBuilder keys = new StringBuilder();
    for (int i = 0; keys.length() < 4 * MIB - 1000; i++) {
      keys.append(",\"k").append(i).append("\":").append(i);
    }
    rows.add(row("250,000 keys in one object", vars("ADD", "c3"), bytes(conf("1.0.0", "\"subnet\":\"198.18.44.0/24\"",
        keys.toString())), 0, "198.18.44.", 256, 4));
    StringBuilder attachments = new StringBuilder();
    for (int i = 0; attachments.length() < 4 * MIB - 1000; i++) {
      attachments.append(i == 0 ? "" : ",").append("{\"containerID\":\"c").append(i).append("\",\"ifname\":\"eth0\"}");
    }
    rows.add(row("GC keeping 100,000 attachments", vars("GC", "c1"), bytes(conf("1.1.0", "\"subnet\":\"198.18.44.0/24\"",
        ",\"cni.dev/valid-attachments\":[" + attachments + "]")), 0, "", 384, 4));
    StringBuilder ranges = new StringBuilder();
    for (int s = 0; s < 64; s++) {
      ranges.append(s == 0 ? "[" : ",[");
      for (int r = 0; r < 1024; r++) {
        ranges.append(r == 0 ? "" : ",").append("{\"subnet\":\"fd00:").append(Integer.toHexString(s)).append(':')
            .append(Integer.toHexString(r)).append("::/120\"}");
      }
      ranges.append(']');
    }
    rows.add(row("64 range sets of 1,024 ranges", vars("ADD", "c4"), bytes(conf("1.0.0", "\"ranges\":[" + ranges + "]",
        "")), 0, "fd00:3f::2/120", 768, 10));
    return rows.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void largestInputs_answerWithinMemoryAndCpuBounds(String name, Map<String, String> vars, byte[] stdin, int code,
      String fragment, int rssMib, double cpuSeconds) throws Exception {
    Cost c = call(vars, stdin);
    System.out.printf("resource bounds: %-45s exit %d, max RSS %6.1f MiB (bound %d), CPU %.2f s (bound %.0f), wall %.2f s%n",
        name, c.exit(), c.maxRssKib() / 1024.0, rssMib, c.cpuSeconds(), cpuSeconds, c.wallSeconds());
    if (code == 0) {
      assertEquals(0, c.exit(), c::toString);
      assertTrue(c.stdout().contains(fragment), c::toString);
    } else {
      assertEquals(1, c.exit(), c::toString);
      Map<String, Object> error = JsonFields.asObject(JsonReader.parse(bytes(c.stdout())), "stdout");
      assertEquals((long) code, error.get("code"), c::toString);
      assertTrue(((String) error.get("msg")).contains(fragment), c::toString);
    }
    assertTrue(c.maxRssKib() <= rssMib * 1024L, () -> name + ": peak RSS " + c.maxRssKib() / 1024 + " MiB > " + rssMib);
    assertTrue(c.cpuSeconds() <= cpuSeconds, () -> name + ": CPU " + c.cpuSeconds() + " s > " + cpuSeconds);
  }
}
