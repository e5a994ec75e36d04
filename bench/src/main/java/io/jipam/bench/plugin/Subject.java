package io.jipam.bench.plugin;

import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One executable measured as whole processes: an IPAM plugin called as a runtime calls it (CNI
 * environment, network config on stdin) against its own data dir, or forwarding to a jipamd on
 * the file store (daemon mode), or the JVM floor (a hello-world
 * main, which ignores the environment). Thread-safe: each call is its own process.
 */
final class Subject {
  static final String NETWORK = "churn";
  /** The default subnet; {@code --subnet} may name a smaller one at 198.18.0.0. */
  static final String SUBNET = "198.18.0.0/16";

  private final String name;
  private final String type;
  private final List<String> command;
  /** The plugin's data dir (a daemon-mode subject: jipamd's); null for a process that is not a plugin. */
  private final Path dataDir;
  private final JipamdProcess daemon;
  private String subnet = SUBNET;

  private Subject(String name, String type, List<String> command, Path dataDir, JipamdProcess daemon) {
    this.name = name;
    this.type = type;
    this.command = List.copyOf(command);
    this.dataDir = dataDir;
    this.daemon = daemon;
  }

  /** An IPAM plugin of CNI type {@code name} with a data dir pre-filled with {@code allocations}. */
  static Subject plugin(String name, Path executable, Path dataDir, int allocations) throws IOException {
    fill(dataDir, allocations);
    return new Subject(name, name, List.of(executable.toString()), dataDir, null);
  }

  /** jipam in daemon mode: the plugin forwarding to {@code daemon}, a jipamd on the file store in {@code daemonDataDir}. */
  static Subject daemon(String name, Path executable, JipamdProcess daemon, Path daemonDataDir) {
    return new Subject(name, "jipam", List.of(executable.toString()), daemonDataDir, daemon);
  }

  /** Fills {@code dataDir} as {@link #plugin} fills a plugin's: for a jipamd's own data dir. */
  static void fillDataDir(Path dataDir, int allocations) throws IOException {
    fill(dataDir, allocations);
  }

  /** A process that is not a plugin: the JVM floor. */
  static Subject process(String name, List<String> command) {
    return new Subject(name, name, command, null, null);
  }

  /** The subnet this subject's calls use (its data dir's addresses are from 198.18.0.2 up). */
  Subject withSubnet(String cidr) {
    this.subnet = cidr;
    return this;
  }

  /**
   * CPU (ms) used so far outside the calls' own processes: the jipamd a daemon-mode subject
   * forwards to; 0 for the others. A call's CPU is its processes' plus this one's delta.
   */
  double serverCpuMillis() {
    return daemon == null ? 0 : daemon.cpuMillis();
  }

  String name() {
    return name;
  }

  /** Whether the calls go to a jipamd (daemon mode). */
  boolean isDaemon() {
    return daemon != null;
  }

  /** Whether it is called as a CNI plugin (environment and config): the subjects with a data dir. */
  boolean isPlugin() {
    return dataDir != null;
  }

  /**
   * host-local's layout, as round-robin would have left it: one file per address from 198.18.0.2
   * up (container id, interface), and the cursor on the last. Both plugins read it.
   */
  private static void fill(Path dataDir, int allocations) throws IOException {
    if (allocations > 65_000) {
      throw new IllegalArgumentException("at most 65,000 allocations fit the /16, got " + allocations);
    }
    Path network = dataDir.resolve(NETWORK);
    Files.createDirectories(network);
    for (int i = 0; i < allocations; i++) {
      int host = i + 2;
      Files.write(network.resolve("198.18." + (host >> 8) + "." + (host & 0xFF)),
          ("filler" + i + "\r\neth0").getBytes(StandardCharsets.US_ASCII));
    }
    if (allocations > 0) {
      int last = allocations + 1;
      Files.writeString(network.resolve("last_reserved_ip.0"), "198.18." + (last >> 8) + "." + (last & 0xFF));
    }
  }

  private String conf() {
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"" + NETWORK + "\",\"ipam\":{\"type\":\"" + type
        + "\"," + (daemon == null ? "" : daemon.daemonJson() + ",") + "\"dataDir\":\"" + dataDir + "\",\"subnet\":\"" + subnet + "\"}}";
  }

  /**
   * Runs one call to its end and returns its wall time in ms (start to reaped). {@code command} is
   * the CNI command (ignored by a non-plugin). A non-zero exit or a call over 60 s is an error.
   */
  double call(String cniCommand, String containerId) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command);
    if (isPlugin()) {
      pb.environment().putAll(Map.of("CNI_COMMAND", cniCommand, "CNI_CONTAINERID", containerId,
          "CNI_NETNS", "/var/run/netns/" + containerId, "CNI_IFNAME", "eth0", "CNI_PATH", "/usr/lib/cni"));
    }
    pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    long start = System.nanoTime();
    Process p = pb.start();
    if (isPlugin()) {
      p.getOutputStream().write(conf().getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    byte[] err = p.getErrorStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(name + " " + cniCommand + " " + containerId + " did not end in 60 s");
    }
    long elapsed = System.nanoTime() - start;
    if (p.exitValue() != 0) {
      throw new IllegalStateException(name + " " + cniCommand + " " + containerId + " exited " + p.exitValue()
          + ": " + new String(err, StandardCharsets.UTF_8).trim());
    }
    return elapsed / 1e6;
  }
}
