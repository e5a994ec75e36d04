package io.jipam.bench.support;

import java.io.File;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * An etcd cluster of one or more members started here from the {@code etcd} binary on PATH: each
 * member on two free loopback ports, with its data (fsync on, etcd's default) and log in a
 * temporary directory that {@link #close} removes with the processes. etcd's own timing defaults
 * (heartbeat 100 ms, election 1 s) are kept: what a real cluster runs with.
 *
 * <p>The one etcd launcher of the bench module: {@link #start()} for one member ({@link
 * #endpoint()}), {@link #start(int)} for a cluster ({@link #endpoints()}), {@link #close()} to stop.
 * A JVM shutdown hook kills the members if the harness is stopped before {@link #close}. Not
 * thread-safe; one owner starts and closes it.
 */
public final class LocalEtcd implements AutoCloseable {
  private final Path dir;
  private final List<Process> members = new ArrayList<>();
  private final List<String> endpoints = new ArrayList<>();
  private final Thread hook;

  private LocalEtcd(Path dir) {
    this.dir = dir;
    this.hook = new Thread(() -> members.forEach(Process::destroyForcibly), "local-etcd-kill");
  }

  /** The etcd binary on PATH, or null. */
  public static Path binary() {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      Path p = Path.of(d, "etcd");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** Starts a one-member etcd, as {@link #start(int)} does. */
  public static LocalEtcd start() throws IOException, InterruptedException {
    return start(1);
  }

  /**
   * Starts {@code size} members of a new cluster and waits (at most 30 s) until each answers
   * healthy on its client URL.
   *
   * @throws IllegalStateException when there is no etcd binary or a member does not come up (with
   *     the end of its log)
   */
  public static LocalEtcd start(int size) throws IOException, InterruptedException {
    if (size < 1) {
      throw new IllegalArgumentException("an etcd cluster needs >= 1 member, got " + size);
    }
    Path binary = binary();
    if (binary == null) {
      throw new IllegalStateException("no etcd binary on PATH (Debian: apt-get install etcd-server)");
    }
    Path dir = Files.createTempDirectory("jipam-bench-etcd" + size + "-");
    LocalEtcd etcd = new LocalEtcd(dir);
    Runtime.getRuntime().addShutdownHook(etcd.hook);
    try {
      int[] clientPorts = new int[size];
      int[] peerPorts = new int[size];
      freePorts(clientPorts, peerPorts);
      StringBuilder initial = new StringBuilder();
      for (int i = 0; i < size; i++) {
        initial.append(i == 0 ? "" : ",").append("m").append(i).append("=http://127.0.0.1:").append(peerPorts[i]);
      }
      for (int i = 0; i < size; i++) {
        ProcessBuilder pb = new ProcessBuilder(binary.toString(), "--name", "m" + i,
            "--data-dir", dir.resolve("m" + i).toString(),
            "--listen-client-urls", "http://127.0.0.1:" + clientPorts[i],
            "--advertise-client-urls", "http://127.0.0.1:" + clientPorts[i],
            "--listen-peer-urls", "http://127.0.0.1:" + peerPorts[i],
            "--initial-advertise-peer-urls", "http://127.0.0.1:" + peerPorts[i],
            "--initial-cluster", initial.toString(), "--initial-cluster-state", "new",
            "--initial-cluster-token", "jipam-bench-" + dir.getFileName(), "--log-level", "warn");
        pb.redirectErrorStream(true).redirectOutput(dir.resolve("m" + i + ".log").toFile());
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
          pb.environment().put("ETCD_UNSUPPORTED_ARCH", arch.equals("aarch64") ? "arm64" : arch);
        }
        etcd.members.add(pb.start());
        etcd.endpoints.add("http://127.0.0.1:" + clientPorts[i]);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      for (int i = 0; i < size; i++) {
        etcd.awaitHealthy(i, deadline);
      }
      return etcd;
    } catch (IOException | InterruptedException | RuntimeException e) {
      etcd.close();
      throw e;
    }
  }

  private static void freePorts(int[] a, int[] b) throws IOException {
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < a.length; i++) {
        ServerSocket x = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket y = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        held.add(x);
        held.add(y);
        a[i] = x.getLocalPort();
        b[i] = y.getLocalPort();
      }
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  private void awaitHealthy(int i, long deadline) throws InterruptedException {
    while (System.nanoTime() < deadline) {
      if (!members.get(i).isAlive()) {
        throw new IllegalStateException("etcd member m" + i + " exited with " + members.get(i).exitValue()
            + ": " + log(i));
      }
      if (healthy(endpoints.get(i))) {
        return;
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("etcd member m" + i + " not healthy within 30 s: " + log(i));
  }

  private static boolean healthy(String endpoint) {
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create(endpoint + "/health").toURL().openConnection();
      c.setConnectTimeout(300);
      c.setReadTimeout(1000);
      try (var in = c.getInputStream()) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("\"health\":\"true\"");
      } finally {
        c.disconnect();
      }
    } catch (IOException e) {
      return false;
    }
  }

  private String log(int i) {
    try {
      String text = Files.readString(dir.resolve("m" + i + ".log"));
      return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** The first member's client URL: the one of a one-member etcd. */
  public String endpoint() {
    return endpoints.get(0);
  }

  /** The members' client URLs. */
  public List<String> endpoints() {
    return List.copyOf(endpoints);
  }

  /** The members' process ids, for CPU accounting. */
  public List<Long> pids() {
    return members.stream().map(Process::pid).toList();
  }

  /** The number of members. */
  public int size() {
    return members.size();
  }

  /** Kills the members and removes their data. */
  @Override
  public void close() throws IOException, InterruptedException {
    for (Process p : members) {
      p.destroyForcibly();
    }
    for (Process p : members) {
      p.waitFor(10, TimeUnit.SECONDS);
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or has run: nothing to remove
    }
    Dirs.deleteTree(dir);
  }
}
