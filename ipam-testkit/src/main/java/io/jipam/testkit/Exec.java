package io.jipam.testkit;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a process to its end within a bound: a CNI plugin as a runtime runs it (exactly the given
 * environment, raw bytes on stdin), or any tool. Output goes through temporary files, so a process
 * that writes much cannot block on a full pipe. Stateless and thread-safe.
 */
public final class Exec {
  /** The PATH a runtime gives plugins: {@link #cni} adds it to the environment unless it names one. */
  public static final String PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

  private Exec() {}

  /** What a process printed and how it exited. */
  public record Result(List<String> command, int exit, String stdout, String stderr) {
    public Result {
      command = List.copyOf(command);
    }

    /** This result, after failing with the whole output when the exit was not 0. */
    public Result ok() {
      if (exit != 0) {
        throw new AssertionError("failed: " + this);
      }
      return this;
    }

    @Override
    public String toString() {
      return String.join(" ", command) + "\nexit " + exit + "\nstdout: " + stdout + "\nstderr: " + stderr;
    }
  }

  /**
   * Runs {@code command} in {@code dir} (null: this JVM's) with {@code stdin}; with {@code env} null
   * it inherits this JVM's environment, otherwise it gets exactly {@code env}. A process that ends
   * without reading all of stdin is normal (its answer is what counts). Kills it and its descendants
   * and fails with its output so far after {@code timeout}.
   */
  public static Result run(Path dir, List<String> command, Map<String, String> env, byte[] stdin, Duration timeout) {
    ProcessBuilder builder = new ProcessBuilder(command);
    if (dir != null) {
      builder.directory(dir.toFile());
    }
    if (env != null) {
      builder.environment().clear();
      builder.environment().putAll(env);
    }
    try {
      Path out = Files.createTempFile("jipam-exec-out", ".txt");
      Path err = Files.createTempFile("jipam-exec-err", ".txt");
      try {
        Process p = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
          p.getOutputStream().write(stdin);
          p.getOutputStream().close();
        } catch (IOException e) {
          // the process ended or stopped reading before all of stdin: its answer is what counts
        }
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout
              + "; output so far: " + Files.readString(out) + Files.readString(err));
        }
        return new Result(command, p.exitValue(), read(out), read(err));
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** {@link #run(Path, List, Map, byte[], Duration)} in this JVM's directory with UTF-8 text on stdin. */
  public static Result run(List<String> command, Map<String, String> env, String stdin, Duration timeout) {
    return run(null, command, env, stdin.getBytes(StandardCharsets.UTF_8), timeout);
  }

  /**
   * Runs a CNI plugin as a runtime does: {@code prefix... plugin} (a prefix such as {@code ip netns
   * exec NS}) with exactly {@code env}, plus {@link #PATH} when {@code env} has no PATH, and the raw
   * {@code stdin}; at most two minutes.
   */
  public static Result cni(List<String> prefix, Path plugin, Map<String, String> env, byte[] stdin) {
    List<String> command = new ArrayList<>(prefix);
    command.add(plugin.toString());
    Map<String, String> exact = new java.util.HashMap<>(env);
    exact.putIfAbsent("PATH", PATH);
    return run(null, command, exact, stdin, Duration.ofMinutes(2));
  }

  /** Runs {@code command} in this JVM's environment; its stdout, or a failure unless it exits 0 within a minute. */
  public static String sh(String... command) {
    return run(List.of(command), null, "", Duration.ofMinutes(1)).ok().stdout();
  }

  /** Whether this JVM runs as root (the network-namespace and containerd tests need it). */
  public static boolean isRoot() {
    return "0".equals(sh("id", "-u").trim());
  }

  /** True when the tests run under CI, where a missing prerequisite is a failure, not a skip. */
  public static boolean underCi() {
    return "true".equals(System.getenv("CI"));
  }

  /** The first executable {@code name} on PATH, then in {@code fallbacks}; null when there is none. */
  public static Path which(String name, String... fallbacks) {
    String path = System.getenv("PATH");
    List<String> dirs = new ArrayList<>(List.of((path == null ? "" : path).split(File.pathSeparator)));
    dirs.addAll(List.of(fallbacks));
    for (String d : dirs) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
        return Path.of(d, name);
      }
    }
    return null;
  }

  private static String read(Path file) throws IOException {
    return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
  }
}
