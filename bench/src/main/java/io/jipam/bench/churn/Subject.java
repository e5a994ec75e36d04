package io.jipam.bench.churn;

import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Where a churn run's pods get their addresses: an IPAM plugin called as whole processes, as a
 * runtime calls it. Each call names its network, so one subject (and its jipamd, started once as a
 * node starts its jipamd once) serves every round, each round on a network of its own.
 *
 * <table>
 *   <caption>subjects</caption>
 *   <tr><th>name</th><th>what is called</th></tr>
 *   <tr><td>file</td><td>{@code jipam} on its file store (host-local's layout), direct mode</td></tr>
 *   <tr><td>host-local</td><td>the reference {@code /usr/lib/cni/host-local}</td></tr>
 *   <tr><td>daemon</td><td>{@code jipam} forwarding to a {@code jipamd} on the file store</td></tr>
 *   <tr><td>etcd</td><td>{@code jipam} forwarding to a {@code jipamd} on the etcd store, one etcd started here</td></tr>
 * </table>
 *
 * Thread-safe: every call is its own process. {@link #close()} stops the jipamd and etcd it started.
 */
final class Subject implements AutoCloseable {
  static final String FILE = "file";
  static final String HOST_LOCAL = "host-local";
  static final String DAEMON = "daemon";
  static final String ETCD = "etcd";

  private final String name;
  private final Path executable;
  private final String type;
  private final String daemonJson;
  private final Path dataDir;
  private final String subnet;
  private final JipamdProcess daemon;
  private final Etcd etcd;

  private Subject(String name, Path executable, String type, String daemonJson, Path dataDir, String subnet,
      JipamdProcess daemon, Etcd etcd) {
    this.name = name;
    this.executable = executable;
    this.type = type;
    this.daemonJson = daemonJson;
    this.dataDir = dataDir;
    this.subnet = subnet;
    this.daemon = daemon;
    this.etcd = etcd;
  }

  /**
   * Opens subject {@code name}, its networks on subnet {@code subnet}, state under {@code dir}.
   *
   * @throws IllegalStateException when what it needs is not installed or built
   */
  static Subject open(String name, Path jipam, Path hostLocal, Path jipamd, String subnet, Path dir)
      throws IOException, InterruptedException {
    return switch (name) {
      case FILE -> new Subject(name, requireExecutable(jipam, "./mvnw -q -DskipTests package, or --jipam"),
          "jipam", "", dir.resolve("data"), subnet, null, null);
      case HOST_LOCAL -> new Subject(name, requireExecutable(hostLocal, "apt-get install containernetworking-plugins"),
          "host-local", "", dir.resolve("data"), subnet, null, null);
      case DAEMON -> {
        requireExecutable(jipam, "./mvnw -q -DskipTests package, or --jipam");
        JipamdProcess d = JipamdProcess.startFileStore(requireExecutable(jipamd, "./mvnw -q -DskipTests package"),
            dir.resolve("jipamd-data"), dir.resolve("jipamd"), Duration.ofSeconds(120));
        yield new Subject(name, jipam, "jipam", d.daemonJson() + ",", dir.resolve("jipamd-data"), subnet, d, null);
      }
      case ETCD -> {
        requireExecutable(jipam, "./mvnw -q -DskipTests package, or --jipam");
        requireExecutable(jipamd, "./mvnw -q -DskipTests package");
        Etcd e = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start();
        try {
          JipamdProcess d = JipamdProcess.startEtcdStore(jipamd, e.endpoint(), "/jipam-bench", "bench-node",
              dir.resolve("jipamd"), Duration.ofSeconds(120));
          yield new Subject(name, jipam, "jipam", d.daemonJson() + ",", null, subnet, d, e);
        } catch (IOException | RuntimeException failed) {
          e.close();
          throw failed;
        }
      }
      default -> throw new IllegalArgumentException("--subjects: unknown subject '" + name
          + "' (file, host-local, daemon, etcd)");
    };
  }

  /** Why subject {@code name} cannot run here, or null when it can. */
  static String missing(String name, Path jipam, Path hostLocal, Path jipamd) {
    return switch (name) {
      case FILE -> Files.isExecutable(jipam) ? null : "no jipam plugin at " + jipam;
      case HOST_LOCAL -> Files.isExecutable(hostLocal) ? null : "no host-local at " + hostLocal;
      case DAEMON -> !Files.isExecutable(jipam) ? "no jipam plugin at " + jipam
          : Files.isExecutable(jipamd) ? null : "no jipamd at " + jipamd;
      case ETCD -> !Files.isExecutable(jipam) ? "no jipam plugin at " + jipam
          : !Files.isExecutable(jipamd) ? "no jipamd at " + jipamd
          : Etcd.binary() == null ? "no etcd on PATH (apt-get install etcd-server)" : null;
      default -> "unknown subject '" + name + "'";
    };
  }

  private static Path requireExecutable(Path p, String hint) {
    if (!Files.isExecutable(p)) {
      throw new IllegalStateException("no executable " + p + " (" + hint + ")");
    }
    return p;
  }

  private String conf(String network) {
    Path dir = dataDir != null ? dataDir : Path.of("unused");
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"" + network + "\",\"ipam\":{\"type\":\"" + type + "\"," + daemonJson
        + "\"dataDir\":\"" + dir + "\",\"subnet\":\"" + subnet + "\"}}";
  }

  String name() {
    return name;
  }

  /**
   * Where the subject keeps network {@code network} in host-local's layout (the plugin's data dir,
   * or jipamd's), to count what a round left; null when it keeps it elsewhere (etcd).
   */
  Path networkDir(String network) {
    return dataDir == null ? null : dataDir.resolve(network);
  }

  /** Whether a jipamd serves this subject (warmed up before the rounds, as a node's runs for days). */
  boolean hasJipamd() {
    return daemon != null;
  }

  /**
   * CPU of the jipamd behind this subject so far (ms), 0 when there is none. etcd's own CPU is not
   * counted: it is the shared database, not the IPAM's process.
   */
  double serverCpuMillis() {
    return daemon == null ? 0 : daemon.cpuMillis();
  }

  /**
   * One CNI call ({@code ADD}, {@code DEL}) for {@code containerId} on {@code network}, run to
   * its end.
   *
   * @return null on success, else the exit code and what the plugin printed
   */
  String call(String command, String containerId, String network) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(executable.toString());
    pb.environment().putAll(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", containerId,
        "CNI_NETNS", "/var/run/netns/" + containerId, "CNI_IFNAME", "eth0", "CNI_PATH", "/usr/lib/cni"));
    pb.redirectErrorStream(true);
    Process p = pb.start();
    p.getOutputStream().write(conf(network).getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return name + " " + command + " " + containerId + " did not end in 60 s";
    }
    if (p.exitValue() != 0) {
      return name + " " + command + " " + containerId + " exited " + p.exitValue() + ": "
          + new String(out, StandardCharsets.UTF_8).trim();
    }
    return null;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      if (daemon != null) {
        daemon.close();
      }
    } finally {
      if (etcd != null) {
        etcd.close();
      }
    }
  }
}
