package io.jipam.server;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * jipamd as a child JVM on this test's class path: started with the given arguments, ready once
 * it logs "ready" (bounded wait), stopped with SIGTERM (then SIGKILL after a bound). Its stderr
 * goes to a file, which failures print.
 */
final class JipamdProcess implements AutoCloseable {
  final Process process;
  final Path log;

  private JipamdProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  static JipamdProcess start(Path workDir, String... args) throws IOException, InterruptedException {
    return start(workDir, LEAN_JVM, System.getProperty("java.class.path"), List.of(args));
  }

  /** jipamd with these JVM options and class path (this JVM's java). */
  static JipamdProcess start(Path workDir, List<String> jvmOptions, String classPath, List<String> args)
      throws IOException, InterruptedException {
    return start(workDir, command(List.of(), jvmOptions, classPath, args));
  }

  /** jipamd started by {@code sh} under this umask (e.g. "000"), as a careless init script would. */
  static JipamdProcess startUnderUmask(Path workDir, String umask, String... args)
      throws IOException, InterruptedException {
    return start(workDir, command(List.of("sh", "-c", "umask " + umask + " && exec \"$@\"", "sh"), LEAN_JVM,
        System.getProperty("java.class.path"), List.of(args)));
  }

  /** jipamd by this exact command (a launcher script, say). */
  static JipamdProcess startCommand(Path workDir, List<String> command) throws IOException, InterruptedException {
    return start(workDir, command);
  }

  /** What a jipamd that was expected to stop by itself printed, and its exit code. */
  record Finished(int exit, String output) {}

  /** Runs jipamd until it exits by itself (at most 60 s): for starts that must be refused. */
  static Finished runToExit(Path workDir, String... args) throws IOException, InterruptedException {
    Path log = Files.createTempFile(workDir, "jipamd", ".log");
    Process p = new ProcessBuilder(command(List.of(), LEAN_JVM, System.getProperty("java.class.path"), List.of(args)))
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new IllegalStateException("jipamd still running after 60 s:\n" + Files.readString(log));
    }
    return new Finished(p.exitValue(), Files.readString(log));
  }

  private static final List<String> LEAN_JVM = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  private static List<String> command(List<String> prefix, List<String> jvmOptions, String classPath,
      List<String> args) {
    List<String> command = new ArrayList<>(prefix);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(classPath);
    command.add(Jipamd.class.getName());
    command.addAll(args);
    return command;
  }

  private static JipamdProcess start(Path workDir, List<String> command) throws IOException, InterruptedException {
    Path log = Files.createTempFile(workDir, "jipamd", ".log");
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    JipamdProcess j = new JipamdProcess(p, log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (Files.readString(log).contains(" jipamd ready")) {
        return j;
      }
      if (!p.isAlive()) {
        throw new IllegalStateException("jipamd exited with " + p.exitValue() + ":\n" + Files.readString(log));
      }
      Thread.sleep(20);
    }
    p.destroyForcibly();
    throw new IllegalStateException("jipamd not ready within 30 s:\n" + Files.readString(log));
  }

  String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }

  long pid() {
    return process.pid();
  }

  /** SIGKILL (what {@link Process#destroyForcibly} sends on Linux); waits for the exit. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      throw new IllegalStateException("jipamd " + process.pid() + " survived SIGKILL for 20 s");
    }
  }

  /** SIGTERM, wait up to 20 s for the exit code, SIGKILL after that. */
  int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
      throw new IllegalStateException("jipamd ignored SIGTERM for 20 s:\n" + output());
    }
    return process.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      stop();
    }
  }

  static String classPathSeparator() {
    return File.pathSeparator;
  }
}
