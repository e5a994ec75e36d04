package io.jipam.plugin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The built {@code dist/bin/jipamd} with the file store as a child process, for the daemon-mode
 * tests: ready once it logs "jipamd ready" (bounded wait), stopped with SIGTERM (SIGKILL after a
 * bound) or killed. Its output goes to a file that failures print.
 */
final class JipamdProcess implements AutoCloseable {
  static final Path JIPAMD = CniExec.DIST.resolve("bin/jipamd");

  private final Process process;
  private final Path log;
  final Path socket;

  private JipamdProcess(Process process, Path log, Path socket) {
    this.process = process;
    this.log = log;
    this.socket = socket;
  }

  /** Starts jipamd on {@code socket} with the file store in {@code dataDir}, plus {@code args}. */
  static JipamdProcess start(Path socket, Path dataDir, String... args) throws IOException, InterruptedException {
    if (!Files.isExecutable(JIPAMD)) {
      throw new IllegalStateException(JIPAMD + " is missing: the reactor builds ipam-server (which puts jipamd"
          + " into dist) before this module; build both");
    }
    List<String> command = new ArrayList<>(List.of(JIPAMD.toString(), "--socket", socket.toString(), "--store",
        "file", "--data-dir", dataDir.toString()));
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
      Thread.sleep(20);
    }
    return jipamd;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }

  /** SIGKILL, and waits until it is gone. */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
