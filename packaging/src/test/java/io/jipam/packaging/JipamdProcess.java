package io.jipam.packaging;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The bundle's {@code jipamd} (its own jlink'd runtime, {@code <version>/bin/jipamd}) as a child
 * process, optionally in a network namespace: ready once it logs "jipamd ready" (bounded wait),
 * stopped with SIGTERM (SIGKILL after a bound). Its output goes to a file that failures print.
 */
final class JipamdProcess implements AutoCloseable {
  private final Process process;
  private final Path log;
  final Path socket;

  private JipamdProcess(Process process, Path log, Path socket) {
    this.process = process;
    this.log = log;
    this.socket = socket;
  }

  /**
   * Starts {@code versionDir/bin/jipamd --socket socket} with {@code args}, in {@code netns} when
   * it is not null.
   */
  static JipamdProcess start(Path versionDir, String netns, Path socket, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    if (netns != null) {
      command.addAll(List.of("ip", "netns", "exec", netns));
    }
    command.addAll(List.of(versionDir.resolve("bin/jipamd").toString(), "--socket", socket.toString()));
    command.addAll(List.of(args));
    Path log = Files.createTempFile(socket.getParent(), "jipamd", ".log");
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    JipamdProcess jipamd = new JipamdProcess(p, log, socket);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.readString(log).contains(" jipamd ready")) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new IllegalStateException("jipamd " + (p.isAlive() ? "not ready within 60 s" : "exited with "
            + p.exitValue()) + ":\n" + Files.readString(log));
      }
      Thread.sleep(50);
    }
    return jipamd;
  }

  String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }

  /** SIGTERM; the exit code, or a failure when it is still running after 30 s (then SIGKILL). */
  int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new IllegalStateException("jipamd ignored SIGTERM for 30 s:\n" + output());
    }
    return process.exitValue();
  }

  /** SIGKILL (as a node's OOM killer or a crash would end it), and waits until it is gone. */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      stop();
    }
  }
}
