package io.jipam.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Real etcd for tests: one member or a cluster, each member a process of the {@code etcd} binary
 * on free loopback ports with its data in a new temporary directory; or an external cluster
 * ({@link #external}) that can only be used, not faulted.
 *
 * <p>Fault controls on started members: {@link #kill} (SIGKILL), {@link #pause}/{@link #resume}
 * (SIGSTOP/SIGCONT), {@link #restart} on the same data and ports, {@link #leader}. {@link #close}
 * kills every member and deletes the data; a JVM shutdown hook does the same for every cluster
 * still open (a test run that crashed, or a benchmark that exited without closing one). Not thread-safe: one test drives one cluster.
 *
 * <p>Members time raft for fast fault tests by default ({@link Timing#FAST}); the benchmark harness
 * starts them with etcd's own timing ({@link Timing#ETCD_DEFAULT}) and reads their {@link #pids}
 * for CPU accounting.
 *
 * <p>Length: about 480 lines, as one class on purpose: starting, faulting, restarting and removing
 * members all work on the one member table (ports, data dirs, processes), and a test or a benchmark
 * holds one object for the cluster's whole life.
 */
public final class Etcd implements AutoCloseable {
  private static final Set<Process> ALL = ConcurrentHashMap.newKeySet();
  /** Clusters started and not yet closed: the exit hook closes them, data included. */
  private static final Set<Etcd> OPEN = ConcurrentHashMap.newKeySet();
  /** Raft heartbeat of members started with {@link Timing#FAST} (etcd's default: 100 ms). */
  public static final long HEARTBEAT_MS = 50;
  /** Raft election timeout of members started with {@link Timing#FAST} (etcd's default: 1000 ms): short, so tests are fast. */
  public static final long ELECTION_TIMEOUT_MS = 500;

  /** How the members time raft. */
  public enum Timing {
    /** {@link #HEARTBEAT_MS} and {@link #ELECTION_TIMEOUT_MS}: a lost leader is replaced quickly, so fault tests are fast. */
    FAST,
    /** etcd's own defaults (heartbeat 100 ms, election 1 s): what a real cluster runs with, for benchmarks. */
    ETCD_DEFAULT
  }

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      ALL.forEach(Process::destroyForcibly);
      OPEN.forEach(Etcd::close);
    }));
  }

  private final List<String> external;
  private final AutoCloseable owner;
  private final Path dir;
  private final Path tlsDir;
  private final String netns;
  private final Timing timing;
  private final Member[] members;

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

  private Etcd(List<String> external, AutoCloseable owner) {
    this.external = List.copyOf(external);
    this.owner = owner;
    this.dir = null;
    this.tlsDir = null;
    this.netns = null;
    this.timing = null;
    this.members = new Member[0];
  }

  private Etcd(Builder b, Path dir) {
    this.external = null;
    this.owner = null;
    this.dir = dir;
    this.tlsDir = b.tlsDir;
    this.netns = b.netns;
    this.timing = b.timing;
    this.members = new Member[b.members];
    int[] ports = Ports.free(b.members * 2);
    if (b.clientPort != 0) {
      ports[0] = b.clientPort;
    }
    for (int i = 0; i < b.members; i++) {
      members[i] = new Member("m" + i, ports[2 * i], ports[2 * i + 1], dir.resolve("m" + i));
    }
  }

  /** What to start: how many members, with TLS or not, in which network namespace, with which raft timing. */
  public static final class Builder {
    private int members = 1;
    private Path tlsDir;
    private String netns;
    private int clientPort;
    private Timing timing = Timing.FAST;

    private Builder() {}

    /** The members' raft timing (default {@link Timing#FAST}). */
    public Builder timing(Timing t) {
      this.timing = Objects.requireNonNull(t, "timing");
      return this;
    }

    /** The first member's client port (default: a free one), for a test that must know it before the start. */
    public Builder clientPort(int port) {
      this.clientPort = port;
      return this;
    }

    /** How many members (default 1). */
    public Builder members(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("members: " + n);
      }
      this.members = n;
      return this;
    }

    /**
     * Serve https with {@code server.pem}/{@code server.key} of {@code dir} and require client
     * certificates signed by its {@code ca.pem} (the names {@link TestCerts} writes).
     */
    public Builder tls(Path dir) {
      this.tlsDir = dir;
      return this;
    }

    /** Run the members in network namespace {@code name} (its loopback) instead of this one. */
    public Builder netns(String name) {
      this.netns = name;
      return this;
    }

    /**
     * Starts the members and waits until every one is healthy; kills what it started on failure.
     * A member that could not bind a port it was given (another process took it after {@link
     * Ports#free} chose it) is started again on new ports, up to three times in all.
     *
     * @throws IllegalStateException when there is no etcd binary or a member does not come up (with its log)
     */
    public Etcd start() throws IOException {
      for (int attempt = 1; ; attempt++) {
        try {
          return startOnce();
        } catch (IllegalStateException e) {
          if (attempt == 3 || e.getMessage() == null || !e.getMessage().contains("address already in use")) {
            throw e;
          }
        }
      }
    }

    private Etcd startOnce() throws IOException {
      Path binary = binary();
      if (binary == null) {
        throw new IllegalStateException("no etcd for the tests: install an etcd server binary on PATH"
            + " (Debian/Ubuntu: apt-get install etcd-server)");
      }
      Etcd c = new Etcd(this, Files.createTempDirectory("jipam-etcd-"));
      OPEN.add(c);
      try {
        for (int i = 0; i < members; i++) {
          c.launch(i, binary);
        }
        for (int i = 0; i < members; i++) {
          c.awaitHealthy(i, Duration.ofSeconds(30));
        }
      } catch (AssertionError e) {
        c.close();
        throw new IllegalStateException(e.getMessage(), e);
      } catch (IOException | RuntimeException | Error e) {
        c.close();
        throw e;
      }
      return c;
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** One member, plain http. */
  public static Etcd single() throws IOException {
    return builder().start();
  }

  /** {@code n} members, plain http. */
  public static Etcd cluster(int n) throws IOException {
    return builder().members(n).start();
  }

  /** A cluster that runs elsewhere (ETCD_ENDPOINTS, a container): used, never faulted; {@code owner} closed at close. */
  public static Etcd external(List<String> endpoints, AutoCloseable owner) {
    return new Etcd(endpoints, owner);
  }

  /** The etcd binary on PATH or in /usr/bin; null when there is none. */
  public static Path binary() {
    return Exec.which("etcd", "/usr/bin", "/usr/local/bin");
  }

  public boolean isExternal() {
    return external != null;
  }

  public int size() {
    return external != null ? external.size() : members.length;
  }

  /** Every member's client URL. */
  public List<String> endpoints() {
    if (external != null) {
      return external;
    }
    List<String> out = new ArrayList<>();
    for (Member m : members) {
      out.add(endpoint(m));
    }
    return out;
  }

  /** The first member's client URL. */
  public String endpoint() {
    return endpoints().get(0);
  }

  /** The process ids of the members started here and not killed, in member order: for CPU accounting. */
  public List<Long> pids() {
    requireOwned();
    List<Long> out = new ArrayList<>();
    for (Member m : members) {
      if (m.process != null && m.process.isAlive()) {
        out.add(m.process.pid());
      }
    }
    return out;
  }

  /** Member {@code i}'s client URL. */
  public String endpoint(int i) {
    return endpoint(members[i]);
  }

  private String endpoint(Member m) {
    return (tlsDir != null ? "https" : "http") + "://127.0.0.1:" + m.clientPort;
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
    List<String> cmd = new ArrayList<>();
    if (netns != null) {
      cmd.addAll(List.of("ip", "netns", "exec", netns));
    }
    cmd.addAll(List.of(binary.toString(),
        "--name", m.name,
        "--data-dir", m.data.toString(),
        "--listen-client-urls", endpoint(m),
        "--advertise-client-urls", endpoint(m),
        "--listen-peer-urls", "http://127.0.0.1:" + m.peerPort,
        "--initial-advertise-peer-urls", "http://127.0.0.1:" + m.peerPort,
        "--initial-cluster", initial.toString(),
        "--initial-cluster-state", m.started ? "existing" : "new",
        "--initial-cluster-token", "jipam-test-" + dir.getFileName(),
        "--log-level", "warn"));
    if (timing == Timing.FAST) {
      cmd.addAll(List.of("--heartbeat-interval", Long.toString(HEARTBEAT_MS),
          "--election-timeout", Long.toString(ELECTION_TIMEOUT_MS)));
    }
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

  /** Waits until member {@code i} answers healthy; fails with its log when it exits or the bound passes. */
  public void awaitHealthy(int i, Duration timeout) {
    Member m = members[i];
    Await.until(() -> {
      if (!m.process.isAlive()) {
        throw new AssertionError("etcd member " + m.name + " exited: " + log(i));
      }
      return healthy(i);
    }, timeout, () -> "etcd member " + m.name + " healthy; its log: " + log(i));
  }

  /** Whether member {@code i} says it is healthy (with TLS: accepts a TCP connection). */
  public boolean healthy(int i) {
    requireOwned();
    if (netns != null) {
      return Exec.run(List.of("ip", "netns", "exec", netns, "busybox", "wget", "-q", "-O", "-",
          endpoint(i) + "/health"), null, "", Duration.ofSeconds(10)).stdout().contains("\"health\":\"true\"");
    }
    if (tlsDir != null) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), members[i].clientPort), 300);
        return true;
      } catch (IOException e) {
        return false;
      }
    }
    String health = get(i, "/health");
    return health != null && health.contains("\"health\":\"true\"");
  }

  /** The body of {@code http://member/path}, or null when the member does not answer. Plain http only. */
  private String get(int i, String path) {
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create(endpoint(i) + path).toURL().openConnection();
      c.setConnectTimeout(300);
      c.setReadTimeout(1000);
      try (var in = c.getInputStream()) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } finally {
        c.disconnect();
      }
    } catch (IOException e) {
      return null;
    }
  }

  /** The last 2,000 characters of member {@code i}'s log (all its starts). */
  public String log(int i) {
    try {
      String text = Files.readString(dir.resolve(members[i].name + ".log"));
      return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
    } catch (IOException e) {
      return "(no log)";
    }
  }

  /** How many lines of the members' logs (all starts) contain {@code text}. */
  public long countInLogs(String text) {
    long n = 0;
    for (Member m : members) {
      try (Stream<String> lines = Files.lines(dir.resolve(m.name + ".log"))) {
        n += lines.filter(l -> l.contains(text)).count();
      } catch (IOException | UncheckedIOException e) {
        // no log yet
      }
    }
    return n;
  }

  /** kill -9 of member {@code i}; returns once it is gone. */
  public void kill(int i) throws InterruptedException {
    requireOwned();
    Member m = members[i];
    m.process.destroyForcibly();
    m.process.waitFor();
    ALL.remove(m.process);
  }

  /** SIGSTOP of member {@code i}: its process stays, its sockets stay open, it answers nothing. */
  public void pause(int i) {
    signal(i, "STOP");
  }

  /** SIGCONT of a member {@link #pause paused} before. */
  public void resume(int i) {
    signal(i, "CONT");
  }

  private void signal(int i, String signal) {
    requireOwned();
    Exec.run(List.of("kill", "-" + signal, Long.toString(members[i].process.pid())), null, "",
        Duration.ofSeconds(10)).ok();
  }

  /**
   * The index of the member that says it is the leader ({@code etcd_server_is_leader 1} on its
   * {@code /metrics}), asking only the members in {@code candidates}; -1 when none says so within
   * {@code timeout}. Plain http members only.
   */
  public int leader(Set<Integer> candidates, Duration timeout) {
    requireOwned();
    try {
      return Await.value(() -> {
        for (int i : candidates) {
          String metrics = get(i, "/metrics");
          if (metrics != null && metrics.contains("\netcd_server_is_leader 1")) {
            return i;
          }
        }
        return null;
      }, timeout, () -> "a leader among members " + candidates);
    } catch (AssertionError none) {
      return -1;
    }
  }

  /** Starts a killed member again on its data directory and ports; returns at once (see {@link #awaitHealthy}). */
  public void restart(int i) throws IOException {
    requireOwned();
    launch(i, binary());
  }

  private void requireOwned() {
    if (external != null) {
      throw new IllegalStateException("cannot fault the members of an external cluster");
    }
  }

  @Override
  public void close() {
    OPEN.remove(this);
    if (owner != null) {
      try {
        owner.close();
      } catch (Exception ignored) {
        // stopping what runs the external cluster; best effort
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
}
