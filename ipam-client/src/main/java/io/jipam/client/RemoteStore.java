package io.jipam.client;

import io.jipam.client.GrpcChannel.Retry;
import io.jipam.api.WireMapping;
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
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.capability.Inspection;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeReclaim;
import io.jipam.core.store.capability.PoolBlocks;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.Probe;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.core.store.capability.RetainPreview;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocationsResponse;
import io.jipam.api.v1.FindRequest;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.ListPoolsRequest;
import io.jipam.api.v1.ListPoolsResponse;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.PoolInfo;
import io.jipam.api.v1.LiftFenceRequest;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.api.v1.UsageRequest;
import io.vertx.core.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

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
 *   <li><b>No copies.</b> An {@link AllocationRequest#isCopy() AllocationRequest.copy} is refused
 *       ({@code UNSUPPORTED_FIELD}): the API carries no copied origins.
 * </ul>
 *
 * <p>Length: about 500 lines, as one class on purpose: it mirrors {@link IpamStore} and eight
 * capabilities method for method, each a request built from domain types and an answer mapped
 * back, and split by capability each part would be the same few lines of delegation again; the
 * mapping itself lives in {@link io.jipam.api.WireMapping}, the transport in {@code GrpcChannel},
 * the reading of an address in {@code TargetText}. The {@link Target} and {@link Tls} records stay
 * nested here because other modules name them {@code RemoteStore.Target} and {@code
 * RemoteStore.Tls}.
 */
public final class RemoteStore implements IpamStore, Inspection, ListPages, NodeReclaim, Probe, RetainPreview,
    io.jipam.core.store.capability.RetirePools,
    io.jipam.core.store.capability.Claims, io.jipam.core.store.capability.ReloadsTls,
    io.jipam.core.cni.SubPoolForwarding, io.jipam.core.store.capability.KeptPools {
  private final GrpcChannel channel;
  /** The sub-pools of the networks its callers named: each Allocate from one says so. */
  private final io.jipam.core.cni.SubPoolIndex subPools = new io.jipam.core.cni.SubPoolIndex();

  /** The clock a change's apply-by time is taken on ({@link #applyBy}). */
  private final java.time.Clock wallClock;

  /** The pools the other jipamd defines, for the CNI handler's kept pools ({@link RemoteKeptPools}). */
  private final RemoteKeptPools kept;

  private RemoteStore(GrpcChannel channel, java.time.Clock wallClock) {
    this.channel = channel;
    this.wallClock = wallClock;
    this.kept = new RemoteKeptPools(this::definedPools, wallClock);
  }

  /**
   * The pools of the network that the other jipamd defines and the config does not name, from its
   * ListPools of the network read at most every half minute ({@link RemoteKeptPools}).
   */
  @Override
  public List<Pool> keptPools(String network, java.util.Set<String> named, Pool like) {
    return kept.keptPools(network, named, like);
  }

  /**
   * The pools of {@code network} the other jipamd defines: one ListPools naming the network, which
   * reads no usage. An older jipamd ignores the network and answers every pool it defines.
   */
  private List<Pool> definedPools(String network) {
    ListPoolsResponse r = channel.call(IpamGrpcClient.ListPools,
        ListPoolsRequest.newBuilder().setDefinitionsOnly(true).setNetwork(network).build(), Retry.IDEMPOTENT);
    List<Pool> out = new ArrayList<>(r.getPoolsCount());
    for (PoolInfo info : r.getPoolsList()) {
      out.add(WireMapping.pool(info.getPool()));
    }
    return out;
  }

  /**
   * Whether {@code e}, thrown by a call of a RemoteStore, means that no answer came at all: no
   * connection, none within the deadline, or a stream closed without a status. False for every
   * answer, including an error jipamd answered (it may be TRY_AGAIN_LATER too: busy) and an answer
   * that could not be read.
   */
  public static boolean unanswered(IpamException e) {
    return e.code() == ErrorCode.TRY_AGAIN_LATER && e.getCause() instanceof GrpcChannel.NoAnswer;
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
    return connect(target, node, java.time.Clock.systemUTC());
  }

  /** As {@link #connect(Target, String)}, apply-by times taken on {@code wallClock} (tests). */
  static RemoteStore connect(Target target, String node, java.time.Clock wallClock) {
    if (node != null) {
      NodeName.require(node, "remote store: node", ErrorCode.INVALID_CONFIG);
    }
    return new RemoteStore(GrpcChannel.open(target, node), wallClock);
  }

  /**
   * {@inheritDoc}
   *
   * @throws IpamException {@link ErrorCode#UNSUPPORTED_FIELD} for a {@linkplain
   *     AllocationRequest#isCopy() copy}, before anything is sent: jipamd's API carries no copied
   *     origins (a copy opens the stores themselves: {@code jipamctl migrate})
   */
  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    if (request.isCopy()) {
      throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, "a copy of " + request.attachment()
          + " with its recorded origins cannot go through jipamd's API, which carries none: copy between the stores"
          + " themselves (jipamctl migrate)");
    }
    kept.allocatingIn(pool);
    AllocateRequest.Builder r = AllocateRequest.newBuilder()
        .setApplyByUnixMillis(applyBy())
        .setPool(WireMapping.pool(pool))
        .setAttachment(WireMapping.attachment(sendable(request.attachment())))
        .setPod(WireMapping.pod(request.pod()));
    request.requested().forEach(a -> r.addRequested(a.toString()));
    io.jipam.core.cni.SubPool sub = subPools.get(pool.name());
    if (sub != null) {
      r.setSubPool(WireMapping.subPool(sub));
    }
    return WireMapping.outcome(channel.call(IpamGrpcClient.Allocate, r.build(), Retry.NEVER));
  }

  /**
   * {@code attachment}, refused before anything is sent when its interface name is not text: the
   * API's strings are UTF-8, where such a name would arrive as {@code ?}, another attachment's name.
   */
  private static Attachment sendable(Attachment attachment) {
    return io.jipam.core.store.InterfaceName.requireUnicode(attachment, "jipamd's API");
  }

  @Override
  public void defined(io.jipam.core.cni.NetworkPools network) {
    subPools.defined(network);
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    ReleaseRequest r = ReleaseRequest.newBuilder().setPool(WireMapping.pool(pool)).setApplyByUnixMillis(applyBy())
        .setAttachment(WireMapping.attachment(sendable(attachment))).build();
    return allocations(channel.call(IpamGrpcClient.Release, r, Retry.IDEMPOTENT));
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    FindRequest r = FindRequest.newBuilder().setPool(WireMapping.pool(pool))
        .setAttachment(WireMapping.attachment(sendable(attachment))).build();
    return allocations(channel.call(IpamGrpcClient.Find, r, Retry.IDEMPOTENT));
  }

  @Override
  public List<Allocation> list(Pool pool) {
    List<Allocation> out = new ArrayList<>();
    for (Listed l : list(pool, Filter.ALL)) {
      out.add(l.allocation());
    }
    return out;
  }

  /**
   * The pool's allocations matching {@code filter}, with the node that made each ({@code ""} where
   * jipamd's store records none), in address order: List page by page, each page a call. A node
   * filter is refused (UNSUPPORTED_FIELD) by a jipamd whose store records no node.
   */
  public List<Listed> list(Pool pool, Filter filter) {
    List<Listed> out = new ArrayList<>();
    IpAddress after = null;
    do {
      Page page = page(pool, filter, after, 0);
      out.addAll(page.allocations());
      IpAddress next = page.next();
      if (next != null && after != null && next.compareTo(after) <= 0) {
        // pages go up in address order: a jipamd answering otherwise would have this loop forever
        throw new IpamException(ErrorCode.DECODE_FAILURE, "jipamd at " + channel.target() + " answered a List page"
            + " to continue after " + next + ", not after the page before's " + after);
      }
      after = next;
    } while (after != null);
    return out;
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    RetainOnlyRequest.Builder r = RetainOnlyRequest.newBuilder().setPool(WireMapping.pool(pool))
        .setApplyByUnixMillis(applyBy());
    valid.forEach(a -> r.addValid(WireMapping.attachment(a)));
    return allocations(channel.call(IpamGrpcClient.RetainOnly, r.build(), Retry.IDEMPOTENT));
  }

  /**
   * The time a change sent now must apply by, if at all (milliseconds since the epoch, this host's
   * clock): three quarters of the time left to it from now, which is this store's timeout, or less
   * when the calling thread runs within an earlier deadline ({@code ApplyBy}: a node jipamd's CNI
   * call, whose client gives up sooner); the last quarter is the margin for the difference between
   * this host's clock and jipamd's. jipamd neither starts nor retries the change after that, so a
   * change held up on the way cannot apply after this store answered that it failed and its caller
   * went on (a DEL after a failed ADD, an ADD after a failed DEL; see {@code ApplyBy}). The guarantee
   * holds while the clocks differ by less than the margin (1.25 s at the default 5 s timeout); a
   * jipamd whose clock is ahead by more than the rest refuses every change, saying so.
   */
  long applyBy() {
    long now = wallClock.millis();
    long upstream = io.jipam.core.store.capability.ApplyBy.current(); // this call's own caller's, on this host
    long left = channel.target().timeout().toMillis();
    if (upstream != 0) {
      left = Math.min(left, upstream - now); // none left: jipamd refuses it, as it should
    }
    return left <= 0 ? now + left : now + left - left / 4;
  }

  /** Audit: the consistency findings of jipamd's store for the pool. */
  @Override
  public List<String> audit(Pool pool) {
    return channel.call(IpamGrpcClient.Audit, io.jipam.api.v1.AuditRequest.newBuilder().setPool(WireMapping.pool(pool)).build(),
        Retry.IDEMPOTENT).getFindingsList();
  }

  /** RetainOnly's dry run: what jipamd's store would release, changing nothing. */
  @Override
  public List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid) {
    RetainOnlyRequest.Builder r = RetainOnlyRequest.newBuilder().setPool(WireMapping.pool(pool)).setDryRun(true);
    valid.forEach(a -> r.addValid(WireMapping.attachment(a)));
    return allocations(channel.call(IpamGrpcClient.RetainOnly, r.build(), Retry.IDEMPOTENT));
  }

  @Override
  public PoolUsage usage(Pool pool) {
    UsageRequest r = UsageRequest.newBuilder().setPool(WireMapping.pool(pool)).build();
    return WireMapping.usage(channel.call(IpamGrpcClient.Usage, r, Retry.IDEMPOTENT).getRangeSetsList());
  }

  /**
   * Usage as jipamd answers it: per range set, and per block (with owners) when its store has
   * blocks ({@link PoolStatus#hasBlocks}).
   */
  public PoolStatus status(Pool pool) {
    UsageRequest r = UsageRequest.newBuilder().setPool(WireMapping.pool(pool)).build();
    return WireMapping.status(pool, channel.call(IpamGrpcClient.Usage, r, Retry.IDEMPOTENT));
  }

  /**
   * The page as jipamd's store pages it (List with the filter, the size and the position as
   * token); size 0 is jipamd's default page size, a size above its most is cut to it.
   */
  @Override
  public Page page(Pool pool, Filter filter, IpAddress after, int size) {
    ListRequest r = WireMapping.listRequest(pool, filter, after, size);
    return WireMapping.page(channel.call(IpamGrpcClient.List, r, Retry.IDEMPOTENT));
  }

  /**
   * Usage with blocks as jipamd's store answers it; no blocks when that store has none (files,
   * memory).
   */
  @Override
  public PoolBlocks blockUsage(Pool pool) {
    PoolStatus status = status(pool);
    return new PoolBlocks(status.usage(), status.hasBlocks() ? status.blocks() : List.of());
  }

  /**
   * The node behind each attachment of the pool, from List (all pages); empty nodes where jipamd's
   * store records none.
   */
  @Override
  public Map<Attachment, String> allocatingNodes(Pool pool) {
    Map<Attachment, String> out = new LinkedHashMap<>();
    for (Listed l : list(pool, Filter.ALL)) {
      out.put(l.allocation().attachment(), l.node());
    }
    return out;
  }

  /**
   * {@code grpc.health.v1.Health/Check} of {@code jipam.v1.Ipam}, answered SERVING: jipamd and its
   * own store answer. Not ListPools, whose answer grows with every pool and reads each one's usage
   * (a node jipamd's health check asks this every few seconds).
   */
  @Override
  public void ping() {
    io.vertx.grpc.health.v1.HealthCheckResponse r = channel.call(HEALTH_CHECK,
        io.vertx.grpc.health.v1.HealthCheckRequest.newBuilder().setService("jipam.v1.Ipam").build(), Retry.IDEMPOTENT);
    if (r.getStatus() != io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING) {
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd at " + channel.target() + " answers its health check "
          + r.getStatus() + ": its store does not answer");
    }
  }

  private static final io.vertx.grpc.common.ServiceMethod<io.vertx.grpc.health.v1.HealthCheckResponse,
      io.vertx.grpc.health.v1.HealthCheckRequest> HEALTH_CHECK = io.vertx.grpc.common.ServiceMethod.client(
          io.vertx.grpc.common.ServiceName.create("grpc.health.v1.Health"), "Check",
          io.vertx.grpc.common.GrpcMessageEncoder.encoder(),
          io.vertx.grpc.common.GrpcMessageDecoder.decoder(io.vertx.grpc.health.v1.HealthCheckResponse.newBuilder()));

  /** ReclaimNode; repeated after a transport failure (reclaiming a fenced node again finishes it). */
  @Override
  public ReclaimReport reclaimNode(String node, ReclaimPolicy policy) {
    return WireMapping.report(node, reclaim(WireMapping.reclaimRequest(node, policy).build()));
  }

  /** ReclaimNode's dry run. */
  @Override
  public ReclaimPreview previewReclaim(String node, ReclaimPolicy policy) {
    return WireMapping.preview(node, reclaim(WireMapping.reclaimRequest(node, policy).setDryRun(true).build()));
  }

  /** The pools jipamd serves, by name, each with its usage (and blocks when its store has them). */
  public List<PoolStatus> pools() {
    return pools(ListPoolsRequest.getDefaultInstance());
  }

  /**
   * {@link #pools()} of network {@code network} only: its own pool and its sub-pools (a jipamd
   * before ListPools' network answers every pool; those of other networks are left out here).
   */
  public List<PoolStatus> pools(String network) {
    Pool.requireNetworkName(network);
    List<PoolStatus> out = new ArrayList<>();
    for (PoolStatus s : pools(ListPoolsRequest.newBuilder().setNetwork(network).build())) {
      if (Pool.networkOf(s.pool().name()).equals(network)) {
        out.add(s);
      }
    }
    return out;
  }

  private List<PoolStatus> pools(ListPoolsRequest request) {
    ListPoolsResponse r = channel.call(IpamGrpcClient.ListPools, request, Retry.IDEMPOTENT);
    List<PoolStatus> out = new ArrayList<>(r.getPoolsCount());
    for (PoolInfo info : r.getPoolsList()) {
      out.add(WireMapping.status(info));
    }
    return out;
  }

  /**
   * The sub-pools among the pools jipamd serves, with their networks and selectors (those it learnt
   * from CNI calls on its socket or from Allocate requests that name them, and on the file store
   * those kept with its pool definitions), by pool name: one ListPools that reads no usage.
   */
  public List<io.jipam.core.cni.SubPool> subPools() {
    ListPoolsResponse r = channel.call(IpamGrpcClient.ListPools,
        ListPoolsRequest.newBuilder().setDefinitionsOnly(true).build(), Retry.IDEMPOTENT);
    List<io.jipam.core.cni.SubPool> out = new ArrayList<>();
    for (PoolInfo info : r.getPoolsList()) {
      io.jipam.core.cni.SubPool sub = WireMapping.subPool(info);
      if (sub != null) {
        out.add(sub);
      }
    }
    return out;
  }

  /** ReclaimNode; repeated after a transport failure (reclaiming a fenced node again finishes it). */
  private ReclaimNodeResponse reclaim(ReclaimNodeRequest request) {
    return channel.call(IpamGrpcClient.ReclaimNode, request, Retry.IDEMPOTENT);
  }

  /**
   * LiftFence: true when the node had a fence. Repeated after a transport failure, so a fence the
   * lost first attempt removed reads as false.
   */
  @Override
  public boolean liftFence(String node) {
    return channel.call(IpamGrpcClient.LiftFence, LiftFenceRequest.newBuilder().setNode(node).build(), Retry.IDEMPOTENT).getLifted();
  }

  /**
   * RetirePool, answered by the other jipamd's store (operators only there). Repeated after a
   * transport failure, so a retire the lost first attempt applied reads as NotFound. A retired pool
   * is no longer kept by this store ({@link RemoteKeptPools#retired}).
   */
  @Override
  public io.jipam.core.store.capability.RetireOutcome retire(String pool) {
    Pool.requireName(pool);
    io.jipam.core.store.capability.RetireOutcome out = io.jipam.api.ClaimWire.outcome(pool, channel.call(
        IpamGrpcClient.RetirePool, io.jipam.api.v1.RetirePoolRequest.newBuilder().setPool(pool).build(),
        Retry.IDEMPOTENT));
    if (out instanceof io.jipam.core.store.capability.RetireOutcome.Retired) {
      kept.retired(pool);
    }
    return out;
  }

  // ---- Claims: Reserve, Unreserve, EndHold, ListClaims (operators' calls; each repeatable) ----

  @Override
  public io.jipam.core.store.capability.ReserveOutcome reserve(Pool pool, IpAddress address,
      io.jipam.core.store.PodRef podOrNamespace, boolean whenFree) {
    io.jipam.api.v1.ReserveRequest r = io.jipam.api.v1.ReserveRequest.newBuilder().setPool(WireMapping.pool(pool))
        .setAddress(address.toString()).setPod(WireMapping.pod(podOrNamespace)).setWhenFree(whenFree).build();
    return io.jipam.api.ClaimWire.outcome(channel.call(IpamGrpcClient.Reserve, r, Retry.IDEMPOTENT));
  }

  @Override
  public java.util.Optional<io.jipam.core.store.Claim> unreserve(Pool pool, IpAddress address) {
    return ended(channel.call(IpamGrpcClient.Unreserve, claimRequest(pool, address), Retry.IDEMPOTENT));
  }

  @Override
  public java.util.Optional<io.jipam.core.store.Claim> endHold(Pool pool, IpAddress address) {
    return ended(channel.call(IpamGrpcClient.EndHold, claimRequest(pool, address), Retry.IDEMPOTENT));
  }

  @Override
  public List<io.jipam.core.store.Claim> claims(Pool pool) {
    io.jipam.api.v1.ListClaimsRequest r = io.jipam.api.v1.ListClaimsRequest.newBuilder()
        .setPool(WireMapping.pool(pool)).build();
    return io.jipam.api.ClaimWire.claims(channel.call(IpamGrpcClient.ListClaims, r, Retry.IDEMPOTENT).getClaimsList());
  }

  private static io.jipam.api.v1.ClaimRequest claimRequest(Pool pool, IpAddress address) {
    return io.jipam.api.v1.ClaimRequest.newBuilder().setPool(WireMapping.pool(pool)).setAddress(address.toString())
        .build();
  }

  private static java.util.Optional<io.jipam.core.store.Claim> ended(io.jipam.api.v1.ClaimResponse r) {
    return r.hasClaim() ? java.util.Optional.of(io.jipam.api.ClaimWire.claim(r.getClaim())) : java.util.Optional.empty();
  }

  @Override
  public void close() {
    channel.close();
  }

  /** {@inheritDoc} Nothing to do on a connection without TLS. */
  @Override
  public void reloadTls(byte[] ca, byte[] cert, byte[] key) {
    channel.reloadTls(ca, cert, key);
  }

  private static List<Allocation> allocations(AllocationsResponse r) {
    return WireMapping.fromAllocations(r.getAllocationsList());
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
   *
   * @param connectTo for a host name: the IP address to connect to instead of looking the name up
   *     (the name still names the server, for TLS: its certificate must carry the name); null to
   *     look it up
   */
  public record Target(SocketAddress address, String text, Tls tls, Duration timeout, String connectTo) {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    public Target {
      Objects.requireNonNull(address, "address");
      timeout = timeout == null ? DEFAULT_TIMEOUT : timeout;
    }

    Target(SocketAddress address, String text, Tls tls, Duration timeout) {
      this(address, text, tls, timeout, null);
    }

    /**
     * The target {@code text} names: {@code unix:/path}, an absolute path, or {@code host:port}
     * ({@code [v6]:port}), with no TLS and the default timeout.
     *
     * @throws IpamException {@code INVALID_CONFIG} naming what is wrong with {@code text}
     */
    public static Target parse(String text) {
      return TargetText.parse(text);
    }

    public boolean isUnix() {
      return address.isDomainSocket();
    }

    public Target withTls(Tls tls) {
      return new Target(address, text, tls, timeout, connectTo);
    }

    public Target withTimeout(Duration timeout) {
      return new Target(address, text, tls, timeout, connectTo);
    }

    /**
     * This target reached at {@code ip} instead of the address its host name resolves to, as curl's
     * {@code --resolve} does; the name still names the server (TLS verifies it). For a jipamd found
     * by a Service's IP before the cluster's DNS runs.
     *
     * @throws IpamException {@code INVALID_CONFIG} when {@code ip} is not an IP address, or the
     *     target is a unix socket or already an IP address
     */
    public Target withConnectTo(String ip) {
      TargetText.checkConnectTo(this, ip);
      return new Target(address, text, tls, timeout, ip);
    }
  }
}
