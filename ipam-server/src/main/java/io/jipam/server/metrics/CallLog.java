package io.jipam.server.metrics;

import io.jipam.core.store.Printable;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.AllocationsResponse;
import io.jipam.api.v1.FindRequest;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.api.v1.UsageRequest;
import java.io.PrintStream;
import java.time.Instant;

/**
 * One line per call on stderr: time, method, pool, attachment, outcome, duration. {@code quiet}
 * logs nothing but start-up and failures of jipamd itself. Every line is kept on its line and
 * bounded ({@link #printable}): requests carry clients' values. Thread-safe (PrintStream locks).
 */
public final class CallLog {
  private final PrintStream out;
  private final boolean calls;

  public CallLog(PrintStream out, boolean calls) {
    this.out = out;
    this.calls = calls;
  }

  public static CallLog quiet() {
    return new CallLog(System.err, false);
  }

  /** The most characters of one log line; a longer one is cut, its length said. */
  static final int MAX_LINE = 4096;

  public void info(String message) {
    out.println(printable(Instant.now() + " jipamd " + message));
  }

  /**
   * {@code line} kept on one line (control characters escaped: no forged lines, no terminal
   * escapes from a client's values) and at most {@link #MAX_LINE} characters.
   */
  static String printable(String line) {
    String shown = line.length() > MAX_LINE ? line.substring(0, MAX_LINE) + "... (" + line.length() + " characters)"
        : line;
    return Printable.line(shown);
  }

  public void call(String method, Object request, String outcome, long startNanos) {
    call(method, request, outcome, startNanos, 0);
  }

  /**
   * A call's line; {@code answeredNanos} (0: not given) is when its answer was ready, before it was
   * written: logged as {@code answer_us} beside {@code duration_us} (to the answer written and the
   * connection closed). On the unix socket the two differ by more than the two system calls: the
   * client, woken by them, often runs first on jipamd's core (docs/benchmarks-shim.md, session 26).
   */
  public void call(String method, Object request, String outcome, long startNanos, long answeredNanos) {
    if (!calls) {
      return;
    }
    long micros = (System.nanoTime() - startNanos) / 1000;
    // the CNI endpoint passes its own "COMMAND pool=... attachment=... outcome=..." as the outcome
    String rest = request == null && method.equals("CNI") ? "/" + outcome : target(request) + " outcome=" + outcome;
    String answered = answeredNanos == 0 ? "" : " answer_us=" + (answeredNanos - startNanos) / 1000;
    out.println(printable(Instant.now() + " call method=" + method + rest + answered + " duration_us=" + micros));
  }

  /**
   * Why an ADD's attachment got its addresses, for the call line: {@code " origin=sticky"} (one per
   * range set, comma-separated: {@code " origin=reserved,free"}); empty when there are none.
   */
  public static String origins(java.util.List<io.jipam.core.store.AllocationOrigin> origins) {
    if (origins.isEmpty()) {
      return "";
    }
    StringBuilder out = new StringBuilder(" origin=");
    for (int i = 0; i < origins.size(); i++) {
      out.append(i == 0 ? "" : ",").append(origins.get(i).label());
    }
    return out.toString();
  }

  public static String outcome(Object response) {
    if (response instanceof AllocateResponse r) {
      return r.getOutcomeCase().name().toLowerCase(java.util.Locale.ROOT)
          + (r.hasAllocated() && r.getAllocated().getExisting() ? "(existing)" : "")
          + (r.hasAllocated() ? origins(io.jipam.api.ClaimWire.origins(r.getAllocated())) : "");
    }
    if (response instanceof AllocationsResponse r) {
      return "ok allocations=" + r.getAllocationsCount();
    }
    return "ok";
  }

  private static String target(Object request) {
    if (request instanceof AllocateRequest r) {
      return " pool=" + r.getPool().getName() + " attachment=" + r.getAttachment().getContainerId() + "/"
          + r.getAttachment().getIfname();
    }
    if (request instanceof ReleaseRequest r) {
      return " pool=" + r.getPool().getName() + " attachment=" + r.getAttachment().getContainerId() + "/"
          + r.getAttachment().getIfname();
    }
    if (request instanceof FindRequest r) {
      return " pool=" + r.getPool().getName() + " attachment=" + r.getAttachment().getContainerId() + "/"
          + r.getAttachment().getIfname();
    }
    if (request instanceof ListRequest r) {
      return " pool=" + r.getPool().getName();
    }
    if (request instanceof RetainOnlyRequest r) {
      return " pool=" + r.getPool().getName() + " valid=" + r.getValidCount();
    }
    if (request instanceof UsageRequest r) {
      return " pool=" + r.getPool().getName();
    }
    if (request instanceof io.jipam.api.v1.ReserveRequest r) {
      return " pool=" + r.getPool().getName() + " address=" + r.getAddress() + " for=" + r.getPod().getNamespace()
          + "/" + r.getPod().getName() + (r.getWhenFree() ? " when-free" : "");
    }
    if (request instanceof io.jipam.api.v1.ClaimRequest r) {
      return " pool=" + r.getPool().getName() + " address=" + r.getAddress();
    }
    return "";
  }
}
