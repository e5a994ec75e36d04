package io.jipam.server.grpc;

import io.jipam.api.GrpcErrors;
import io.jipam.api.WireMapping;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ApplyBy;
import io.jipam.core.store.capability.AsyncChanges;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.AllocationsResponse;
import io.jipam.api.v1.FindRequest;
import io.jipam.api.v1.IpamGrpcService;
import io.jipam.api.v1.ListPoolsResponse;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.api.v1.UsageRequest;
import io.jipam.api.v1.UsageResponse;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.NodeStores;
import io.jipam.server.pools.PoolRegistry;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import com.google.protobuf.Descriptors;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.Service;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code jipam.v1.Ipam} methods over jipamd's stores. Each call's caller is established and
 * checked against the role table on the event loop, before the call runs ({@link Access}: a refusal
 * is answered PERMISSION_DENIED at once and touches no store); the call then runs on its caller's
 * node's store. Requests are decoded on the event loop; the store runs on {@code blocking} (or, for a store that never blocks, inline) (a bounded pool: when its queue is full the call is
 * answered RESOURCE_EXHAUSTED with TRY_AGAIN_LATER at once, never queued without bound); the
 * answer is written back on the request's context. Allocate and Release on a store of {@link
 * AsyncChanges} (etcd) are queued from the event loop with no worker waiting for them (bounded by
 * {@code maxPending} the same way), and answered when the store's commit task completes them.
 */
public final class IpamEndpoint {
  private final Access access;
  private final PoolRegistry pools;
  private final Executor blocking;
  private final CallLog log;
  private final Metrics metrics;
  private final Dispatch dispatch;
  private final int maxPending;
  /** The clock a change's apply-by time is compared with ({@link ApplyBy}). */
  private final java.time.Clock wallClock;
  /** Calls of {@link AsyncChanges} started and not yet answered by their store. */
  private final AtomicInteger pending = new AtomicInteger();

  /** Where the store's calls run. */
  public enum Dispatch {
    /** On {@code blocking}, the bounded worker pool. */
    WORKERS,
    /**
     * On the event loop that decoded the call: only for a store that never blocks (the memory
     * store), where the hop to a worker and back (two thread wake-ups) would cost more than the call.
     */
    EVENT_LOOP
  }

  IpamEndpoint(IpamStore store, PoolRegistry pools, Executor blocking, CallLog log, Metrics metrics) {
    this(new Access(CallerIdentity.noOperatorCa(), NodeStores.single(store)), pools, blocking, 1024, log, metrics,
        Dispatch.WORKERS);
  }

  /**
   * Calls run where {@code dispatch} says; at most {@code maxPending} calls of {@link AsyncChanges}
   * wait for their store at once (more are answered busy, as when the pool's queue is full).
   */
  public IpamEndpoint(Access access, PoolRegistry pools, Executor blocking, int maxPending, CallLog log,
      Metrics metrics, Dispatch dispatch) {
    this.wallClock = java.time.Clock.systemUTC();
    this.maxPending = maxPending;
    this.dispatch = dispatch;
    this.access = access;
    this.pools = pools;
    this.blocking = blocking;
    this.log = log;
    this.metrics = metrics;
  }

  /** The service, for {@link GrpcServer#addService}: binds the methods and names the descriptor (reflection). */
  public Service service() {
    return new Service() {
      @Override
      public ServiceName name() {
        return IpamGrpcService.SERVICE_NAME;
      }

      @Override
      public Descriptors.ServiceDescriptor descriptor() {
        return IpamGrpcService.SERVICE_DESCRIPTOR;
      }

      @Override
      public void bind(GrpcServer server) {
        IpamEndpoint.this.bind(server);
      }
    };
  }

  void bind(GrpcServer server) {
    unary(server, IpamGrpcService.Allocate, this::allocate, this::allocateAsync);
    unary(server, IpamGrpcService.Release, this::release, this::releaseAsync);
    unary(server, IpamGrpcService.Find, this::find);
    unary(server, IpamGrpcService.List, this::list);
    unary(server, IpamGrpcService.RetainOnly, this::retainOnly);
    unary(server, IpamGrpcService.Usage, this::usage);
    unary(server, IpamGrpcService.ListPools, (s, r) -> listPools(s.store(), r.getDefinitionsOnly()));
    unary(server, IpamGrpcService.Audit, (s, r) -> io.jipam.api.v1.AuditResponse.newBuilder()
        .addAllFindings(ReadCalls.audit(s.store(), pool(r.getPool()))).build());
    unary(server, IpamGrpcService.ReclaimNode, (s, r) -> ReclaimCalls.reclaimNode(s.store(), r, pools.all()));
    unary(server, IpamGrpcService.LiftFence, (s, r) -> ReclaimCalls.liftFence(s.store(), r.getNode()));
    unary(server, IpamGrpcService.Reserve, (s, r) -> ClaimCalls.reserve(s.store(), pool(r.getPool()), r));
    unary(server, IpamGrpcService.Unreserve, (s, r) -> ClaimCalls.unreserve(s.store(), pool(r.getPool()), r));
    unary(server, IpamGrpcService.EndHold, (s, r) -> ClaimCalls.endHold(s.store(), pool(r.getPool()), r));
    unary(server, IpamGrpcService.ListClaims, (s, r) -> ClaimCalls.list(s.store(), pool(r.getPool())));
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

  private <Req, Resp> void unary(GrpcServer server, ServiceMethod<Req, Resp> method, Call<Req, Resp> call) {
    unary(server, method, call, null);
  }

  private <Req, Resp> void unary(GrpcServer server, ServiceMethod<Req, Resp> method, Call<Req, Resp> call,
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
        if (dispatch == Dispatch.EVENT_LOOP) {
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

  private Pool pool(io.jipam.api.v1.Pool message) {
    return pools.check(message);
  }

  private static Attachment attachment(io.jipam.api.v1.Attachment message) {
    if (message.getContainerId().isEmpty()) {
      throw IpamException.invalidConfig("request has no attachment (container_id, ifname)");
    }
    return WireMapping.attachment(message);
  }

  /** An allocation defines its pool here once the store took it ({@link PoolRegistry#admit}). */
  private AllocateResponse allocate(Access.Scope s, AllocateRequest r) {
    AllocationRequest request = allocationRequest(r);
    try (PoolRegistry.Admission admission = pools.admit(r.getPool())) {
      Pool pool = admission.pool();
      io.jipam.core.cni.SubPool sub = WireMapping.requestedSubPool(pool, r);
      AllocationOutcome outcome = s.store().allocate(pool, request);
      admission.confirm();
      return allocated(pool, sub, outcome);
    }
  }

  private static AllocationRequest allocationRequest(AllocateRequest r) {
    List<IpAddress> requested = new ArrayList<>();
    for (String text : r.getRequestedList()) {
      requested.add(WireMapping.address(text, "requested address"));
    }
    return new AllocationRequest(attachment(r.getAttachment()), requested, WireMapping.requestedPod(r.getPod()));
  }

  /**
   * The answer to an allocation from {@code pool}, noted in the pools served and the metrics, with
   * the sub-pool the request said it is (null: none), noted for ListPools only now that the store
   * took the call: a refused request changes nothing.
   */
  private AllocateResponse allocated(Pool pool, io.jipam.core.cni.SubPool sub, AllocationOutcome outcome) {
    if (sub != null) {
      pools.namedBy(sub);
    }
    pools.allocatedFrom(pool);
    if (outcome instanceof AllocationOutcome.Allocated allocated) {
      metrics.allocated(pool.name(), allocated.origins());
    }
    return WireMapping.outcome(outcome);
  }

  private CompletableFuture<AllocateResponse> allocateAsync(Access.Scope s, AllocateRequest r) {
    AsyncChanges store = s.store().capability(AsyncChanges.class).orElse(null);
    if (store == null || !PoolRegistry.decodesQuickly(r.getPool())) {
      return null; // a huge definition is decoded on a worker, not on the event loop
    }
    AllocationRequest request = allocationRequest(r);
    PoolRegistry.Admission admission = pools.admit(r.getPool());
    try {
      Pool pool = admission.pool();
      io.jipam.core.cni.SubPool sub = WireMapping.requestedSubPool(pool, r);
      CompletableFuture<AllocateResponse> answer = store.allocateAsync(pool, request).thenApply(outcome -> {
        admission.confirm();
        return allocated(pool, sub, outcome);
      });
      answer.whenComplete((done, failed) -> admission.close());
      return answer;
    } catch (RuntimeException e) {
      admission.close();
      throw e;
    }
  }

  private AllocationsResponse release(Access.Scope s, ReleaseRequest r) {
    Pool pool = pool(r.getPool());
    return allocations(s.store().release(pool, attachment(r.getAttachment())));
  }

  private CompletableFuture<AllocationsResponse> releaseAsync(Access.Scope s, ReleaseRequest r) {
    AsyncChanges store = s.store().capability(AsyncChanges.class).orElse(null);
    if (store == null || !PoolRegistry.decodesQuickly(r.getPool())) {
      return null; // as allocateAsync
    }
    Pool pool = pool(r.getPool());
    return store.releaseAsync(pool, attachment(r.getAttachment())).thenApply(IpamEndpoint::allocations);
  }

  private AllocationsResponse find(Access.Scope s, FindRequest r) {
    Pool pool = pool(r.getPool());
    return allocations(s.store().find(pool, attachment(r.getAttachment())));
  }

  private ListResponse list(Access.Scope s, ListRequest r) {
    return ReadCalls.list(s.store(), pool(r.getPool()), access.list(s, r));
  }

  private AllocationsResponse retainOnly(Access.Scope s, RetainOnlyRequest r) {
    Pool pool = pool(r.getPool());
    Set<Attachment> valid = new HashSet<>();
    for (io.jipam.api.v1.Attachment a : r.getValidList()) {
      valid.add(attachment(a));
    }
    IpamStore store = s.store();
    return allocations(r.getDryRun() ? ReadCalls.retainOnlyPreview(store, pool, valid) : store.retainOnly(pool, valid));
  }

  private UsageResponse usage(Access.Scope s, UsageRequest r) {
    return ReadCalls.usage(s.store(), pool(r.getPool()));
  }

  /**
   * The pools served since start and, for a store that defines pools (etcd), those it holds; each
   * sub-pool with its network and selectors; {@code definitionsOnly}: without usage (no store read
   * but the etcd store's definitions).
   */
  private ListPoolsResponse listPools(IpamStore store, boolean definitionsOnly) {
    java.util.TreeMap<String, Pool> all = new java.util.TreeMap<>();
    for (Pool pool : ReadCalls.definedPools(store)) {
      all.put(pool.name(), pool);
    }
    for (Pool pool : pools.all()) {
      all.put(pool.name(), pool);
    }
    ListPoolsResponse.Builder out = ListPoolsResponse.newBuilder();
    for (Pool pool : all.values()) {
      io.jipam.api.v1.PoolInfo.Builder info = definitionsOnly
          ? io.jipam.api.v1.PoolInfo.newBuilder().setPool(WireMapping.pool(pool))
          : WireMapping.poolInfo(PoolStatus.read(store, pool)).toBuilder();
      io.jipam.core.cni.SubPool sub = pools.subPool(pool.name());
      if (sub != null) {
        info.setSubPool(WireMapping.subPool(sub));
      }
      out.addPools(info);
    }
    return out.build();
  }

  private static AllocationsResponse allocations(List<Allocation> list) {
    return AllocationsResponse.newBuilder().addAllAllocations(WireMapping.allocations(list)).build();
  }

}
