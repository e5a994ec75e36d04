package io.jipam.server.metrics;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

/**
 * {@code GET /metrics} (the Prometheus text), {@code GET /healthz} (200 {@code SERVING} when
 * the store answers a read now, else 503) and {@code GET /livez} (200 {@code ALIVE}, answered on the
 * event loop without a store read) on jipamd's metrics port; anything else is 404 or 405.
 *
 * <p>{@code /livez} is for a liveness probe, {@code /healthz} for a readiness probe: a store that
 * does not answer (etcd down) is not mended by restarting jipamd, so it must not fail liveness,
 * while an event loop that no longer turns (it serves the CNI socket too on a node's jipamd, which
 * runs one) is, and the kubelet can only see it through a probe answered by that loop.
 *
 * <p>Each kind is read by a {@link CoalescedReads} of its own (the health check's is jipamd's one,
 * which the gRPC health service shares): one store read at a time on its own thread, shared by the
 * requests that wait for it, at most {@link CoalescedReads#MAX_WAITING} of them (more are answered
 * 503 at once). So no scrape takes one of jipamd's workers, a flood of scrapes costs one read at a
 * time, and a slow metrics read does not hold up the health check.
 *
 * <p>Handlers run on the request's event loop; answers are handed back to it. Each connection
 * carries one request ({@code connection: close}); the listener holds at most {@link
 * #MAX_CONNECTIONS} connections at once and closes any beyond at once.
 */
public final class MetricsEndpoint implements AutoCloseable {
  /** Connections the metrics listener holds at once: scrapers and probes need a few. */
  public static final int MAX_CONNECTIONS = 64;
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
    boolean live = "/livez".equals(req.path());
    if (!health && !live && !"/metrics".equals(req.path())) {
      end(req, 404, "not found: jipamd serves /metrics, /healthz and /livez here\n");
      return;
    }
    if (req.method() != HttpMethod.GET) {
      end(req, 405, "");
      return;
    }
    if (live) {
      end(req, 200, "ALIVE\n"); // this event loop turns: nothing else is asked
      return;
    }
    Context context = Vertx.currentContext();
    boolean asked = health
        ? checks.ask(outcome -> on(context, v -> {
            boolean ok = outcome.failure() == null && outcome.value();
            end(req, ok ? 200 : 503, ok ? "SERVING\n" : "NOT_SERVING: the store does not answer\n");
          }))
        : scrapes.ask(outcome -> on(context, v -> {
            if (outcome.failure() != null) {
              end(req, 503, "metrics not read: " + outcome.failure().getMessage() + "\n");
            } else {
              req.response().putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8");
              end(req, 200, outcome.value());
            }
          }));
    if (!asked) {
      end(req, 503, "jipamd is busy: " + CoalescedReads.MAX_WAITING + " requests already wait for "
          + (health ? "the health check" : "the metrics") + "\n");
    }
  }

  /**
   * Answers and closes the connection: one request per connection. A client that pipelines
   * requests and never reads the answers (the port is unauthenticated) had each answer queued on
   * jipamd's heap, until jipamd ran out of memory with its event loop dead and every CNI call unanswered.
   */
  private static void end(HttpServerRequest req, int status, String body) {
    HttpServerResponse response = req.response().setStatusCode(status).putHeader("connection", "close");
    response.end(body).onComplete(done -> req.connection().close());
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
