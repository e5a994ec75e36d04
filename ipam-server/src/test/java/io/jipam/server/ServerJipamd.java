package io.jipam.server;

import io.jipam.testkit.ClassArchive;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Commands for jipamd as a child JVM on this test's class path ({@link Jipamd}, lean JVM
 * options, and the classes of an earlier clean run from a {@link ClassArchive}: these tests start
 * jipamd well over a hundred times), run by the testkit's {@link JipamdProcess}: ready once it
 * logs "ready", stopped with SIGTERM (SIGKILL after a bound), its output in a log file of the
 * test's dir.
 */
final class ServerJipamd {
  private ServerJipamd() {}

  static JipamdProcess start(Path workDir, String... args) throws IOException {
    return JipamdProcess.start(workDir, JipamdProcess.archivedJvm(JipamdProcess.LEAN_JVM, Jipamd.class.getName(),
        List.of(args)));
  }

  /** jipamd with these JVM options and class path (this JVM's java). */
  static JipamdProcess start(Path workDir, List<String> jvmOptions, String classPath, List<String> args)
      throws IOException {
    return JipamdProcess.start(workDir, JipamdProcess.jvm(jvmOptions, classPath, Jipamd.class.getName(), args));
  }

  /** jipamd started by {@code sh} under this umask (e.g. "000"), as a careless init script would. */
  static JipamdProcess startUnderUmask(Path workDir, String umask, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("sh", "-c", "umask " + umask + " && exec \"$@\"", "sh"));
    command.addAll(JipamdProcess.archivedJvm(JipamdProcess.LEAN_JVM, Jipamd.class.getName(), List.of(args)));
    return JipamdProcess.start(workDir, command);
  }

  /** jipamd by this exact command (a launcher script, say). */
  static JipamdProcess startCommand(Path workDir, List<String> command) throws IOException {
    return JipamdProcess.start(workDir, command);
  }

  /** Runs jipamd until it exits by itself (at most 60 s): for starts that must be refused. */
  static JipamdProcess.Finished runToExit(Path workDir, String... args) {
    return JipamdProcess.runToExit(JipamdProcess.sharingJvm(JipamdProcess.LEAN_JVM, Jipamd.class.getName(),
        List.of(args)));
  }
}
