package io.jipam.server.grpc;

import com.google.protobuf.Descriptors;
import io.jipam.api.ClaimWire;
import io.jipam.api.WireMapping;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.AllocationsResponse;
import io.jipam.api.v1.FindRequest;
import io.jipam.api.v1.IpamGrpcService;
import io.jipam.api.v1.ListPoolsRequest;
import io.jipam.api.v1.ListPoolsResponse;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.api.v1.RetirePoolResponse;
import io.jipam.api.v1.UsageRequest;
import io.jipam.api.v1.UsageResponse;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.AsyncChanges;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.RetireOutcome;
import io.jipam.core.store.capability.RetirePools;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.NodeStores;
import io.jipam.server.pools.PoolRegistry;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.Service;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The {@code jipam.v1.Ipam} methods over jipamd's stores. Each call's caller is established and
 * checked against the role table on the event loop, before the call runs ({@link Access}: a refusal
 * is answered PERMISSION_DENIED at once and touches no store); the call then runs on its caller's
 * node's store. Requests are decoded on the event loop; the store runs on {@code blocking} (or, for a store that never blocks, inline) (a bounded pool: when its queue is full the call is
 * answered RESOURCE_EXHAUSTED with TRY_AGAIN_LATER at once, never queued without bound); the
 * answer is written back on the request's context. Allocate and Release on a store of {@link
 * AsyncChanges} (etcd) are queued from the event loop with no worker waiting for them (bounded by
 * {@code maxPending} the same way), and answered when the store's commit task completes them.
 *
 * <p>Design: this class says what each method does with its request; how every call is checked,
 * dispatched, answered, logged and counted is {@link UnaryCalls}', the read side {@link
 * ReadCalls}', the claims {@link ClaimCalls}', the reclaims {@link ReclaimCalls}'.
 */
public final class IpamEndpoint {
  private final Access access;
  private final PoolRegistry pools;
  private final Metrics metrics;
  /** How each call is checked, dispatched, answered, logged and counted. */
  private final UnaryCalls calls;

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
    this.access = access;
    this.pools = pools;
    this.metrics = metrics;
    this.calls = new UnaryCalls(access, blocking, maxPending, log, metrics, dispatch);
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
    calls.unary(server, IpamGrpcService.Allocate, this::allocate, this::allocateAsync);
    calls.unary(server, IpamGrpcService.Release, this::release, this::releaseAsync);
    calls.unary(server, IpamGrpcService.Find, this::find);
    calls.unary(server, IpamGrpcService.List, this::list);
    calls.unary(server, IpamGrpcService.RetainOnly, this::retainOnly);
    calls.unary(server, IpamGrpcService.Usage, this::usage);
    calls.unary(server, IpamGrpcService.ListPools, (s, r) -> listPools(s.store(), r));
    calls.unary(server, IpamGrpcService.Audit, (s, r) -> io.jipam.api.v1.AuditResponse.newBuilder()
        .addAllFindings(ReadCalls.audit(s.store(), pool(r.getPool()))).build());
    calls.unary(server, IpamGrpcService.ReclaimNode, (s, r) -> ReclaimCalls.reclaimNode(s.store(), r, pools.all()));
    calls.unary(server, IpamGrpcService.LiftFence, (s, r) -> ReclaimCalls.liftFence(s.store(), r.getNode()));
    calls.unary(server, IpamGrpcService.Reserve, (s, r) -> ClaimCalls.reserve(s.store(), pool(r.getPool()), r));
    calls.unary(server, IpamGrpcService.Unreserve, (s, r) -> ClaimCalls.unreserve(s.store(), pool(r.getPool()), r));
    calls.unary(server, IpamGrpcService.EndHold, (s, r) -> ClaimCalls.endHold(s.store(), pool(r.getPool()), r));
    calls.unary(server, IpamGrpcService.ListClaims, (s, r) -> ClaimCalls.list(s.store(), pool(r.getPool())));
    calls.unary(server, IpamGrpcService.RetirePool, (s, r) -> retirePool(s.store(), pools, r.getPool()));
  }

  /**
   * RetirePool on a store that can retire a pool ({@link io.jipam.core.store.capability.RetirePools});
   * any other answers UNSUPPORTED_FIELD naming it. A value that is no pool name is INVALID_CONFIG.
   * A retired pool is no longer one this jipamd serves ({@link PoolRegistry#retired}).
   */
  static RetirePoolResponse retirePool(IpamStore store, PoolRegistry pools, String pool) {
    Pool.requireName(pool);
    RetirePools retire = store.capability(RetirePools.class)
        .orElseThrow(() -> new IpamException(ErrorCode.UNSUPPORTED_FIELD, "RetirePool: this jipamd's store ("
            + store.getClass().getSimpleName() + ") cannot retire a pool"));
    RetireOutcome out = retire.retire(pool);
    if (out instanceof RetireOutcome.Retired) {
      pools.retired(pool);
    }
    return ClaimWire.outcome(out);
  }


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
   * sub-pool with its network and selectors. With {@code network}: that network's pools only, and
   * only its definitions read from the store (a network that is no network name is refused,
   * INVALID_CONFIG naming it). With {@code definitions_only}: without usage (no store read but the
   * etcd store's definitions).
   */
  private ListPoolsResponse listPools(IpamStore store, ListPoolsRequest r) {
    String network = WireMapping.networkFilter(r.getNetwork());
    java.util.TreeMap<String, Pool> all = new java.util.TreeMap<>();
    for (Pool pool : ReadCalls.definedPools(store, network)) {
      all.put(pool.name(), pool);
    }
    for (Pool pool : pools.all()) {
      if (network == null || Pool.networkOf(pool.name()).equals(network)) {
        all.put(pool.name(), pool);
      }
    }
    ListPoolsResponse.Builder out = ListPoolsResponse.newBuilder();
    for (Pool pool : all.values()) {
      io.jipam.api.v1.PoolInfo.Builder info = r.getDefinitionsOnly()
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
