package io.jipam.client;

import io.jipam.api.GrpcErrors;
import io.jipam.api.Headers;
import io.jipam.api.Protos;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocationsResponse;
import io.jipam.api.v1.Blocks;
import io.jipam.api.v1.UsageResponse;
import io.jipam.api.v1.FindRequest;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.ListPoolsRequest;
import io.jipam.api.v1.ListPoolsResponse;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.PoolAllocations;
import io.jipam.api.v1.PoolInfo;
import io.jipam.api.v1.LiftFenceRequest;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.api.v1.UsageRequest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An {@link IpamStore} that is another jipamd: every method is one {@code jipam.v1.Ipam} call (a
 * {@code list} one call per page) over one long-lived HTTP/2 connection, on a unix socket or TCP
 * (TLS, mutual when a client certificate is given; plain only when asked for).
 *
 * <p>Contract beyond {@link IpamStore}'s, which the server's store provides:
 * <ul>
 *   <li><b>Bounded.</b> Every call carries a deadline ({@link Target#timeout}) and returns or
 *       throws within it, time spent waiting for a connection included; a call that misses it, or
 *       cannot reach jipamd, throws {@code TRY_AGAIN_LATER}. Such a call may or may not
 *       have been applied; every store call is idempotent, so repeating it is safe.
 *   <li><b>Retries only what is idempotent</b> and only on a transient failure, within the
 *       deadline: Release, Find, List, RetainOnly, Usage, ListPools. Allocate is never repeated
 *       here (a repeat would answer {@code existing = true} for an allocation this call made); the
 *       CNI runtime repeats an ADD itself.
 *   <li><b>Errors as raised.</b> An error jipamd raised comes back as the same {@link ErrorCode}
 *       and message; every {@link AllocationOutcome} comes back as itself.
 *   <li><b>Thread-safe; blocking.</b> Methods block the calling thread, which must not be a Vert.x
 *       event loop.
 * </ul>
 */
public final class RemoteStore implements IpamStore {
  private static final int ATTEMPTS = 3;

  /** Seconds after which an idle connection to jipamd is closed from this side. */
  static final int CLIENT_IDLE_SECONDS = 10;

  private final Vertx vertx;
  private final GrpcClient client;
  private final Target target;
  /** The node every call acts for (sent as {@value Headers#NODE}), or null. */
  private final String node;

  private RemoteStore(Vertx vertx, GrpcClient client, Target target, String node) {
    this.vertx = vertx;
    this.client = client;
    this.target = target;
    this.node = node;
  }

  /** Connects lazily: an unreachable jipamd surfaces as TRY_AGAIN_LATER from the first call. */
  public static RemoteStore connect(Target target) {
    return connect(target, null);
  }

  /**
   * As {@link #connect(Target)}, every call acting for {@code node} (a node's jipamd in front of a
   * central one): jipamd takes it as the caller's node where it cannot tell from a certificate, and
   * refuses it when the client certificate names another node. Null: no node named.
   *
   * @throws IpamException INVALID_CONFIG when {@code node} is not a node name
   */
  public static RemoteStore connect(Target target, String node) {
    if (node != null) {
      NodeName.require(node, "remote store: node", ErrorCode.INVALID_CONFIG);
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1)
        .setInternalBlockingPoolSize(1));
    HttpClientOptions http = new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false)
        // close an idle connection before jipamd's idle timeout (default 30 s) can close it under
        // a call: an Allocate is not retried, so a call sent as the server closes would fail
        .setHttp2KeepAliveTimeout(CLIENT_IDLE_SECONDS)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, target.timeout().toMillis()));
    if (target.tls() != null) {
      http.setSsl(true).setUseAlpn(true);
      if (target.tls().caFile() != null) {
        http.setTrustOptions(new PemTrustOptions().addCertPath(target.tls().caFile().toString()));
      }
      if (target.tls().certFile() != null) {
        http.setKeyCertOptions(new PemKeyCertOptions().setCertPath(target.tls().certFile().toString())
            .setKeyPath(target.tls().keyFile().toString()));
      }
    }
    GrpcClient client = GrpcClient.client(vertx, new GrpcClientOptions()
        .setScheduleDeadlineAutomatically(true)
        .setMaxMessageSize(16L << 20), http);
    return new RemoteStore(vertx, client, target, node);
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    AllocateRequest.Builder r = AllocateRequest.newBuilder()
        .setPool(Protos.pool(pool))
        .setAttachment(Protos.attachment(request.attachment()))
        .setPod(Protos.pod(request.pod()));
    request.requested().forEach(a -> r.addRequested(a.toString()));
    return Protos.outcome(call(IpamGrpcClient.Allocate, r.build(), false));
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    ReleaseRequest r = ReleaseRequest.newBuilder().setPool(Protos.pool(pool))
        .setAttachment(Protos.attachment(attachment)).build();
    return allocations(call(IpamGrpcClient.Release, r, true));
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    FindRequest r = FindRequest.newBuilder().setPool(Protos.pool(pool))
        .setAttachment(Protos.attachment(attachment)).build();
    return allocations(call(IpamGrpcClient.Find, r, true));
  }

  @Override
  public List<Allocation> list(Pool pool) {
    return list(ListRequest.newBuilder().setPool(Protos.pool(pool)).build());
  }

  /**
   * The pool's allocations that match the filter fields set in {@code query} (container ID,
   * ifname, pod namespace, pod name), page by page; its pool, page size and token are set here.
   */
  public List<Allocation> list(Pool pool, ListRequest query) {
    return list(query.toBuilder().setPool(Protos.pool(pool)).setPageToken("").build());
  }

  private List<Allocation> list(ListRequest first) {
    List<Allocation> out = new ArrayList<>();
    ListRequest r = first;
    while (true) {
      ListResponse page = call(IpamGrpcClient.List, r, true);
      out.addAll(Protos.fromAllocations(page.getAllocationsList()));
      if (page.getNextPageToken().isEmpty()) {
        return out;
      }
      r = r.toBuilder().setPageToken(page.getNextPageToken()).build();
    }
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    RetainOnlyRequest.Builder r = RetainOnlyRequest.newBuilder().setPool(Protos.pool(pool));
    valid.forEach(a -> r.addValid(Protos.attachment(a)));
    return allocations(call(IpamGrpcClient.RetainOnly, r.build(), true));
  }

  /** Audit: the consistency findings of jipamd's store for the pool. */
  public List<String> audit(Pool pool) {
    return call(IpamGrpcClient.Audit, io.jipam.api.v1.AuditRequest.newBuilder().setPool(Protos.pool(pool)).build(),
        true).getFindingsList();
  }

  /** RetainOnly's dry run: what jipamd's store would release, changing nothing. */
  public List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid) {
    RetainOnlyRequest.Builder r = RetainOnlyRequest.newBuilder().setPool(Protos.pool(pool)).setDryRun(true);
    valid.forEach(a -> r.addValid(Protos.attachment(a)));
    return allocations(call(IpamGrpcClient.RetainOnly, r.build(), true));
  }

  @Override
  public PoolUsage usage(Pool pool) {
    UsageRequest r = UsageRequest.newBuilder().setPool(Protos.pool(pool)).build();
    return Protos.usage(call(IpamGrpcClient.Usage, r, true).getRangeSetsList());
  }

  /**
   * A pool jipamd serves, with its usage; {@code blocks} per block and node when its store has
   * blocks, else null.
   */
  public record PoolStatus(Pool pool, PoolUsage usage, Blocks blocks) {}

  /** Usage as jipamd answers it: per range set, and per block and node when its store has blocks. */
  public UsageResponse usageDetail(Pool pool) {
    return call(IpamGrpcClient.Usage, UsageRequest.newBuilder().setPool(Protos.pool(pool)).build(), true);
  }

  /** One List page as jipamd answers it; the request names the pool, filters, size and token. */
  public ListResponse listPage(ListRequest request) {
    return call(IpamGrpcClient.List, request, true);
  }

  /** An allocation and the node that made it (empty where the store does not record it). */
  public record Listed(Allocation allocation, String node) {}

  /**
   * As {@link #list(Pool, ListRequest)}, with each allocation's node; the query may filter by node
   * (refused by a jipamd whose store records no node).
   */
  public List<Listed> listWithNodes(Pool pool, ListRequest query) {
    List<Listed> out = new ArrayList<>();
    ListRequest r = query.toBuilder().setPool(Protos.pool(pool)).setPageToken("").build();
    while (true) {
      ListResponse page = listPage(r);
      for (io.jipam.api.v1.Allocation a : page.getAllocationsList()) {
        out.add(new Listed(Protos.allocation(a), a.getNode()));
      }
      if (page.getNextPageToken().isEmpty()) {
        return out;
      }
      r = r.toBuilder().setPageToken(page.getNextPageToken()).build();
    }
  }

  /** The pools jipamd serves, by name. */
  public List<PoolStatus> pools() {
    ListPoolsResponse r = call(IpamGrpcClient.ListPools, ListPoolsRequest.getDefaultInstance(), true);
    List<PoolStatus> out = new ArrayList<>();
    for (PoolInfo info : r.getPoolsList()) {
      out.add(new PoolStatus(Protos.pool(info.getPool()), Protos.usage(info.getUsageList()),
          info.hasBlocks() ? info.getBlocks() : null));
    }
    return out;
  }

  /**
   * ReclaimNode as the request asks (force, quiet period, dry run): the report. Repeated after a
   * transport failure: reclaiming a fenced node again finishes the reclaim.
   */
  public ReclaimNodeResponse reclaimNode(ReclaimNodeRequest request) {
    return call(IpamGrpcClient.ReclaimNode, request, true);
  }

  /** One allocation message, decoded (validated as the core types are). */
  public static Allocation allocation(io.jipam.api.v1.Allocation message) {
    return Protos.allocation(message);
  }

  /** The allocations of one pool of a {@link ReclaimNodeResponse}, decoded. */
  public static List<Allocation> allocations(PoolAllocations released) {
    return Protos.fromAllocations(released.getAllocationsList());
  }

  /**
   * LiftFence: true when the node had a fence. Repeated after a transport failure, so a fence the
   * lost first attempt removed reads as false.
   */
  public boolean liftFence(String node) {
    return call(IpamGrpcClient.LiftFence, LiftFenceRequest.newBuilder().setNode(node).build(), true).getLifted();
  }

  @Override
  public void close() {
    try {
      client.close().compose(v -> vertx.close()).toCompletionStage().toCompletableFuture()
          .get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // closing: nothing is pending that a caller waits for
    }
  }

  private static List<Allocation> allocations(AllocationsResponse r) {
    return Protos.fromAllocations(r.getAllocationsList());
  }

  private <Req, Resp> Resp call(ServiceMethod<Resp, Req> method, Req request, boolean idempotent) {
    long deadline = System.nanoTime() + target.timeout().toNanos();
    long backoffMillis = 20;
    for (int attempt = 1; ; attempt++) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      try {
        return once(method, request, Math.max(1, left));
      } catch (Transient e) {
        long now = System.nanoTime();
        if (!idempotent || attempt >= ATTEMPTS
            || now + TimeUnit.MILLISECONDS.toNanos(backoffMillis) >= deadline) {
          throw e.error;
        }
        sleep(backoffMillis);
        backoffMillis *= 4;
      }
    }
  }

  /** A failure after which the same call may succeed: the connection, not jipamd's answer. */
  private static final class Transient extends RuntimeException {
    final IpamException error;

    Transient(IpamException error) {
      super(error.getMessage(), null, false, false);
      this.error = error;
    }
  }

  /**
   * One attempt, bounded by {@code timeoutMillis} from now in every phase: waiting for a connection
   * and a stream counts against it (the gRPC deadline set on the stream is what is left), and an
   * attempt still unanswered at the bound is cancelled and fails.
   */
  private <Req, Resp> Resp once(ServiceMethod<Resp, Req> method, Req request, long timeoutMillis) {
    String name = method.methodName();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    AtomicBoolean abandoned = new AtomicBoolean();
    AtomicReference<GrpcClientRequest<Req, Resp>> sent = new AtomicReference<>();
    Future<Resp> answer = client.request(target.address(), method).compose(req -> {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (abandoned.get() || left <= 0) {
        req.cancel();
        return Future.failedFuture(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at "
            + target.text() + " did not answer within " + timeoutMillis + " ms"));
      }
      req.timeout(left, TimeUnit.MILLISECONDS);
      if (node != null) {
        req.headers().set(Headers.NODE, node);
      }
      sent.set(req);
      return req.send(request);
    }).compose(resp -> resp.last().transform(last -> {
      if (resp.status() == GrpcStatus.OK && last.succeeded()) {
        return Future.succeededFuture(last.result());
      }
      if (resp.status() == null || resp.status() == GrpcStatus.OK) {
        return Future.failedFuture(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name
            + " at " + target.text() + ": no answer: " + last.cause()));
      }
      // an error without messages is sent "trailers-only": its metadata arrives as headers
      io.vertx.core.MultiMap metadata = resp.trailers() != null && resp.trailers().contains(GrpcErrors.DETAILS_TRAILER)
          ? resp.trailers() : resp.headers();
      return Future.failedFuture(new Answered(GrpcErrors.exception(resp.status(), resp.statusMessage(),
          metadata, name)));
    }));
    try {
      return answer.toCompletionStage().toCompletableFuture()
          .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Answered a) {
        throw a.error;
      }
      if (cause instanceof IpamException ipam) {
        throw new Transient(ipam);
      }
      throw new Transient(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at "
          + target.text() + " failed: " + cause, cause));
    } catch (TimeoutException e) {
      abandoned.set(true);
      GrpcClientRequest<Req, Resp> req = sent.get();
      if (req != null) {
        req.cancel(); // resets the stream: jipamd may still have applied the call (see the class doc)
      }
      throw new Transient(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at "
          + target.text() + " did not answer within " + timeoutMillis + " ms"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting for jipamd " + name);
    }
  }

  /** jipamd answered with an error: final, never retried. */
  private static final class Answered extends RuntimeException {
    final IpamException error;

    Answered(IpamException error) {
      super(error.getMessage(), null, false, false);
      this.error = error;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted");
    }
  }

  /**
   * TLS settings of a TCP connection; null files mean the JVM's trust store / no client
   * certificate. The server's certificate must name the host or address connected to.
   */
  public record Tls(Path caFile, Path certFile, Path keyFile) {
    public Tls {
      if ((certFile == null) != (keyFile == null)) {
        throw IpamException.invalidConfig("a client certificate needs both a cert file and a key file");
      }
    }
  }

  /**
   * Where jipamd listens: {@code unix:/path/to.sock} or {@code host:port} ({@code [v6]:port}); TLS
   * settings for TCP (null: plain, which {@link #parse} callers allow only when asked to).
   */
  public record Target(SocketAddress address, String text, Tls tls, Duration timeout) {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    public Target {
      Objects.requireNonNull(address, "address");
      timeout = timeout == null ? DEFAULT_TIMEOUT : timeout;
    }

    public static Target parse(String text) {
      if (text == null || text.isEmpty()) {
        throw IpamException.invalidConfig("jipamd address is empty: use unix:/path or host:port");
      }
      if (text.startsWith("unix:")) {
        String path = text.substring("unix:".length());
        if (path.isEmpty()) {
          throw IpamException.invalidConfig("jipamd address \"%s\" names no socket path", text);
        }
        return new Target(SocketAddress.domainSocketAddress(path), text, null, null);
      }
      if (text.startsWith("/")) {
        return new Target(SocketAddress.domainSocketAddress(text), "unix:" + text, null, null);
      }
      int colon = text.lastIndexOf(':');
      if (colon <= 0 || colon == text.length() - 1) {
        throw IpamException.invalidConfig("jipamd address \"%s\" is not unix:/path or host:port", text);
      }
      String host = text.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      int port;
      try {
        port = Integer.parseInt(text.substring(colon + 1));
      } catch (NumberFormatException e) {
        port = -1;
      }
      if (port < 1 || port > 65535) {
        throw IpamException.invalidConfig("jipamd address \"%s\": port is not 1 to 65535", text);
      }
      return new Target(SocketAddress.inetSocketAddress(port, host), text, null, null);
    }

    public boolean isUnix() {
      return address.isDomainSocket();
    }

    public Target withTls(Tls tls) {
      return new Target(address, text, tls, timeout);
    }

    public Target withTimeout(Duration timeout) {
      return new Target(address, text, tls, timeout);
    }
  }
}
