package io.jipam.server;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.OptionSpec;

/**
 * jipamd's settings parser, reached from the packaging module's documentation test
 * ({@code ConfigurationDocTest}).
 */
public final class JipamdConfigProbe {
  private JipamdConfigProbe() {}

  /** What {@code jipamd ARGS} printed and its exit code. */
  public record Run(int exit, String out, String err) {}

  /** One jipamd option: its longest name, its built-in default (null: none), its label. */
  public record Option(String name, String defaultValue, String label, boolean isBoolean) {}

  /** Runs jipamd's main logic in this JVM with {@code env} as its environment. */
  public static Run run(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Jipamd.run(args, env, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(exit, out.toString(), err.toString());
  }

  /** Every option jipamd's command line knows. */
  public static List<Option> options() {
    List<Option> options = new ArrayList<>();
    for (OptionSpec o : Jipamd.commandLine().getCommandSpec().options()) {
      options.add(new Option(o.longestName(), o.defaultValue(), o.paramLabel(), o.arity().max() == 0));
    }
    return options;
  }

  /** The environment variable that sets the option of config key {@code key}. */
  public static String environmentName(String key) {
    return ConfigFile.envName(key);
  }
}
