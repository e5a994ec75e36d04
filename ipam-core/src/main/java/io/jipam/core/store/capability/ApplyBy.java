package io.jipam.core.store.capability;

import java.util.function.Supplier;

/**
 * The time a call's caller gives it to apply by, if at all: a server runs a store call {@link
 * #within} the time its request carries, and a store whose call can go on trying for a while (etcd:
 * retries and a commit queue, up to its own timeout) stops trying at that time ({@link #bound}).
 *
 * <h2>Why</h2>
 * A caller that gave up on a call (a node's jipamd, after its timeout) answers the runtime, which
 * goes on: a DEL after a failed ADD, a new ADD after a DEL. Those go through another connection or
 * another central replica. Were the first call still to apply after that, an ADD would hold an
 * address for an attachment the runtime has deleted (leaked), and a DEL would free the address of
 * an attachment ADDed since (two pods on it). The caller therefore says when it gives up, less a
 * margin for the two clocks' difference, on its own clock, and nothing of the call starts or
 * retries after it. A transaction already sent by then is the store's to bound (etcd's DEL
 * markers and ticket leases: it applies before a later DEL, or not at all).
 *
 * <p>Thread-confined: the time is the calling thread's while {@link #within} runs.
 */
public final class ApplyBy {
  private static final ThreadLocal<Long> BY = new ThreadLocal<>();

  private ApplyBy() {}

  /**
   * Runs {@code call} on this thread with {@code unixMillis} as its apply-by time (0: none; the
   * call then runs as it would without this).
   */
  public static <T> T within(long unixMillis, Supplier<T> call) {
    if (unixMillis == 0) {
      return call.get();
    }
    Long before = BY.get();
    BY.set(unixMillis);
    try {
      return call.get();
    } finally {
      if (before == null) {
        BY.remove();
      } else {
        BY.set(before);
      }
    }
  }

  /**
   * A store call's deadline on its own clock: {@code now + timeout}, or earlier when the calling
   * thread runs {@link #within} an apply-by time that comes sooner (at once when it has passed).
   *
   * @param nowNanos the store's clock now
   * @param timeoutNanos the store's own bound on a call
   * @param wallMillis the wall clock now, in milliseconds since the epoch
   */
  public static long bound(long nowNanos, long timeoutNanos, long wallMillis) {
    Long by = BY.get();
    if (by == null) {
      return nowNanos + timeoutNanos;
    }
    long leftMillis = Math.max(0, by - wallMillis);
    return nowNanos + Math.min(timeoutNanos, leftMillis >= Long.MAX_VALUE / 1_000_000 ? timeoutNanos
        : leftMillis * 1_000_000);
  }

  /** The calling thread's apply-by time (milliseconds since the epoch), 0 when none: to pass it on. */
  public static long current() {
    Long by = BY.get();
    return by == null ? 0 : by;
  }

  /**
   * How many milliseconds past {@code unixMillis} the wall clock {@code wallMillis} is; 0 or less when
   * not past it or when none was given (0).
   */
  public static long lateBy(long unixMillis, long wallMillis) {
    return unixMillis == 0 ? 0 : wallMillis - unixMillis;
  }
}
