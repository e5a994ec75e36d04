package io.jipam.bench.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@code jipamd} child process on the file store or an etcd, serving the plugins of a benchmark on its own
 * unix socket, for the subjects that measure jipam in daemon mode ({@code "daemon": {"socket": …}}).
 *
 * <p>Its CPU is not a reaped child's while it runs, so {@link #cpuMillis()} reads it from the live
 * process: the sum of its threads' run time in {@code /proc/<pid>/task/<tid>/schedstat}
 * (nanoseconds; jipamd's threads live as long as it does: event loops, a fixed worker pool, the
 * JIT's and GC's), else {@code /proc/<pid>/stat} (10 ms ticks, through {@link
 * ProcessHandle.Info#totalCpuDuration()}); a subject's CPU per call is the plugin processes' CPU
 * plus this one's delta over the same calls.
 *
 * <p>Thread-safe. {@link #close()} stops it with SIGTERM (SIGKILL after 10 s) and waits for it.
 */
public final class JipamdProcess implements AutoCloseable {
  private final Process process;
  private final Path socket;
  private final Path log;

  private JipamdProcess(Process process, Path socket, Path log) {
    this.process = process;
    this.socket = socket;
    this.log = log;
  }

  /** {@code dist/bin/jipamd} next to the given plugin launcher ({@code dist/bin/jipam}). */
  public static Path besidePlugin(Path jipam) {
    return jipam.toAbsolutePath().resolveSibling("jipamd");
  }

  /**
   * Starts {@code jipamd --store file --data-dir dataDir --socket <dir>/jipamd.sock} and waits up to
   * {@code timeout} for it to log {@code jipamd ready}.
   *
   * @throws IllegalStateException when the binary is missing, or it exits or is not ready in time
   *     (the message carries its log)
   */
  public static JipamdProcess startFileStore(Path jipamd, Path dataDir, Path dir, Duration timeout)
      throws IOException, InterruptedException {
    Files.createDirectories(dataDir);
    return start(jipamd, List.of("--store", "file", "--data-dir", dataDir.toString()), dir, timeout);
  }

  /**
   * Starts {@code jipamd --store etcd} on the etcd at {@code endpoint} (keys under {@code prefix},
   * node name {@code node}), socket in {@code dir}, as {@link #startFileStore} does.
   */
  public static JipamdProcess startEtcdStore(Path jipamd, String endpoint, String prefix, String node, Path dir,
      Duration timeout) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path config = dir.resolve("etcd.json");
    Files.writeString(config, "{\"type\":\"etcd\",\"endpoints\":[\"" + endpoint + "\"],\"node\":\"" + node
        + "\",\"prefix\":\"" + prefix + "\",\"timeoutMillis\":30000}");
    return start(jipamd, List.of("--store", "etcd", "--etcd-config", config.toString()), dir, timeout);
  }

  private static JipamdProcess start(Path jipamd, List<String> store, Path dir, Duration timeout)
      throws IOException, InterruptedException {
    if (!Files.isExecutable(jipamd)) {
      throw new IllegalStateException("no jipamd at " + jipamd + ": build it with ./mvnw -q -DskipTests package");
    }
    Files.createDirectories(dir);
    Path socket = dir.resolve("jipamd.sock");
    Path log = dir.resolve("jipamd.log");
    List<String> command = new ArrayList<>(List.of(jipamd.toString()));
    command.addAll(store);
    command.addAll(List.of("--socket", socket.toString()));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    p.getOutputStream().close();
    JipamdProcess d = new JipamdProcess(p, socket, log);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!Files.readString(log, StandardCharsets.UTF_8).contains("jipamd ready")) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        String why = p.isAlive() ? "not ready within " + timeout : "exited " + p.exitValue();
        d.close();
        throw new IllegalStateException("jipamd " + why + ": " + Files.readString(log, StandardCharsets.UTF_8).trim());
      }
      Thread.sleep(20);
    }
    return d;
  }

  /** The unix socket the plugins forward to. */
  public Path socket() {
    return socket;
  }

  /** The {@code ipam.daemon} member of a plugin config pointing at this jipamd (JSON, no braces around). */
  public String daemonJson() {
    return "\"daemon\":{\"socket\":\"" + socket + "\",\"timeoutSeconds\":60}";
  }

  /** User + system CPU this jipamd has used so far, in ms; NaN when the system does not say. */
  public double cpuMillis() {
    try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
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

  /** Whether it is still running. */
  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    Files.deleteIfExists(socket);
    Files.deleteIfExists(log);
  }
}
