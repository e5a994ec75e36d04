package io.jipam.server.grpc;

import io.jipam.api.GrpcErrors;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.capability.ApplyBy;
import io.jipam.core.store.capability.AsyncChanges;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How {@link IpamEndpoint}'s unary calls run and are answered, whatever the method: the caller
 * checked ({@link Access}), a change past its apply-by time refused, the call run where {@link
 * IpamEndpoint.Dispatch} says (or started from the event loop on a store of {@link AsyncChanges}),
 * the answer or error written back on the request's context, then the call logged and counted.
 *
 * <p>Contract: bounded. A call never queues without bound: when the worker pool refuses it, or
 * {@code maxPending} calls of {@link AsyncChanges} already wait for their store, it is answered
 * RESOURCE_EXHAUSTED with TRY_AGAIN_LATER at once. Every call is answered exactly once, or logged
 * as not answered when it ended first (deadline, cancel) or jipamd stopped before it did. An
 * error message is cut at {@link #MAX_MESSAGE} characters. Thread-safe: the handlers run on the
 * event loops, the calls on the workers.
 */
final class UnaryCalls {
  private final Access access;
  private final Executor blocking;
  private final CallLog log;
  private final Metrics metrics;
  private final IpamEndpoint.Dispatch dispatch;
  private final int maxPending;
  /** The clock a change's apply-by time is compared with ({@link ApplyBy}). */
  private final java.time.Clock wallClock;
  /** Calls of {@link AsyncChanges} started and not yet answered by their store. */
  private final AtomicInteger pending = new AtomicInteger();

  UnaryCalls(Access access, Executor blocking, int maxPending, CallLog log, Metrics metrics,
      IpamEndpoint.Dispatch dispatch) {
    this.wallClock = java.time.Clock.systemUTC();
    this.maxPending = maxPending;
    this.dispatch = dispatch;
    this.access = access;
    this.blocking = blocking;
    this.log = log;
    this.metrics = metrics;
  }

  /** What one call does with its decoded request, in the caller's scope; runs on the blocking pool. */
  interface Call<Req, Resp> {
    Resp run(Access.Scope scope, Req request) throws Exception;
  }

  /**
   * What one call does when its store offers {@link AsyncChanges}: starts it on the event loop and
   * returns the answer to come; null when the store does not offer it (the call then runs as a
   * {@link Call}). Must not block.
   */
  interface AsyncCall<Req, Resp> {
    CompletableFuture<Resp> start(Access.Scope scope, Req request);
  }

  <Req, Resp> void unary(GrpcServer server, ServiceMethod<Req, Resp> method, Call<Req, Resp> call) {
    unary(server, method, call, null);
  }

  <Req, Resp> void unary(GrpcServer server, ServiceMethod<Req, Resp> method, Call<Req, Resp> call,
      AsyncCall<Req, Resp> async) {
    server.callHandler(method, request -> {
      Context context = Vertx.currentContext();
      GrpcIntake.onMessage(request, method, message -> {
        long start = System.nanoTime();
        Access.Scope scope;
        try {
          scope = access.scope(request.methodName(), request.connection(), request.headers());
        } catch (IpamException denied) {
          context.runOnContext(v -> respond(request, message, denied, start));
          return;
        }
        long applyBy = applyBy(message);
        IpamException late = late(applyBy);
        if (late != null) {
          context.runOnContext(v -> respond(request, message, late, start));
          return;
        }
        if (dispatch == IpamEndpoint.Dispatch.EVENT_LOOP) {
          // answered from a task on this event loop, not from within the message handler: an
          // answer written there is not flushed until the connection reads again
          Object result = answer(call, scope, message);
          context.runOnContext(v -> respond(request, message, result, start));
          return;
        }
        if (async != null) {
          if (pending.incrementAndGet() > maxPending) {
            pending.decrementAndGet();
            busy(request, message, start);
            return;
          }
          if (ApplyBy.within(applyBy, () -> started(async, scope, message, result -> {
            pending.decrementAndGet();
            answerOn(context, request, message, result, start);
          }))) {
            return;
          }
          pending.decrementAndGet();
        }
        try {
          blocking.execute(() -> {
            IpamException queuedTooLong = late(applyBy); // waited for a worker past it
            answerOn(context, request, message, queuedTooLong != null ? queuedTooLong
                : ApplyBy.within(applyBy, () -> answer(call, scope, message)), start);
          });
        } catch (RejectedExecutionException full) {
          busy(request, message, start);
        }
      }, undecodable -> respond(request, null, undecodable, System.nanoTime()));
    });
  }

  /**
   * Answers a call that ran off its event loop: on the loop, unless jipamd has stopped and its loops
   * have ended (a call abandoned at the shutdown bound, finishing later). Its caller is gone then; the
   * store call itself is complete, so only the answer is dropped, and the call log says so.
   */
  private <Req, Resp> void answerOn(Context context, GrpcServerRequest<Req, Resp> request, Req message, Object result,
      long start) {
    try {
      context.runOnContext(v -> respond(request, message, result, start));
    } catch (RejectedExecutionException stopped) {
      log.call(request.methodName(), message, "not answered: jipamd stopped before the call ended ("
          + (result instanceof IpamException e ? "error " + e.code() : CallLog.outcome(result)) + ")", start);
    }
  }

  /**
   * The time the request's sender gave a change to apply by ({@code apply_by_unix_millis} of
   * Allocate, Release and RetainOnly; 0 for every other request and for a sender that gives none).
   */
  private static long applyBy(Object message) {
    if (message instanceof AllocateRequest r) {
      return r.getApplyByUnixMillis();
    }
    if (message instanceof ReleaseRequest r) {
      return r.getApplyByUnixMillis();
    }
    if (message instanceof RetainOnlyRequest r && !r.getDryRun()) {
      return r.getApplyByUnixMillis();
    }
    return 0;
  }

  /**
   * The refusal of a change that came after its apply-by time, or null: its sender has given up on
   * it and answered its caller, who has gone on (see {@link ApplyBy}); applied now it could leak an
   * address or free one that another pod holds by then. Nothing is changed.
   */
  private IpamException late(long applyBy) {
    long now = wallClock.millis();
    long lateBy = ApplyBy.lateBy(applyBy, now);
    if (lateBy <= 0) {
      return null;
    }
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "not applied: the change reached jipamd " + lateBy
        + " ms after the time its sender gave it to apply by (" + java.time.Instant.ofEpochMilli(applyBy)
        + ", by the sender's clock; jipamd's reads " + java.time.Instant.ofEpochMilli(now) + "): the sender has given"
        + " up on it. Held up on the way (a paused jipamd, a partition), or the two clocks are apart; nothing changed");
  }

  private void busy(GrpcServerRequest<?, ?> request, Object message, long start) {
    fail(request, GrpcStatus.RESOURCE_EXHAUSTED, new IpamException(ErrorCode.TRY_AGAIN_LATER,
        "jipamd is busy: every worker is taken and the queue is full; try again later"));
    log.call(request.methodName(), message, "busy", start);
    metrics.call(request.methodName(), "busy", ErrorCode.TRY_AGAIN_LATER, start);
  }

  /**
   * Starts an {@link AsyncCall}; when its store offers it, {@code answer} gets the response or the
   * {@link IpamException} to answer with (on the thread that completed it) and this returns true.
   */
  private static <Req, Resp> boolean started(AsyncCall<Req, Resp> async, Access.Scope scope, Req message,
      java.util.function.Consumer<Object> answer) {
    CompletableFuture<Resp> pending;
    try {
      pending = async.start(scope, message);
    } catch (Throwable t) {
      answer.accept(failure(t));
      return true;
    }
    if (pending == null) {
      return false;
    }
    pending.whenComplete((r, t) -> answer.accept(t == null ? r : failure(t)));
    return true;
  }

  private static IpamException failure(Throwable t) {
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return cause instanceof IpamException e ? e : new IpamException(ErrorCode.INTERNAL, "internal error: " + cause, cause);
  }

  /** Runs the call: its response, or the {@link IpamException} to answer with. */
  private static <Req, Resp> Object answer(Call<Req, Resp> call, Access.Scope scope, Req message) {
    try {
      return call.run(scope, message);
    } catch (IpamException e) {
      return e;
    } catch (Throwable t) {
      return new IpamException(ErrorCode.INTERNAL, "internal error: " + t, t);
    }
  }

  /**
   * Answers the call with its result and logs and counts it; a call that ended before its result
   * (its deadline passed, or the client cancelled it) is logged as not answered, with the outcome
   * the store gave it.
   */
  @SuppressWarnings("unchecked")
  private <Req, Resp> void respond(GrpcServerRequest<Req, Resp> request, Req message, Object result, long start) {
    if (result instanceof IpamException e) {
      String outcome = "error " + e.code() + ": " + e.getMessage();
      log.call(request.methodName(), message, fail(request, GrpcErrors.status(e.code()), e) ? outcome
          : notAnswered(outcome), start);
      metrics.call(request.methodName(), "error", e.code(), start);
    } else {
      String outcome = CallLog.outcome(result);
      log.call(request.methodName(), message, GrpcIntake.end(() -> request.response().end((Resp) result)) ? outcome
          : notAnswered(outcome), start);
      metrics.call(request.methodName(), result instanceof AllocateResponse r
          ? r.getOutcomeCase().name().toLowerCase(java.util.Locale.ROOT) : "ok", null, start);
    }
  }

  private static String notAnswered(String outcome) {
    return "not answered: the call had ended (deadline passed or cancelled) (" + outcome + ")";
  }

  /**
   * Answers the call with the error; false when the call had ended already ({@link GrpcIntake#end}).
   * The message travels three times (the status message, and encoded in the details trailer), so it
   * is cut at {@link #MAX_MESSAGE} characters: a client takes 8 to 10 KiB of headers, and an error
   * past that reached it as a broken connection (TRY_AGAIN_LATER) instead of its code.
   */
  private static boolean fail(GrpcServerRequest<?, ?> request, GrpcStatus status, IpamException e) {
    IpamException sent = e.getMessage() != null && e.getMessage().length() > MAX_MESSAGE
        ? new IpamException(e.code(), e.getMessage().substring(0, MAX_MESSAGE) + "... (" + e.getMessage().length()
            + " characters)")
        : e;
    return GrpcIntake.end(() -> {
      request.response().trailers().set(GrpcErrors.DETAILS_TRAILER, GrpcErrors.details(status, sent));
      request.response().status(status).statusMessage(sent.getMessage()).end();
    });
  }

  /** The most characters of an error message answered. */
  static final int MAX_MESSAGE = 1024;
}
