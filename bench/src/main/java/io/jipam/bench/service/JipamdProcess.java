package io.jipam.bench.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One jipamd as a real process, serving one store on a unix socket: launched by {@link #launch},
 * usable once {@link #awaitReady} has seen its {@code jipamd ready} line, stopped by {@link
 * #close} with SIGTERM (SIGKILL after 20 s). Its standard error goes to a log file next to the
 * socket, which failures quote. A JVM shutdown hook kills it if the harness is stopped first.
 *
 * <p>Not thread-safe: one owner launches, uses and closes it.
 */
final class JipamdProcess implements AutoCloseable {
  private final String store;
  private final Process process;
  private final Path socket;
  private final Path log;
  private final Thread hook;

  private JipamdProcess(String store, Process process, Path socket, Path log) {
    this.store = store;
    this.process = process;
    this.socket = socket;
    this.log = log;
    this.hook = new Thread(process::destroyForcibly, "jipamd-kill-" + store);
  }

  /**
   * Starts jipamd with {@code --socket <dir>/<store>.sock} and {@code storeArgs}. {@code launcher}
   * is a jipamd launcher ({@code dist/bin/jipamd}), or null to run {@code io.jipam.server.Jipamd}
   * on this JVM with this JVM's class path and the launcher's logging flags. {@code jvmFlags} go to
   * jipamd's JVM (through {@code JIPAMD_JAVA_OPTS} for a launcher). The launcher {@code exec}s its
   * JVM, so the process's id is jipamd's own.
   */
  static JipamdProcess launch(Path launcher, Path dir, String store, List<String> storeArgs, List<String> jvmFlags)
      throws IOException {
    Path socket = dir.resolve(store + ".sock");
    Path log = dir.resolve("jipamd-" + store + ".log");
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
    command.addAll(storeArgs);
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    if (launcher != null && !jvmFlags.isEmpty()) {
      String opts = pb.environment().getOrDefault("JIPAMD_JAVA_OPTS", "");
      pb.environment().put("JIPAMD_JAVA_OPTS", (opts + " " + String.join(" ", jvmFlags)).trim());
    }
    Process p = pb.start();
    JipamdProcess j = new JipamdProcess(store, p, socket, log);
    Runtime.getRuntime().addShutdownHook(j.hook);
    return j;
  }

  /** Waits (at most 60 s) for the ready line; on failure kills the process and quotes its log. */
  void awaitReady() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (Files.readString(log).contains(" jipamd ready")) {
        return;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException("jipamd (" + store + " store) exited with " + process.exitValue() + ": "
            + tail());
      }
      Thread.sleep(20);
    }
    process.destroyForcibly();
    throw new IllegalStateException("jipamd (" + store + " store) not ready within 60 s: " + tail());
  }

  private String tail() {
    try {
      String text = Files.readString(log);
      return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** {@code unix:<socket>}, for {@code RemoteStore.Target.parse}. */
  String target() {
    return "unix:" + socket;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or has run
    }
  }
}
