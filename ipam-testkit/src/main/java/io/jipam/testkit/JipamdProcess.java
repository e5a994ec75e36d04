package io.jipam.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * jipamd as a child process, however it is launched: a JVM on a class path ({@link #jvm}), the
 * built {@code dist/bin/jipamd} or a bundle's launcher ({@link #launcher}), optionally under a
 * prefix such as {@code ip netns exec NS} or a shell that sets a umask. Ready once it logs "jipamd
 * ready" (bounded wait); stopped with SIGTERM (SIGKILL after a bound) or killed. Its output goes to
 * a log file in the caller's directory, which failures print. A JVM shutdown hook kills the
 * jipamds still running, so a harness stopped early leaves none behind.
 *
 * <p>The benchmark harness uses it too: {@link #launchOnSocket} starts several at once without
 * waiting ({@link #awaitReady} after), {@link #startFileStore}/{@link #startEtcdStore} one on a
 * store, {@link #daemonJson} points a plugin config at it and {@link #cpuMillis} reads its CPU
 * while it runs.
 *
 * <p>Not thread-safe, except {@link #cpuMillis} and {@link #isAlive}: one owner starts and stops it.
 */
public final class JipamdProcess implements AutoCloseable {
  private static final Set<Process> ALL = ConcurrentHashMap.newKeySet();
  private static final String READY = " jipamd ready";
  private static final Duration START_BOUND = Duration.ofSeconds(60);
  private static final Duration STOP_BOUND = Duration.ofSeconds(30);
  private static final Pattern TCP = Pattern.compile("serving store \\S+.* on 127\\.0\\.0\\.1:(\\d+)");
  /**
   * JVM options for a jipamd under test: small and quick to start. C1 at its usual thresholds: the
   * launcher's earlier compiles for a node's jipamd (which pay off over its first thousands of
   * calls) cost a jipamd that serves a test's few calls 100 to 190 ms more CPU per start.
   */
  public static final List<String> LEAN_JVM = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
      "-XX:CompileThresholdScaling=1");

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> ALL.forEach(Process::destroyForcibly), "jipamd-kill"));
  }

  private final Process process;
  private final Path log;
  private final List<String> command;
  private final Path socket;

  private JipamdProcess(Process process, Path log, List<String> command) {
    this.process = process;
    this.log = log;
    this.command = List.copyOf(command);
    int at = command.indexOf("--socket");
    this.socket = at >= 0 && at + 1 < command.size() ? Path.of(command.get(at + 1)) : null;
  }

  /** The command of a jipamd JVM: this JVM's java with {@code jvmOptions}, {@code classPath} and {@code mainClass}. */
  public static List<String> jvm(List<String> jvmOptions, String classPath, String mainClass, List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(classPath);
    command.add(mainClass);
    command.addAll(args);
    return command;
  }

  /**
   * The command of a JVM running {@code mainClass} on this JVM's class path, started from that main
   * class's {@link ClassArchive}: the first such child to exit cleanly records it, later ones map it.
   * Start it with {@link #start}/{@link #launch}, which report its exit to the archive.
   */
  public static List<String> archivedJvm(List<String> jvmOptions, String mainClass, List<String> args) {
    ClassArchive archive = ClassArchive.of(mainClass);
    List<String> options = new ArrayList<>(jvmOptions);
    options.addAll(archive.options());
    return jvm(options, archive.classPath(), mainClass, args);
  }

  /**
   * {@link #archivedJvm} for a child that is not started by {@link #launch} (so its exit is not
   * reported): it maps the archive when one is recorded, and never records.
   */
  public static List<String> sharingJvm(List<String> jvmOptions, String mainClass, List<String> args) {
    ClassArchive archive = ClassArchive.of(mainClass);
    List<String> options = new ArrayList<>(jvmOptions);
    options.addAll(archive.sharedOptions());
    return jvm(options, archive.classPath(), mainClass, args);
  }

  /** The command of a launcher script ({@code dist/bin/jipamd}, a bundle's {@code bin/jipamd}) with {@code args}. */
  public static List<String> launcher(Path jipamd, String... args) {
    if (!Files.isExecutable(jipamd)) {
      throw new IllegalStateException(jipamd + " is missing: build ipam-server (package puts jipamd into dist)");
    }
    List<String> command = new ArrayList<>(List.of(jipamd.toString()));
    command.addAll(List.of(args));
    return command;
  }

  /** Starts {@code command} with this JVM's environment plus {@code env}; returns once it is ready. */
  public static JipamdProcess start(Path logDir, List<String> command, Map<String, String> env) throws IOException {
    JipamdProcess j = launch(logDir, command, env);
    j.awaitReady(START_BOUND);
    return j;
  }

  /** Starts {@code command} with this JVM's environment plus {@code env}, without waiting: {@link #awaitReady} next. */
  public static JipamdProcess launch(Path logDir, List<String> command, Map<String, String> env) throws IOException {
    Files.createDirectories(logDir);
    Path log = Files.createTempFile(logDir, "jipamd", ".log");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().putAll(env);
    Process p = builder.start();
    ALL.add(p);
    p.onExit().thenAccept(done -> ClassArchive.exited(command, done.exitValue()));
    p.getOutputStream().close();
    return new JipamdProcess(p, log, command);
  }

  /**
   * Waits until it logs that it is ready.
   *
   * @throws IllegalStateException when it exits or is not ready within {@code timeout} (then it is
   *     killed); the message quotes its command and output
   */
  public void awaitReady(Duration timeout) {
    try {
      Await.until(() -> {
        if (!process.isAlive()) {
          throw new IllegalStateException("exited with " + process.exitValue());
        }
        return output().contains(READY);
      }, timeout, () -> "jipamd ready (" + String.join(" ", command) + "):\n" + output());
    } catch (AssertionError | RuntimeException e) {
      process.destroyForcibly();
      ALL.remove(process);
      throw e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
    }
  }

  /** {@link #awaitReady(Duration)} for at most 60 s. */
  public void awaitReady() {
    awaitReady(START_BOUND);
  }

  /**
   * Launches a jipamd serving on unix socket {@code socket} with {@code args} (the store and any
   * other options), without waiting ({@link #awaitReady} next); its log goes next to the socket.
   * {@code launcher} is a jipamd launcher script ({@code dist/bin/jipamd}), whose JVM gets
   * {@code jvmOptions} through {@code JIPAMD_JAVA_OPTS}; or null to run {@code io.jipam.server.Jipamd}
   * on this JVM's class path with {@code jvmOptions}.
   */
  public static JipamdProcess launchOnSocket(Path launcher, Path socket, List<String> args, List<String> jvmOptions)
      throws IOException {
    List<String> all = new ArrayList<>(List.of("--socket", socket.toString()));
    all.addAll(args);
    if (launcher == null) {
      List<String> jvm = new ArrayList<>(List.of("-Xlog:disable", "-Xlog:all=warning:stderr"));
      jvm.addAll(jvmOptions);
      return launch(socket.getParent(), jvm(jvm, System.getProperty("java.class.path"), "io.jipam.server.Jipamd", all),
          Map.of());
    }
    Map<String, String> env = new HashMap<>();
    if (!jvmOptions.isEmpty()) {
      String opts = System.getenv().getOrDefault("JIPAMD_JAVA_OPTS", "");
      env.put("JIPAMD_JAVA_OPTS", (opts + " " + String.join(" ", jvmOptions)).trim());
    }
    return launch(socket.getParent(), launcher(launcher, all.toArray(String[]::new)), env);
  }

  /** Starts {@code jipamd --store file --data-dir dataDir} on socket {@code dir/jipamd.sock}; returns once it is ready. */
  public static JipamdProcess startFileStore(Path launcher, Path dataDir, Path dir, Duration timeout)
      throws IOException {
    Files.createDirectories(dataDir);
    return started(launchOnSocket(launcher, dir.resolve("jipamd.sock"),
        List.of("--store", "file", "--data-dir", dataDir.toString()), List.of()), timeout);
  }

  /**
   * Starts {@code jipamd --store etcd} on the etcd at {@code endpoint} (keys under {@code prefix},
   * node name {@code node}), config file and socket ({@code jipamd.sock}) in {@code dir}; returns
   * once it is ready.
   */
  public static JipamdProcess startEtcdStore(Path launcher, String endpoint, String prefix, String node, Path dir,
      Duration timeout) throws IOException {
    Files.createDirectories(dir);
    Path config = dir.resolve("etcd.json");
    Files.writeString(config, "{\"type\":\"etcd\",\"endpoints\":[\"" + endpoint + "\"],\"node\":\"" + node
        + "\",\"prefix\":\"" + prefix + "\",\"timeoutMillis\":30000}");
    return started(launchOnSocket(launcher, dir.resolve("jipamd.sock"),
        List.of("--store", "etcd", "--etcd-config", config.toString()), List.of()), timeout);
  }

  private static JipamdProcess started(JipamdProcess j, Duration timeout) {
    j.awaitReady(timeout);
    return j;
  }

  /** {@code dist/bin/jipamd} next to the given plugin launcher ({@code dist/bin/jipam}). */
  public static Path besidePlugin(Path jipam) {
    return jipam.toAbsolutePath().resolveSibling("jipamd");
  }

  /** {@link #start(Path, List, Map)} with no extra environment. */
  public static JipamdProcess start(Path logDir, List<String> command) throws IOException {
    return start(logDir, command, Map.of());
  }

  /** What a jipamd that was expected to stop by itself printed, and its exit code. */
  public record Finished(int exit, String output) {}

  /** Runs {@code command} until it exits by itself (at most 60 s): for starts that must be refused. */
  public static Finished runToExit(List<String> command) {
    Exec.Result r = Exec.run(null, command, null, new byte[0], START_BOUND);
    return new Finished(r.exit(), r.stdout() + r.stderr());
  }

  public Path log() {
    return log;
  }

  /** Everything it printed so far (stdout and stderr). */
  public String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }

  public long pid() {
    return process.pid();
  }

  /** The unix socket it was started on (its {@code --socket} argument). */
  public Path socket() {
    if (socket == null) {
      throw new IllegalStateException("jipamd was started without --socket: " + String.join(" ", command));
    }
    return socket;
  }

  /** {@code unix:<socket>}: the gRPC target on its {@link #socket}. */
  public String endpoint() {
    return "unix:" + socket();
  }

  /** The {@code ipam.daemon} member of a plugin config pointing at its {@link #socket} (JSON, no braces around). */
  public String daemonJson() {
    return "\"daemon\":{\"socket\":\"" + socket() + "\",\"timeoutSeconds\":60}";
  }

  /**
   * User + system CPU it has used so far, in ms, read while it runs (it is not a reaped child yet):
   * the sum of its threads' run time in {@code /proc/<pid>/task/<tid>/schedstat} (nanoseconds;
   * jipamd's threads live as long as it does), else the JDK's view of {@code /proc/<pid>/stat}
   * (10 ms ticks); NaN when the system says neither.
   */
  public double cpuMillis() {
    try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
      long nanos = 0;
      for (Path task : (Iterable<Path>) tasks::iterator) {
        try {
          String schedstat = Files.readString(task.resolve("schedstat"));
          nanos += Long.parseLong(schedstat.substring(0, schedstat.indexOf(' ')));
        } catch (IOException gone) {
          // a thread that ended between the listing and the read: its time is lost (rare, small)
        }
      }
      return nanos / 1e6;
    } catch (IOException | RuntimeException e) {
      // no schedstat (a kernel without it): clock ticks below
    }
    return process.toHandle().info().totalCpuDuration().map(d -> d.toNanos() / 1e6).orElse(Double.NaN);
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** The process, for tests that wait on its exit themselves. */
  public Process process() {
    return process;
  }

  /** The TCP port it logged it serves on. */
  public int tcpPort() {
    Matcher m = TCP.matcher(output());
    if (!m.find()) {
      throw new AssertionError("no TCP port in jipamd's log:\n" + output());
    }
    return Integer.parseInt(m.group(1));
  }

  /** SIGKILL (as an OOM killer or a crash would end it); returns once it is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(STOP_BOUND.toSeconds(), TimeUnit.SECONDS)) {
      throw new IllegalStateException("jipamd " + process.pid() + " survived SIGKILL for " + STOP_BOUND);
    }
    ALL.remove(process);
  }

  /** SIGTERM; its exit code, or a failure when it is still running after the bound (then SIGKILL). */
  public int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(STOP_BOUND.toSeconds(), TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      ALL.remove(process);
      throw new IllegalStateException("jipamd ignored SIGTERM for " + STOP_BOUND + ":\n" + output());
    }
    ALL.remove(process);
    ClassArchive.exited(command, process.exitValue());
    return process.exitValue();
  }

  /** Stops it ({@link #stop}) when it still runs, and removes its {@link #socket} file if it had one. */
  @Override
  public void close() throws InterruptedException {
    try {
      if (process.isAlive()) {
        stop();
      }
    } finally {
      ALL.remove(process);
      if (socket != null) {
        try {
          Files.deleteIfExists(socket);
        } catch (IOException ignored) {
          // a socket in the caller's temp dir; its owner removes the dir
        }
      }
    }
  }
}
