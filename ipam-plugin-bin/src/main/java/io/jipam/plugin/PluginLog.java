package io.jipam.plugin;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

/**
 * Line-oriented log of a plugin call: appended to a file when one is configured, errors also to
 * stderr. Never stdout (the runtime parses it): a configured file that is what stdout is (such as
 * {@code /dev/stdout}, {@code /proc/self/fd/1}, or the file stdout was redirected to) is not
 * written, and stderr says so. A log that cannot be written is ignored: logging must not fail a
 * call.
 */
final class PluginLog {
  private final String file;

  private PluginLog(String file) {
    this.file = file;
  }

  static PluginLog fromEnvironment(Map<String, String> env) {
    return new PluginLog(notStdout(env.get("JIPAM_LOG_FILE")));
  }

  /** The same log, writing to {@code configured} when the environment named no file. */
  PluginLog withFile(String configured) {
    return file != null || configured == null || configured.isEmpty() ? this
        : new PluginLog(notStdout(configured));
  }

  /** The file, or null when it is empty or the same file as stdout. */
  private static String notStdout(String file) {
    if (file == null || file.isEmpty()) {
      return null;
    }
    try {
      if (Files.isSameFile(Path.of(file), STDOUT)) {
        System.err.println("jipam: log file " + file + " is stdout, which carries the result only: not logging to it");
        return null;
      }
    } catch (IOException | RuntimeException e) {
      // missing (it will be created, so it is not stdout), or not a path: append fails quietly
    }
    return file;
  }

  private static final Path STDOUT = Path.of("/proc/self/fd/1");

  void info(String message) {
    append("INFO " + oneLine(message));
  }

  void error(String message, Throwable t) {
    String line = "ERROR " + oneLine(message);
    System.err.println("jipam: " + message);
    if (t != null && !(t instanceof io.jipam.core.IpamException)) {
      StringWriter trace = new StringWriter();
      t.printStackTrace(new PrintWriter(trace));
      line += "\n" + trace;
    }
    append(line);
  }

  /**
   * A message as one line of the log: a line break in a value it quotes (a socket path, a
   * config's text) written as {@code \n} or {@code \r}, so it cannot start a line of its own.
   */
  static String oneLine(String message) {
    return message.replace("\n", "\\n").replace("\r", "\\r");
  }

  private void append(String line) {
    if (file == null) {
      return;
    }
    String stamped = Instant.now() + " pid=" + ProcessHandle.current().pid() + " " + line + "\n";
    try (FileOutputStream out = new FileOutputStream(file, true)) {
      out.write(stamped.getBytes(StandardCharsets.UTF_8));
    } catch (IOException ignored) {
      // logging must not fail the call
    }
  }
}
