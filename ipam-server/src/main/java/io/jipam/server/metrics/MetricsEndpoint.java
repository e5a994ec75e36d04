package io.jipam.server.metrics;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

/**
 * {@code GET /metrics} (the Prometheus text) and {@code GET /healthz} (200 {@code SERVING} when
 * the store answers a read now, else 503) on jipamd's metrics port; anything else is 404 or 405.
 *
 * <p>Each kind is read by a {@link CoalescedReads} of its own (the health check's is jipamd's one,
 * which the gRPC health service shares): one store read at a time on its own thread, shared by the
 * requests that wait for it, at most {@link CoalescedReads#MAX_WAITING} of them (more are answered
 * 503 at once). So no scrape takes one of jipamd's workers, a flood of scrapes costs one read at a
 * time, and a slow metrics read does not hold up the health check.
 *
 * <p>Handlers run on the request's event loop; answers are handed back to it.
 */
public final class MetricsEndpoint implements AutoCloseable {
  private final CoalescedReads<String> scrapes;
  private final CoalescedReads<Boolean> checks;

  /**
   * @param scrape reads the exposition text (store I/O)
   * @param checks whether the store answers a read now: jipamd's health reads, which the caller owns
   */
  public MetricsEndpoint(Supplier<String> scrape, CoalescedReads<Boolean> checks) {
    this.scrapes = new CoalescedReads<>("jipamd-metrics", scrape);
    this.checks = checks;
  }

  public void handle(HttpServerRequest req) {
    boolean health = "/healthz".equals(req.path());
    if (!health && !"/metrics".equals(req.path())) {
      req.response().setStatusCode(404).end("not found: jipamd serves /metrics and /healthz here\n");
      return;
    }
    if (req.method() != HttpMethod.GET) {
      req.response().setStatusCode(405).end();
      return;
    }
    Context context = Vertx.currentContext();
    boolean asked = health
        ? checks.ask(outcome -> on(context, v -> {
            boolean ok = outcome.failure() == null && outcome.value();
            req.response().setStatusCode(ok ? 200 : 503).end(ok ? "SERVING\n" : "NOT_SERVING: the store does not answer\n");
          }))
        : scrapes.ask(outcome -> on(context, v -> {
            if (outcome.failure() != null) {
              req.response().setStatusCode(503).end("metrics not read: " + outcome.failure().getMessage() + "\n");
            } else {
              req.response().putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8").end(outcome.value());
            }
          }));
    if (!asked) {
      req.response().setStatusCode(503).end("jipamd is busy: " + CoalescedReads.MAX_WAITING + " requests already wait for "
          + (health ? "the health check" : "the metrics") + "\n");
    }
  }

  private static void on(Context context, Handler<Void> reply) {
    try {
      context.runOnContext(reply);
    } catch (RejectedExecutionException stopped) {
      // jipamd stopped while this was read: the caller is gone, nothing to answer
    }
  }

  /** Stops the metrics reads (the health reads are the caller's). */
  @Override
  public void close() {
    scrapes.close();
  }
}
