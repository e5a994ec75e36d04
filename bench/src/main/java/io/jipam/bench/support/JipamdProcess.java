package io.jipam.bench.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One jipamd as a real process, serving one store on a unix socket ({@code <dir>/<name>.sock}):
 * the one jipamd launcher of the bench module. {@link #start} launches it and waits for its
 * {@code jipamd ready} line; {@link #launch} and {@link #awaitReady} do the two halves, so that
 * several can start at once. {@link #close} stops it with SIGTERM (SIGKILL after 20 s) and removes
 * its socket. Its standard error goes to {@code <dir>/<name>.log}, which failures quote. A JVM
 * shutdown hook kills it if the harness is stopped first.
 *
 * <p>Its CPU is not a reaped child's while it runs, so {@link #cpuMillis()} reads it from the live
 * process: the sum of its threads' run time in {@code /proc/<pid>/task/<tid>/schedstat}
 * (nanoseconds; jipamd's threads live as long as it does: event loops, a fixed worker pool, the
 * JIT's and GC's), else {@code /proc/<pid>/stat} (10 ms ticks); a daemon-mode subject's CPU per call is the plugin processes' CPU plus this one's delta
 * over the same calls.
 *
 * <p>Thread-safe for reads ({@link #cpuMillis}, {@link #isAlive}); one owner starts and closes it.
 */
public final class JipamdProcess implements AutoCloseable {
  /** How long a jipamd may take to say it is ready, by default. */
  public static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

  private final String name;
  private final Process process;
  private final Path socket;
  private final Path log;
  private final Thread hook;

  private JipamdProcess(String name, Process process, Path socket, Path log) {
    this.name = name;
    this.process = process;
    this.socket = socket;
    this.log = log;
    this.hook = new Thread(process::destroyForcibly, "jipamd-kill-" + name);
  }

  /** {@code dist/bin/jipamd} next to the given plugin launcher ({@code dist/bin/jipam}). */
  public static Path besidePlugin(Path jipam) {
    return jipam.toAbsolutePath().resolveSibling("jipamd");
  }

  /**
   * Launches jipamd with {@code --socket <dir>/<name>.sock} and {@code args} (the store and any
   * other options) without waiting for it. {@code launcher} is a jipamd launcher ({@code
   * dist/bin/jipamd}), or null to run {@code io.jipam.server.Jipamd} on this JVM with this JVM's
   * class path. {@code jvmFlags} go to jipamd's JVM (through {@code JIPAMD_JAVA_OPTS} for a
   * launcher). The launcher {@code exec}s its JVM, so the process's id is jipamd's own.
   *
   * @throws IllegalStateException when {@code launcher} is given and not executable
   */
  public static JipamdProcess launch(Path launcher, Path dir, String name, List<String> args, List<String> jvmFlags)
      throws IOException {
    if (launcher != null && !Files.isExecutable(launcher)) {
      throw new IllegalStateException("no jipamd at " + launcher + ": build it with ./mvnw -q -DskipTests package");
    }
    Files.createDirectories(dir);
    Path socket = dir.resolve(name + ".sock");
    Path log = dir.resolve(name + ".log");
    List<String> command = new ArrayList<>();
    if (launcher != null) {
      command.add(launcher.toString());
    } else {
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(List.of("-Xlog:disable", "-Xlog:all=warning:stderr"));
      command.addAll(jvmFlags);
      command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.jipam.server.Jipamd"));
    }
    command.addAll(List.of("--socket", socket.toString()));
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    if (launcher != null && !jvmFlags.isEmpty()) {
      String opts = pb.environment().getOrDefault("JIPAMD_JAVA_OPTS", "");
      pb.environment().put("JIPAMD_JAVA_OPTS", (opts + " " + String.join(" ", jvmFlags)).trim());
    }
    Process p = pb.start();
    p.getOutputStream().close();
    JipamdProcess j = new JipamdProcess(name, p, socket, log);
    Runtime.getRuntime().addShutdownHook(j.hook);
    return j;
  }

  /** {@link #launch}, then {@link #awaitReady} for at most {@code timeout}; on failure it is stopped. */
  public static JipamdProcess start(Path launcher, Path dir, String name, List<String> args, Duration timeout)
      throws IOException, InterruptedException {
    JipamdProcess j = launch(launcher, dir, name, args, List.of());
    try {
      j.awaitReady(timeout);
      return j;
    } catch (IOException | InterruptedException | RuntimeException e) {
      j.close();
      throw e;
    }
  }

  /** Starts {@code jipamd --store file --data-dir dataDir} with its socket in {@code dir}, as {@link #start}. */
  public static JipamdProcess startFileStore(Path jipamd, Path dataDir, Path dir, Duration timeout)
      throws IOException, InterruptedException {
    Files.createDirectories(dataDir);
    return start(jipamd, dir, "jipamd", List.of("--store", "file", "--data-dir", dataDir.toString()), timeout);
  }

  /**
   * Starts {@code jipamd --store etcd} on the etcd at {@code endpoint} (keys under {@code prefix},
   * node name {@code node}), socket in {@code dir}, as {@link #start}.
   */
  public static JipamdProcess startEtcdStore(Path jipamd, String endpoint, String prefix, String node, Path dir,
      Duration timeout) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path config = dir.resolve("etcd.json");
    Files.writeString(config, "{\"type\":\"etcd\",\"endpoints\":[\"" + endpoint + "\"],\"node\":\"" + node
        + "\",\"prefix\":\"" + prefix + "\",\"timeoutMillis\":30000}");
    return start(jipamd, dir, "jipamd", List.of("--store", "etcd", "--etcd-config", config.toString()), timeout);
  }

  /** {@link #awaitReady(Duration)} for at most {@link #READY_TIMEOUT}. */
  public void awaitReady() throws IOException, InterruptedException {
    awaitReady(READY_TIMEOUT);
  }

  /**
   * Waits for the ready line.
   *
   * @throws IllegalStateException when it exits or is not ready within {@code timeout} (then it is
   *     killed); the message quotes the end of its log
   */
  public void awaitReady(Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.readString(log, StandardCharsets.UTF_8).contains(" jipamd ready")) {
        return;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException("jipamd (" + name + ") exited with " + process.exitValue() + ": " + tail());
      }
      Thread.sleep(20);
    }
    process.destroyForcibly();
    throw new IllegalStateException("jipamd (" + name + ") not ready within " + timeout + ": " + tail());
  }

  private String tail() {
    try {
      String text = Files.readString(log, StandardCharsets.UTF_8).trim();
      return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** The unix socket it serves on. */
  public Path socket() {
    return socket;
  }

  /** {@code unix:<socket>}: the gRPC target ({@code RemoteStore.Target.parse}'s syntax). */
  public String endpoint() {
    return "unix:" + socket;
  }

  /** The {@code ipam.daemon} member of a plugin config pointing at this jipamd (JSON, no braces around). */
  public String daemonJson() {
    return "\"daemon\":{\"socket\":\"" + socket + "\",\"timeoutSeconds\":60}";
  }

  /** User + system CPU this jipamd has used so far, in ms; NaN when the system does not say. */
  public double cpuMillis() {
    try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc", Long.toString(process.pid()), "task"))) {
      long nanos = 0;
      for (java.nio.file.Path task : (Iterable<java.nio.file.Path>) tasks::iterator) {
        try {
          String schedstat = java.nio.file.Files.readString(task.resolve("schedstat"));
          nanos += Long.parseLong(schedstat.substring(0, schedstat.indexOf(' ')));
        } catch (java.io.IOException gone) {
          // a thread that ended between the listing and the read: its time is lost (rare, small)
        }
      }
      return nanos / 1e6;
    } catch (java.io.IOException | RuntimeException e) {
      // no schedstat (a kernel without it): clock ticks below
    }
    return process.toHandle().info().totalCpuDuration().map(d -> d.toNanos() / 1e6).orElse(Double.NaN);
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or has run
    }
    Files.deleteIfExists(socket);
  }
}
