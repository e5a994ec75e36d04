package io.jipam.etcd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * The calls of a fault test, each with its start, end and outcome, and what a fault cost as read
 * from them: calls attempted and their errors during the fault, latency percentiles during the
 * fault against the window before it, the longest stretch without a successful call, and the time
 * from healing the fault to the first successful call started after it. Thread-safe recording;
 * the summaries read a snapshot.
 */
final class FaultCosts {
  /** Outcome code of a call that returned a result. */
  static final int OK = 0;
  /** Outcome code of an ADD that returned a refusal (exhausted, taken): not expected here. */
  static final int REFUSED = -1;

  /**
   * One store call: nanoTime at invocation and response; {@link #OK}, {@link #REFUSED} or a CNI
   * code, and the error's message (null when it succeeded).
   */
  record Call(String kind, long start, long end, int code, String message) {
    long millis() {
      return TimeUnit.NANOSECONDS.toMillis(end - start);
    }
  }

  /**
   * One injected fault: when it was injected, when it was healed (member restarted or resumed),
   * when every member answered healthy again (all nanoTime). Its window runs from injection to
   * {@code windowNanos} after all were healthy; the window before it is as long.
   */
  record Fault(String name, long windowNanos, long injected, long healed, long healthy) {
    /** A call of the fault's window: in flight at some instant of it (so one caught by the injection counts). */
    boolean inWindow(Call c) {
      return c.end >= injected && c.start < healthy + windowNanos;
    }
  }

  /** What one fault cost; times in milliseconds. */
  record Cost(String fault, int attempted, int ok, Map<Integer, Integer> errors, int errorsAfterHealthy,
      long p50Before, long p99Before, long p50During, long p99During, long maxErrorMillis, long longestGap,
      long recover, long healthyAfter) {
    String row() {
      StringBuilder codes = new StringBuilder();
      errors.forEach((code, n) -> codes.append(codes.length() == 0 ? "" : ", ")
          .append(n).append(" × ").append(code == REFUSED ? "refused" : "code " + code));
      return "| " + fault + " | " + attempted + " | " + ok + " | " + (codes.length() == 0 ? "0" : codes)
          + " | " + errorsAfterHealthy + " | " + (maxErrorMillis == 0 ? "-" : Long.toString(maxErrorMillis)) + " | " + p50Before + " / " + p99Before + " | " + p50During + " / " + p99During
          + " | " + longestGap + " | " + recover + " | " + healthyAfter + " |";
    }

    static String header() {
      return "| fault | calls | ok | errors | of which started after all were healthy | slowest failure (ms) | latency p50 / p99 before (ms) | p50 / p99 during (ms)"
          + " | longest without a success (ms) | heal → first success (ms) | heal → all healthy (ms) |\n"
          + "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|";
    }
  }

  private final ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();

  void record(String kind, long start, long end, int code) {
    calls.add(new Call(kind, start, end, code, null));
  }

  void failed(String kind, long start, long end, io.jipam.core.IpamException e) {
    calls.add(new Call(kind, start, end, e.code().cniCode(), e.getMessage()));
  }

  List<Call> snapshot() {
    return List.copyOf(calls);
  }

  /**
   * The cost of {@code f}: "before" is the calls made in the window before injection (answered
   * before it), "during" those in flight at some instant of the fault's window (from injection to a
   * window after every member was healthy again).
   */
  Cost cost(Fault f) {
    List<Call> all = snapshot();
    List<Long> before = new ArrayList<>();
    List<Long> during = new ArrayList<>();
    Map<Integer, Integer> errors = new TreeMap<>();
    int ok = 0;
    int afterHealthy = 0;
    long maxError = 0;
    List<Long> successEnds = new ArrayList<>();
    long firstAfterHeal = Long.MAX_VALUE;
    for (Call c : all) {
      if (c.start >= f.injected - f.windowNanos && c.end < f.injected) {
        before.add(c.millis());
      } else if (f.inWindow(c)) {
        during.add(c.millis());
        if (c.code == OK) {
          ok++;
        } else {
          errors.merge(c.code, 1, Integer::sum);
          afterHealthy += c.start >= f.healthy ? 1 : 0;
          maxError = Math.max(maxError, c.millis());
        }
      }
      if (c.code == OK && c.end >= f.injected && c.start < f.healthy + f.windowNanos) {
        successEnds.add(c.end);
      }
      if (c.code == OK && c.start >= f.healed) {
        firstAfterHeal = Math.min(firstAfterHeal, c.end);
      }
    }
    successEnds.sort(null);
    long gap = 0;
    long last = f.injected;
    for (long end : successEnds) {
      gap = Math.max(gap, end - last);
      last = end;
    }
    gap = Math.max(gap, Math.max(0, f.healthy - last));
    return new Cost(f.name, during.size(), ok, errors, afterHealthy, percentile(before, 50), percentile(before, 99),
        percentile(during, 50), percentile(during, 99), maxError, ms(gap),
        firstAfterHeal == Long.MAX_VALUE ? -1 : ms(firstAfterHeal - f.healed), ms(f.healthy - f.healed));
  }

  /** Failed calls in flight at no instant of any fault's window. */
  List<Call> failedOutside(List<Fault> faults) {
    return snapshot().stream().filter(c -> c.code != OK)
        .filter(c -> faults.stream().noneMatch(f -> f.inWindow(c)))
        .toList();
  }

  /** Calls started at or after {@code from} and answered before {@code to} (nanoTime). */
  List<Call> within(long from, long to) {
    return snapshot().stream().filter(c -> c.start >= from && c.end < to).toList();
  }

  static long percentile(List<Long> values, int p) {
    if (values.isEmpty()) {
      return -1;
    }
    List<Long> sorted = new ArrayList<>(values);
    sorted.sort(null);
    int at = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, at)));
  }

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }
}
