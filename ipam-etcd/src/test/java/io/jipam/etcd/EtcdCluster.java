package io.jipam.etcd;

import java.io.File;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Real etcd for tests: members started as processes from the {@code etcd} binary on PATH, on free
 * loopback ports, with data in a temporary directory; or, when {@code ETCD_ENDPOINTS} is set, an
 * external cluster that can only be used, not killed.
 *
 * <p>Every started process is also destroyed by a JVM shutdown hook, so a crashed test run does not
 * leave etcd running.
 */
final class EtcdCluster implements AutoCloseable {
  private static final Set<Process> ALL = ConcurrentHashMap.newKeySet();
  /** Raft heartbeat of the members started here (etcd's default: 100 ms). */
  static final long HEARTBEAT_MS = 50;
  /** Raft election timeout of the members started here (etcd's default: 1000 ms): short, so tests are fast. */
  static final long ELECTION_TIMEOUT_MS = 500;

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> ALL.forEach(Process::destroyForcibly)));
  }

  private final List<String> external;
  private final Path dir;
  /** What else to stop on close: the container when Testcontainers started this cluster. */
  private AutoCloseable owner;
  private final Member[] members;
  /** Server TLS files (ca.pem, server.pem, server.key) with client-certificate auth, or null. */
  private Path tlsDir;

  private static final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    final Path data;
    Process process;
    boolean started;

    Member(String name, int clientPort, int peerPort, Path data) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
      this.data = data;
    }
  }

  private EtcdCluster(List<String> external) {
    this.external = external;
    this.dir = null;
    this.members = new Member[0];
  }

  private EtcdCluster(int size, Path dir) throws IOException {
    this.external = null;
    this.dir = dir;
    this.members = new Member[size];
    int[] ports = freePorts(size * 2);
    for (int i = 0; i < size; i++) {
      members[i] = new Member("m" + i, ports[2 * i], ports[2 * i + 1], dir.resolve("m" + i));
    }
  }

  /** The cluster from ETCD_ENDPOINTS, or null when that is not set. */
  static EtcdCluster fromEnvironment() {
    String env = System.getenv("ETCD_ENDPOINTS");
    if (env == null || env.isBlank()) {
      return null;
    }
    return new EtcdCluster(List.of(env.trim().split("\\s*,\\s*")));
  }

  /**
   * A single-member cluster in a container (Testcontainers), or null when no Docker engine answers.
   * For machines without an etcd binary; this project's own machines have none (no engine) and
   * use the binary.
   */
  static EtcdCluster fromTestcontainers() {
    if (!org.testcontainers.DockerClientFactory.instance().isDockerAvailable()) {
      return null;
    }
    org.testcontainers.containers.GenericContainer<?> container =
        new org.testcontainers.containers.GenericContainer<>(
            org.testcontainers.utility.DockerImageName.parse("quay.io/coreos/etcd:v3.5.17"))
            .withCommand("etcd", "--listen-client-urls", "http://0.0.0.0:2379",
                "--advertise-client-urls", "http://0.0.0.0:2379")
            .withExposedPorts(2379)
            .waitingFor(org.testcontainers.containers.wait.strategy.Wait.forHttp("/health").forPort(2379));
    container.start();
    EtcdCluster cluster = new EtcdCluster(
        List.of("http://" + container.getHost() + ":" + container.getMappedPort(2379)));
    cluster.owner = container;
    return cluster;
  }

  /** Starts {@code size} members of a new cluster and waits until every one is healthy. */
  static EtcdCluster start(int size) throws Exception {
    return start(size, null);
  }

  /**
   * Like {@link #start(int)}; with {@code tlsDir} the members serve https with {@code
   * server.pem}/{@code server.key} and require client certificates signed by {@code ca.pem}.
   */
  static EtcdCluster start(int size, Path tlsDir) throws Exception {
    Path binary = findEtcd();
    if (binary == null) {
      throw new IllegalStateException("no etcd for the tests: install an etcd server binary on PATH"
          + " (Debian/Ubuntu: apt-get install etcd-server), or set ETCD_ENDPOINTS=http://host:2379 to use a"
          + " running cluster");
    }
    EtcdCluster c = new EtcdCluster(size, Files.createTempDirectory("jipam-etcd-test"));
    c.tlsDir = tlsDir;
    try {
      for (int i = 0; i < size; i++) {
        c.launch(i, binary);
      }
      for (int i = 0; i < size; i++) {
        c.awaitHealthy(i, 30_000);
      }
    } catch (Exception e) {
      c.close();
      throw e;
    }
    return c;
  }

  boolean isExternal() {
    return external != null;
  }

  int size() {
    return external != null ? external.size() : members.length;
  }

  List<String> endpoints() {
    if (external != null) {
      return external;
    }
    List<String> out = new ArrayList<>();
    for (Member m : members) {
      out.add((tlsDir != null ? "https" : "http") + "://127.0.0.1:" + m.clientPort);
    }
    return out;
  }

  static Path findEtcd() {
    String path = System.getenv("PATH");
    if (path == null) {
      path = "/usr/bin:/usr/local/bin";
    }
    for (String d : path.split(File.pathSeparator)) {
      Path p = Path.of(d, "etcd");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  private void launch(int i, Path binary) throws IOException {
    Member m = members[i];
    StringBuilder initial = new StringBuilder();
    for (Member o : members) {
      if (initial.length() > 0) {
        initial.append(',');
      }
      initial.append(o.name).append("=http://127.0.0.1:").append(o.peerPort);
    }
    String scheme = tlsDir != null ? "https" : "http";
    List<String> cmd = new ArrayList<>(List.of(binary.toString(),
        "--name", m.name,
        "--data-dir", m.data.toString(),
        "--listen-client-urls", scheme + "://127.0.0.1:" + m.clientPort,
        "--advertise-client-urls", scheme + "://127.0.0.1:" + m.clientPort,
        "--listen-peer-urls", "http://127.0.0.1:" + m.peerPort,
        "--initial-advertise-peer-urls", "http://127.0.0.1:" + m.peerPort,
        "--initial-cluster", initial.toString(),
        "--initial-cluster-state", m.started ? "existing" : "new",
        "--initial-cluster-token", "jipam-test-" + dir.getFileName(),
        "--heartbeat-interval", Long.toString(HEARTBEAT_MS),
        "--election-timeout", Long.toString(ELECTION_TIMEOUT_MS),
        "--log-level", "warn"));
    if (tlsDir != null) {
      cmd.addAll(List.of("--cert-file", tlsDir.resolve("server.pem").toString(),
          "--key-file", tlsDir.resolve("server.key").toString(),
          "--trusted-ca-file", tlsDir.resolve("ca.pem").toString(),
          "--client-cert-auth"));
    }
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(m.name + ".log").toFile()));
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    if (!arch.equals("amd64") && !arch.equals("x86_64")) {
      pb.environment().put("ETCD_UNSUPPORTED_ARCH", arch.equals("aarch64") ? "arm64" : arch);
    }
    m.process = pb.start();
    m.started = true;
    ALL.add(m.process);
  }

  void awaitHealthy(int i, long millis) throws Exception {
    Member m = members[i];
    long end = System.currentTimeMillis() + millis;
    while (System.currentTimeMillis() < end) {
      if (!m.process.isAlive()) {
        throw new IllegalStateException("etcd member " + m.name + " exited: " + log(i));
      }
      if (healthy(i)) {
        return;
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("etcd member " + m.name + " not healthy in " + millis + " ms: " + log(i));
  }

  boolean healthy(int i) {
    if (tlsDir != null) {
      // https with client certificates: a TCP connect is as far as a plain probe gets
      try (var s = new java.net.Socket()) {
        s.connect(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(),
            members[i].clientPort), 300);
        return true;
      } catch (IOException e) {
        return false;
      }
    }
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + members[i].clientPort + "/health")
          .toURL().openConnection();
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

  String log(int i) {
    try {
      String text = Files.readString(dir.resolve(members[i].name + ".log"));
      return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
    } catch (IOException e) {
      return "(no log)";
    }
  }

  /** How many lines of the members' logs (all starts) contain {@code text}. */
  long countInLogs(String text) {
    long n = 0;
    for (Member m : members) {
      try (Stream<String> lines = Files.lines(dir.resolve(m.name + ".log"))) {
        n += lines.filter(l -> l.contains(text)).count();
      } catch (IOException | java.io.UncheckedIOException e) {
        // no log yet
      }
    }
    return n;
  }

  /** kill -9 of one member. */
  void kill(int i) throws InterruptedException {
    requireOwned();
    Member m = members[i];
    m.process.destroyForcibly();
    m.process.waitFor();
    ALL.remove(m.process);
  }

  /** SIGSTOP of one member: its process stays, its sockets stay open, it answers nothing. */
  void pause(int i) {
    signal(i, "STOP");
  }

  /** SIGCONT of a member {@link #pause paused} before. */
  void resume(int i) {
    signal(i, "CONT");
  }

  private void signal(int i, String signal) {
    requireOwned();
    try {
      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(members[i].process.pid()))
          .redirectErrorStream(true).start();
      String out = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (kill.waitFor() != 0) {
        throw new IllegalStateException("kill -" + signal + " of etcd member " + members[i].name + ": " + out);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * The index of the member that says it is the leader ({@code etcd_server_is_leader 1} on its
   * {@code /metrics}), asking only the members in {@code candidates}; -1 when none says so within
   * {@code millis}. Members serving plain http only (not those started with a TLS directory).
   */
  int leader(Set<Integer> candidates, long millis) throws InterruptedException {
    requireOwned();
    long end = System.currentTimeMillis() + millis;
    do {
      for (int i : candidates) {
        try {
          HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + members[i].clientPort
              + "/metrics").toURL().openConnection();
          c.setConnectTimeout(300);
          c.setReadTimeout(1000);
          try (var in = c.getInputStream()) {
            if (new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("\netcd_server_is_leader 1")) {
              return i;
            }
          } finally {
            c.disconnect();
          }
        } catch (IOException e) {
          // not answering: not the leader as far as we can tell
        }
      }
      Thread.sleep(50);
    } while (System.currentTimeMillis() < end);
    return -1;
  }

  /** Starts a killed member again on its data directory and port. */
  void restart(int i) throws Exception {
    requireOwned();
    launch(i, findEtcd());
  }

  private void requireOwned() {
    if (external != null) {
      throw new IllegalStateException("cannot kill or restart members of an external cluster");
    }
  }

  @Override
  public void close() {
    if (owner != null) {
      try {
        owner.close();
      } catch (Exception ignored) {
        // stopping a test container; best effort
      }
    }
    for (Member m : members) {
      if (m.process != null) {
        m.process.destroyForcibly();
        try {
          m.process.waitFor();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        ALL.remove(m.process);
      }
    }
    if (dir != null) {
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException ignored) {
        // temp dir; best effort
      }
    }
  }

  private static int[] freePorts(int n) throws IOException {
    int[] out = new int[n];
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        held.add(s);
        out[i] = s.getLocalPort();
      }
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
    return out;
  }
}
