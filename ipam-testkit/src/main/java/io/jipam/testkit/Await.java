package io.jipam.testkit;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * Waits on a condition, not on the clock: polls it every few milliseconds until it holds and
 * fails with a description of what was awaited when it does not hold within a bound. The bound is
 * a guard against a hang, not a timing assumption; a test never relies on it elapsing.
 */
public final class Await {
  private static final long POLL_MILLIS = 10;

  private Await() {}

  /** A condition that may throw; a throw counts as "not yet" and is reported if the wait fails. */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  /** Returns once {@code condition} holds; an {@link AssertionError} naming {@code what} after {@code timeout}. */
  public static void until(Condition condition, Duration timeout, String what) {
    until(condition, timeout, () -> what);
  }

  /** Like {@link #until(Condition, Duration, String)}; {@code what} is computed only on failure. */
  public static void until(Condition condition, Duration timeout, Supplier<String> what) {
    value(() -> condition.holds() ? Boolean.TRUE : null, timeout, what);
  }

  /**
   * Returns the first non-null value of {@code probe}; an {@link AssertionError} naming {@code what}
   * when there is none within {@code timeout}.
   */
  public static <T> T value(Callable<T> probe, Duration timeout, Supplier<String> what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (true) {
      try {
        T v = probe.call();
        if (v != null) {
          return v;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while waiting for " + what.get(), e);
      } catch (Exception e) {
        last = e;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not within " + timeout.toMillis() + " ms: " + what.get(), last);
      }
      try {
        Thread.sleep(POLL_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while waiting for " + what.get(), e);
      }
    }
  }
}
