package io.jipam.core.store.spi;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of the claim events an operator watches, per pool, for this process: holds refused
 * because a range set's bound ({@code sticky.maxHeldPercent}) was reached. {@link PoolState}
 * counts where it decides, so a store that retries a transaction (etcd) may count one release
 * again; jipamd exposes the counts as {@code jipamd_hold_refusals_total}. Thread-safe; bounded by
 * the pools the process serves.
 */
public final class ClaimEvents {
  private static final ConcurrentHashMap<String, LongAdder> HOLD_REFUSALS = new ConcurrentHashMap<>();

  private ClaimEvents() {}

  /** One hold of the pool refused at its bound. */
  static void holdRefused(String pool) {
    HOLD_REFUSALS.computeIfAbsent(pool, k -> new LongAdder()).increment();
  }

  /** Refused holds so far, by pool name (pools without any are absent). */
  public static Map<String, Long> holdRefusals() {
    Map<String, Long> out = new TreeMap<>();
    HOLD_REFUSALS.forEach((pool, n) -> out.put(pool, n.sum()));
    return out;
  }
}
