package io.jipam.ctl;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;


/** jipamctl's question before a change: release and gc ask unless given {@code --yes}. */
final class Prompts {
  private Prompts() {}

  /** Where the answer is read: stdin; a test of this thread's commands sets its own answer. */
  static final ThreadLocal<java.io.InputStream> IN = ThreadLocal.withInitial(() -> System.in);

  /**
   * Asks on stderr (stdout stays the command's output, JSON included) and reads one line from
   * stdin; only {@code y} or {@code yes} is a yes. Closed stdin (a script, cron) is a no, said
   * on stderr.
   */
  static boolean confirm(Jipamctl.Base command, String question) throws IOException {
    command.err().print(question + " [y/N] ");
    command.err().flush();
    String line = new BufferedReader(new InputStreamReader(IN.get(), StandardCharsets.UTF_8)).readLine();
    boolean yes = line != null && (line.trim().equalsIgnoreCase("y") || line.trim().equalsIgnoreCase("yes"));
    if (!yes) {
      command.err().println();
      command.err().println("jipamctl: nothing released" + (line == null ? " (stdin is closed; --yes releases"
          + " without asking)" : ""));
    }
    return yes;
  }
}
