package io.jipam.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * jipamd as a child process, however it is launched: a JVM on a class path ({@link #jvm}), the
 * built {@code dist/bin/jipamd} or a bundle's launcher ({@link #launcher}), optionally under a
 * prefix such as {@code ip netns exec NS} or a shell that sets a umask. Ready once it logs "jipamd
 * ready" (bounded wait); stopped with SIGTERM (SIGKILL after a bound) or killed. Its output goes to
 * a log file in the caller's directory, which failures print. Not thread-safe.
 */
public final class JipamdProcess implements AutoCloseable {
  private static final String READY = " jipamd ready";
  private static final Duration START_BOUND = Duration.ofSeconds(60);
  private static final Duration STOP_BOUND = Duration.ofSeconds(30);
  private static final Pattern TCP = Pattern.compile("serving store \\S+.* on 127\\.0\\.0\\.1:(\\d+)");
  /** JVM options for a jipamd under test: small and quick to start. */
  public static final List<String> LEAN_JVM = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  private final Process process;
  private final Path log;

  private JipamdProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
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
    Path log = Files.createTempFile(logDir, "jipamd", ".log");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().putAll(env);
    JipamdProcess j = new JipamdProcess(builder.start(), log);
    try {
      Await.until(() -> {
        if (!j.process.isAlive()) {
          throw new IllegalStateException("exited with " + j.process.exitValue());
        }
        return j.output().contains(READY);
      }, START_BOUND, () -> "jipamd ready (" + String.join(" ", command) + "):\n" + j.output());
    } catch (AssertionError | RuntimeException e) {
      j.process.destroyForcibly();
      throw e;
    }
    return j;
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
  }

  /** SIGTERM; its exit code, or a failure when it is still running after the bound (then SIGKILL). */
  public int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(STOP_BOUND.toSeconds(), TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new IllegalStateException("jipamd ignored SIGTERM for " + STOP_BOUND + ":\n" + output());
    }
    return process.exitValue();
  }

  /** Stops it ({@link #stop}) when it still runs. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      stop();
    }
  }
}
