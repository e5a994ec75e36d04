package io.jipam.bench.harness;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code machine.json}: what the figures were measured on. Every field is filled: a value that
 * could not be found reads {@code "unknown: <why>"}.
 *
 * <table>
 *   <caption>fields</caption>
 *   <tr><th>field</th><th>what</th></tr>
 *   <tr><td>cores, memoryBytes, cpuModel, kernel, os</td><td>from the JVM and /proc, /etc/os-release</td></tr>
 *   <tr><td>jdk</td><td>the JVM running the harness (and JMH)</td></tr>
 *   <tr><td>pluginJvm</td><td>the JVM and start-up cache the jipam launcher uses</td></tr>
 *   <tr><td>peers</td><td>versions of host-local (Debian package) and etcd</td></tr>
 *   <tr><td>jipamCommit</td><td>{@code git describe} of the jipam checkout, {@code -dirty} if modified</td></tr>
 *   <tr><td>loadAverageStart, loadAverageEnd</td><td>/proc/loadavg when the run started and ended</td></tr>
 *   <tr><td>command, seed, startedAt, endedAt</td><td>how the run was asked for</td></tr>
 * </table>
 */
public final class MachineInfo {
  private final Map<String, Object> fields = new LinkedHashMap<>();

  private MachineInfo() {}

  /** Collects everything but the end of the run. {@code jipamHome} is the checkout or dist parent. */
  public static MachineInfo collect(Path jipamHome, String command, long seed) {
    MachineInfo m = new MachineInfo();
    m.fields.put("startedAt", Instant.now().toString());
    m.fields.put("command", command);
    m.fields.put("seed", seed);
    m.fields.put("cores", Runtime.getRuntime().availableProcessors());
    m.fields.put("memoryBytes", memoryBytes());
    m.fields.put("cpuModel", cpuModel());
    m.fields.put("kernel", firstLine(Path.of("/proc/sys/kernel/osrelease")));
    m.fields.put("os", osRelease());
    m.fields.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
        + " (" + System.getProperty("java.home") + ")");
    PluginJvm jvm = PluginJvm.fromEnvironment();
    Map<String, Object> pluginJvm = new LinkedHashMap<>();
    pluginJvm.put("java", jvm.java());
    pluginJvm.put("version", run(List.of(jvm.java(), "-version")));
    pluginJvm.put("cacheFlags", String.join(" ", jvm.cacheFlags()));
    m.fields.put("pluginJvm", pluginJvm);
    Map<String, Object> peers = new LinkedHashMap<>();
    peers.put("host-local", "containernetworking-plugins "
        + run(List.of("dpkg-query", "-W", "-f", "${Version}", "containernetworking-plugins")));
    peers.put("etcd", run(List.of("etcd", "--version")));
    m.fields.put("peers", peers);
    m.fields.put("jipamCommit", run(List.of("git", "-C", jipamHome.toString(), "describe", "--always", "--dirty")));
    m.fields.put("loadAverageStart", loadAverage());
    return m;
  }

  /** Adds the end time and load average. */
  public void end() {
    fields.put("endedAt", Instant.now().toString());
    fields.put("loadAverageEnd", loadAverage());
  }

  /** The fields, in order. */
  public Map<String, Object> fields() {
    return fields;
  }

  /** Writes {@code machine.json}. */
  public void write(Path file) throws IOException {
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), fields);
  }

  /** The 1, 5 and 15 minute load averages, or an empty list off Linux. */
  public static List<Double> loadAverage() {
    String line = firstLine(Path.of("/proc/loadavg"));
    List<Double> load = new ArrayList<>();
    if (!line.startsWith("unknown")) {
      String[] f = line.split(" ");
      for (int i = 0; i < 3; i++) {
        load.add(Double.parseDouble(f[i]));
      }
    }
    return load;
  }

  private static Object memoryBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
      return "unknown: no MemTotal in /proc/meminfo";
    } catch (IOException | NumberFormatException e) {
      return "unknown: " + e.getMessage();
    }
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
      return "unknown: no model name in /proc/cpuinfo";
    } catch (IOException e) {
      return "unknown: " + e.getMessage();
    }
  }

  private static String osRelease() {
    try {
      for (String line : Files.readAllLines(Path.of("/etc/os-release"))) {
        if (line.startsWith("PRETTY_NAME=")) {
          return line.substring("PRETTY_NAME=".length()).replace("\"", "");
        }
      }
      return "unknown: no PRETTY_NAME in /etc/os-release";
    } catch (IOException e) {
      return "unknown: " + e.getMessage();
    }
  }

  private static String firstLine(Path file) {
    try {
      List<String> lines = Files.readAllLines(file);
      return lines.isEmpty() ? "unknown: " + file + " is empty" : lines.get(0).trim();
    } catch (IOException e) {
      return "unknown: " + e;
    }
  }

  /** The first line a command prints (stdout and stderr), or why there is none. */
  static String run(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "unknown: " + command.get(0) + " did not answer in 10 s";
      }
      String text = new String(out, StandardCharsets.UTF_8).trim();
      String first = text.isEmpty() ? "" : text.lines().findFirst().orElse("");
      return p.exitValue() == 0 ? first : "unknown: " + command + " exited " + p.exitValue() + ": " + first;
    } catch (IOException e) {
      return "unknown: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown: interrupted";
    }
  }
}
