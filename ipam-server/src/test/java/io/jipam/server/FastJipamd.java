package io.jipam.server;

import io.jipam.testkit.JipamdProcess;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts jipamd child processes quickly, for tests that start it many times. The JVM is lean: serial
 * GC, C1 only, and the classes of a first run in a dynamic CDS archive (the JVM maps them instead
 * of parsing jars), which about halves the start.
 *
 * <p>The archive is written by the first {@link #start}: a jipamd started with
 * {@code -XX:ArchiveClassesAtExit} that the caller drives and then stops with SIGTERM (the JVM
 * writes the archive at a clean exit, never at SIGKILL). CDS cannot archive classes loaded from a
 * directory, so the child's class path is this JVM's without its directories (jipamd needs no test
 * classes); when that leaves jipamd's own classes out (a run from {@code target/classes} instead of
 * the packaged jar), the child gets the whole class path and no archive. {@link #usesArchive}
 * says which.
 */
final class FastJipamd {
  private final Path workDir;
  private final String classPath;
  private final Path archive;
  private final List<String> extraOptions;
  private boolean trained;

  private FastJipamd(Path workDir, String classPath, Path archive, List<String> extraOptions) {
    this.workDir = workDir;
    this.classPath = classPath;
    this.archive = archive;
    this.extraOptions = extraOptions;
  }

  /** A launcher keeping its logs and archive in {@code workDir}; extra JVM options go to every start. */
  static FastJipamd in(Path workDir, String... extraJvmOptions) {
    List<String> jars = new ArrayList<>();
    boolean directories = false;
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (entry.isEmpty()) {
        continue;
      }
      if (Files.isDirectory(Path.of(entry))) {
        directories = true;
      } else {
        jars.add(entry);
      }
    }
    boolean jarsHoldJipamd = jars.stream().anyMatch(j -> Path.of(j).getFileName().toString().startsWith("ipam-server"));
    if (directories && !jarsHoldJipamd) {
      return new FastJipamd(workDir, System.getProperty("java.class.path"), null, List.of(extraJvmOptions));
    }
    return new FastJipamd(workDir, String.join(File.pathSeparator, jars), workDir.resolve("jipamd.jsa"),
        List.of(extraJvmOptions));
  }

  boolean usesArchive() {
    return archive != null && Files.isRegularFile(archive);
  }

  /** What a test's figures line says about the child JVM. */
  String describe() {
    return "child JVM -XX:+UseSerialGC -XX:TieredStopAtLevel=1" + (usesArchive() ? " + dynamic CDS archive" : " (no CDS)")
        + (extraOptions.isEmpty() ? "" : " " + String.join(" ", extraOptions));
  }

  /**
   * Starts jipamd; the first start of a launcher that can archive records its classes, written
   * when the caller {@linkplain JipamdProcess#stop stops} it with SIGTERM.
   */
  JipamdProcess start(List<String> args) throws IOException, InterruptedException {
    List<String> jvm = new ArrayList<>(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Xlog:disable", "-Xlog:all=warning:stderr"));
    if (archive != null && !trained) {
      trained = true;
      jvm.add("-XX:ArchiveClassesAtExit=" + archive);
    } else if (usesArchive()) {
      jvm.add("-XX:SharedArchiveFile=" + archive);
    }
    jvm.addAll(extraOptions);
    return ServerJipamd.start(workDir, jvm, classPath, args);
  }
}
