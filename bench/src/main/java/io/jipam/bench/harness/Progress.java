package io.jipam.bench.harness;

import java.io.Console;
import java.io.PrintStream;
import java.lang.reflect.Method;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What the user sees while a run goes on: one bar per scenario with the step being measured and
 * an estimate of the time left (drawn by {@code me.tongfei:progressbar} on standard error), or
 * nothing at all when standard error is not a terminal or the user asked for quiet.
 *
 * <p>Not thread-safe: the scenario's measuring thread drives it.
 */
public interface Progress extends AutoCloseable {
  /** Starts a bar for {@code scenario} with {@code steps} steps; closes any bar before it. */
  void start(String scenario, long steps);

  /** Names the step now being measured. */
  void step(String message);

  /** Counts {@code n} steps done. */
  void advance(long n);

  /** Ends the current bar. */
  @Override
  void close();

  /** A progress display that shows nothing. */
  static Progress silent() {
    return new Progress() {
      @Override
      public void start(String scenario, long steps) {}

      @Override
      public void step(String message) {}

      @Override
      public void advance(long n) {}

      @Override
      public void close() {}
    };
  }

  /** A bar on {@code out}. */
  static Progress bar(PrintStream out) {
    return new Bar(out);
  }

  /**
   * Whether this process talks to a terminal: {@link System#console()} is null when it does not on
   * JDK 17 to 21; from JDK 22 it is a console even when redirected and {@code isTerminal()} tells.
   */
  static boolean onTerminal() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      Method isTerminal = Console.class.getMethod("isTerminal");
      return (Boolean) isTerminal.invoke(console);
    } catch (NoSuchMethodException beforeJdk22) {
      return true;
    } catch (ReflectiveOperationException e) {
      return false;
    }
  }

  /** The tongfei progress bar. */
  final class Bar implements Progress {
    private final PrintStream out;
    private ProgressBar bar;

    Bar(PrintStream out) {
      this.out = out;
    }

    @Override
    public void start(String scenario, long steps) {
      close();
      // the default ETA: time so far scaled by the steps left
      bar = new ProgressBarBuilder().setTaskName(scenario).setInitialMax(Math.max(1, steps))
          .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUpdateIntervalMillis(250)
          .setConsumer(new ConsoleProgressBarConsumer(out, 120)).build();
    }

    @Override
    public void step(String message) {
      if (bar != null) {
        bar.setExtraMessage(message);
      }
    }

    @Override
    public void advance(long n) {
      if (bar != null) {
        bar.stepBy(n);
      }
    }

    @Override
    public void close() {
      if (bar != null) {
        bar.close();
        bar = null;
      }
    }
  }
}
