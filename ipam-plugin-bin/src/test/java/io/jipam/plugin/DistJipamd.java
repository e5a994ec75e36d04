package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built {@code dist/bin/jipamd} as a child process: started with arguments and extra
 * environment, ready once it logs "jipamd ready" (bounded wait), its TCP port read from its log,
 * stopped with SIGTERM (SIGKILL after a bound). Its output goes to a file in the test's dir.
 */
final class DistJipamd implements AutoCloseable {
  static final Path JIPAMD = CniExec.DIST.resolve("bin/jipamd");
  static final Path JIPAMCTL = CniExec.DIST.resolve("bin/jipamctl");
  private static final Pattern TCP = Pattern.compile("serving store \\S+.* on 127\\.0\\.0\\.1:(\\d+)");

  final Process process;
  final Path log;

  private DistJipamd(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  static DistJipamd start(Path dir, Map<String, String> env, String... args) throws IOException, InterruptedException {
    assertTrue(Files.isExecutable(JIPAMD), JIPAMD + " is missing: build ipam-server (it puts jipamd into dist)");
    List<String> command = new ArrayList<>(List.of(JIPAMD.toString()));
    command.addAll(List.of(args));
    Path log = Files.createTempFile(dir, "jipamd", ".log");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().putAll(env);
    DistJipamd j = new DistJipamd(builder.start(), log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!j.output().contains(" jipamd ready")) {
      if (!j.process.isAlive() || System.nanoTime() > deadline) {
        j.close();
        throw new IllegalStateException("jipamd not ready (" + String.join(" ", args) + "):\n" + j.output());
      }
      Thread.sleep(20);
    }
    return j;
  }

  /** The TCP port it logged it serves on. */
  int tcpPort() {
    Matcher m = TCP.matcher(output());
    assertTrue(m.find(), "no TCP port in jipamd's log:\n" + output());
    return Integer.parseInt(m.group(1));
  }

  String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** SIGTERM, then SIGKILL when it has not exited within 30 s. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    }
  }

  /** Runs dist/bin/jipamctl with the arguments: its exit code, stdout and stderr. */
  static CniExec.Result jipamctl(Path dir, String... args) {
    try {
      List<String> command = new ArrayList<>(List.of(JIPAMCTL.toString()));
      command.addAll(List.of(args));
      Path out = Files.createTempFile(dir, "ctl", ".out");
      Path err = Files.createTempFile(dir, "ctl", ".err");
      Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      p.getOutputStream().close();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("jipamctl did not finish within 120 s");
      }
      return new CniExec.Result(p.exitValue(), Files.readString(out), Files.readString(err));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
