package io.jipam.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a process to its end within a time limit, for the packaging tests. */
final class Proc {
  /** What a process printed and how it exited. */
  record Result(List<String> command, int exit, String stdout, String stderr) {
    Result {
      command = List.copyOf(command);
    }

    @Override
    public String toString() {
      return String.join(" ", command) + "\nexit " + exit + "\nstdout: " + stdout + "\nstderr: " + stderr;
    }

    /** This result, after failing with the whole output when the exit was not 0. */
    Result ok() {
      if (exit != 0) {
        throw new AssertionError("failed: " + this);
      }
      return this;
    }
  }

  private Proc() {}

  /**
   * Runs {@code command} with stdin {@code stdin}; with {@code env} null it inherits this JVM's
   * environment, otherwise it gets exactly {@code env}. Kills it and fails after {@code timeout}.
   */
  static Result run(List<String> command, Map<String, String> env, String stdin, Duration timeout) {
    ProcessBuilder builder = new ProcessBuilder(command);
    if (env != null) {
      builder.environment().clear();
      builder.environment().putAll(env);
    }
    try {
      Path out = Files.createTempFile("proc-out", ".txt");
      Path err = Files.createTempFile("proc-err", ".txt");
      try {
        builder.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = builder.start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout
              + "; output so far: " + Files.readString(out) + Files.readString(err));
        }
        return new Result(command, p.exitValue(), Files.readString(out), Files.readString(err));
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

  /** Runs {@code command} in this JVM's environment; fails unless it exits 0 within a minute. */
  static String sh(String... command) {
    return run(List.of(command), null, "", Duration.ofMinutes(1)).ok().stdout();
  }

  static boolean isRoot() {
    return "0".equals(sh("id", "-u").trim());
  }

  /** True when the tests run under CI, where a missing prerequisite is a failure, not a skip. */
  static boolean underCi() {
    return "true".equals(System.getenv("CI"));
  }
}
