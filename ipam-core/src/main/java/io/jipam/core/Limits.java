package io.jipam.core;

/**
 * The one set of limits that bounds the work of a call, the same at every entry point: the
 * plugin's network config, jipamd's CNI endpoint (the same parser), and the pool of every gRPC
 * request. The value types enforce them at construction ({@code Pool}, {@code RangeSet},
 * {@code IpRange}), so nothing beyond them reaches a store; parsers check the counts earlier, before
 * building anything. Beyond a limit: {@code INVALID_CONFIG} naming the count and the limit.
 */
public final class Limits {
  /** Range sets in one pool. */
  public static final int MAX_RANGE_SETS = 64;
  /** Ranges in one range set. */
  public static final int MAX_RANGES_PER_SET = 1024;
  /** Exclude entries of one range (in a network config: its own plus the top-level ones). */
  public static final int MAX_EXCLUDES = 1024;
  /** Routes in a network config. */
  public static final int MAX_ROUTES = 1024;
  /**
   * Addresses one call may request in each of its lists ({@code runtimeConfig.ips}, {@code
   * args.cni.ips}, {@code CNI_ARGS} {@code IP=}): a call gets one address per range set at most.
   */
  public static final int MAX_REQUESTED_IPS = MAX_RANGE_SETS;

  /** Reservations one pool may have ({@code jipamctl reserve}), in every store. */
  public static final int MAX_RESERVATIONS = 10_000;

  private Limits() {}

  /**
   * Nothing when {@code count <= max}.
   *
   * @throws IpamException {@code INVALID_CONFIG}: "{@code where} has {@code count} {@code what};
   *     jipam allows at most {@code max}"
   */
  public static void check(String where, String what, int count, int max) {
    if (count > max) {
      throw IpamException.invalidConfig("%s has %d %s; jipam allows at most %d", where, count, what, max);
    }
  }
}
