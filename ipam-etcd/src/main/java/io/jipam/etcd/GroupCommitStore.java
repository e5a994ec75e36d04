package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.Cidr;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.ApplyBy;
import io.jipam.core.store.capability.AsyncChanges;
import io.jipam.core.store.capability.CommitCounters;
import io.jipam.core.store.capability.CommitListener;
import io.jipam.core.store.capability.PoolBlocks;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * {@link EtcdStore} on jetcd with a group commit per pool. Key layout: {@link Keys}.
 *
 * <h2>How an ADD or a DEL runs</h2>
 * The caller's thread queues the change on its pool's {@link CommitQueue} and waits (bounded by
 * the timeout), or, through {@link AsyncChanges}, gets a future its commit task completes. One commit task per pool at a time drains the queue, and its {@link
 * BatchCommitter} plans every queued change (up to {@value CommitQueue#MAX_BATCH}) one after another
 * into one {@link TxnPlan}, against the {@link PoolCache}'s copies of the node's blocks, with
 * {@link Placement} choosing addresses; the plan goes to etcd as ONE transaction whose guard is the
 * mod revision of every block and handle it read. When the guard fails, the else branch returns
 * those keys' current values in the same round trip; the cache is refreshed and the batch planned
 * again. So in the common case an ADD or a DEL costs one round trip, shared with whatever else was
 * queued. CHECK ({@link #find}), {@link #list} and {@link #usage} read etcd directly.
 *
 * <h2>Failures</h2>
 * Every etcd call is bounded by the caller's deadline (the store's timeout, or sooner the time the
 * caller's caller gave it to apply by, {@link ApplyBy}); transient failures are retried until it,
 * then the caller gets {@code TRY_AGAIN_LATER}. What a failed call may still do, and why a DEL wins
 * over a racing ADD: {@link CommitQueue}, {@link CommitTickets}, {@link TxnPlan}.
 *
 * <h2>Threads</h2>
 * Public methods are thread-safe. A pool's cached state is confined to its one commit task.
 *
 * <p>Length: about 470 lines, because it is the one object behind {@link EtcdStore}'s contract and
 * nine abilities (33 methods); each method is a few lines handing the call to the class that
 * does the work ({@link BatchCommitter}, {@link PoolViews}, {@link NodeReclaimer}, {@link
 * ListPaging}, {@link ClaimDesk}).
 */
final class GroupCommitStore implements EtcdStore, CommitCounters, AsyncChanges,
    io.jipam.core.store.capability.KeptPools, io.jipam.core.store.capability.RetirePools {
  /** Whose attachments the store may change: any node's, or its own node's only. */
  enum Scope {
    CLUSTER,
    OWN_NODE
  }

  /** Whether {@link #close} closes the etcd client and the commit threads or leaves them to their owner. */
  enum Resources {
    OWNED,
    BORROWED
  }

  private static final AtomicInteger THREADS = new AtomicInteger();

  private final StoreContext ctx;
  private final CommitTickets tickets;
  private final NodeReclaimer reclaimer;
  private final ClaimDesk claimDesk;
  private final PoolRetirer retirer;
  private final PoolViews views;
  private final ExecutorService committers;
  private final TxnSender sender;
  /** Whether this store owns its etcd client and commit threads (closes them). */
  private final boolean owns;
  private final ConcurrentHashMap<String, PoolSlot> pools = new ConcurrentHashMap<>();
  /** Which pools each network has, as this store last read them ({@link #keptPools}). */
  private final KnownNetworks known = new KnownNetworks();
  private volatile boolean closed;
  /** Successful transactions and the requests they carried (see {@link CommitCounters}). */
  private final AtomicLong commits = new AtomicLong();
  private final AtomicLong committedRequests = new AtomicLong();
  private final AtomicLong refusedCommits = new AtomicLong();
  private final AtomicLong bytesWritten = new AtomicLong();
  private final List<CommitListener> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** One pool's cache and commit queue in this store. */
  private record PoolSlot(PoolCache cache, CommitQueue queue) {}

  GroupCommitStore(EtcdStoreConfig config, LongSupplier clock, java.time.Clock wall) {
    this(config, new EtcdClient(config, clock), clock, wall, Scope.CLUSTER, newCommitters(), Resources.OWNED, null);
  }

  /**
   * A store on an etcd client and commit threads that may be shared with other stores ({@link
   * SharedClientStores}); with {@link Resources#BORROWED}, {@link #close} leaves both to their owner.
   *
   * @param scope whether the store acts for its own node only ({@link StoreContext#scoped})
   * @param sender sends its transactions (shared by the stores of a central jipamd, so that
   *     several nodes' changes share one etcd transaction); null: each in a transaction of its own
   */
  GroupCommitStore(EtcdStoreConfig config, EtcdClient etcd, LongSupplier clock, java.time.Clock wall, Scope scope,
      ExecutorService committers, Resources resources, TxnSender sender) {
    this.sender = sender != null ? sender : TxnSender.direct(etcd);
    Keys keys = new Keys(config.prefix());
    this.ctx = new StoreContext(config, etcd, keys, new BlockCodec(keys), clock, wall, scope == Scope.OWN_NODE);
    this.tickets = new CommitTickets(ctx);
    this.views = new PoolViews(ctx);
    this.committers = committers;
    this.owns = resources == Resources.OWNED;
    this.claimDesk = new ClaimDesk(ctx, views, p -> slot(p).cache());
    this.retirer = new PoolRetirer(ctx, views, this::retired);
    this.reclaimer = new NodeReclaimer(ctx, views, this::retrying, this::releaseAll,
        () -> pools.values().forEach(p -> p.cache().invalidate()));
  }

  /** Commit threads: daemons, created on demand, ended after a minute idle. */
  static ExecutorService newCommitters() {
    return Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "jipam-etcd-commit-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public String node() {
    return ctx.node();
  }

  Keys keys() {
    return ctx.keys();
  }

  /** Ticket leases this store has been granted (for tests). */
  long ticketGrants() {
    return tickets.ticketGrants();
  }

  EtcdClient etcd() {
    return ctx.etcd();
  }

  // ---------------------------------------------------------------- the store contract

  /** {@code attachment}, refused when its interface name is not text ({@link InterfaceName#requireUnicode}). */
  static Attachment storable(Attachment attachment) {
    return InterfaceName.requireUnicode(attachment, "the etcd store");
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    storable(request.attachment());
    return slot(pool).queue().submit(new Change.Add(pool, request, deadline()));
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return slot(pool).queue().submit(new Change.Del(pool, storable(attachment), deadline()));
  }

  @Override
  public CompletableFuture<AllocationOutcome> allocateAsync(Pool pool, AllocationRequest request) {
    try {
      storable(request.attachment());
    } catch (IpamException e) {
      return CompletableFuture.failedFuture(e);
    }
    return slot(pool).queue().submitAsync(new Change.Add(pool, request, deadline()));
  }

  @Override
  public CompletableFuture<List<Allocation>> releaseAsync(Pool pool, Attachment attachment) {
    try {
      storable(attachment);
    } catch (IpamException e) {
      return CompletableFuture.failedFuture(e);
    }
    return slot(pool).queue().submitAsync(new Change.Del(pool, attachment, deadline()));
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    storable(attachment);
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      cache.layoutForReading(deadline);
      String key = ctx.keys().handle(pool.name(), attachment);
      KeyValue kv = ctx.etcd().getAll(List.of(key), deadline, "reading handle " + key).get(0);
      if (kv == null) {
        return List.<Allocation>of();
      }
      Handle h = HandleCodec.decode(key, attachment, kv);
      IpamException denied = ctx.denial(h, attachment);
      if (denied != null) {
        throw denied;
      }
      return h.allocations();
    });
  }

  /**
   * {@inheritDoc}
   *
   * <p>From what this store knows of the network ({@link KnownNetworks}): no round trip once any
   * pool of the network was loaded here, which every ADD, DEL and GC in it does. A store that never
   * looked at the network (a plugin process's first call) reads the network's guard key and pools'
   * definitions in one transaction, and its caches of the network's pools start from that read
   * ({@link PoolCache#seed}), so that their first batch or read skips the round trip it spends
   * checking the pool's definition and reading the network: the call costs what it did before, but
   * when the pool it goes to was not defined yet (its first ADD). Each pool with its stored ranges,
   * so that a DEL, GC or find with it passes the definition's check.
   */
  @Override
  public List<Pool> keptPools(String network, Set<String> named, Pool like) {
    KnownNetworks.Known k = known.get(network);
    if (k == null) {
      long deadline = deadline();
      List<io.etcd.jetcd.kv.GetResponse> got = retrying(deadline, () -> ctx.etcd().txn(List.of(),
          NetworkPeers.reads(ctx.keys(), network), List.of(), deadline, "reading the pools of network " + network)
          .getGetResponses());
      known.read(ctx.keys(), network, got, true);
      k = known.get(network);
      for (PoolSlot s : pools.values()) {
        if (Pool.networkOf(s.cache().pool.name()).equals(network)) {
          known.seed(s.cache()); // caches made before this read (none, through the CNI handler)
        }
      }
    }
    return KnownNetworks.kept(k, named, like);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One etcd transaction ({@link PoolRetirer}); this store's caches of the pool forget its
   * definition, and other stores' find it gone when their next ADD in the network fails its guard
   * on the network key.
   */
  @Override
  public io.jipam.core.store.capability.RetireOutcome retire(String pool) {
    long deadline = deadline();
    return retrying(deadline, () -> retirer.retire(pool, deadline));
  }

  /** After this store retired a pool: it is no longer known, and its caches check the definition again. */
  private void retired(String pool, long revision) {
    known.retired(pool, revision);
    for (PoolSlot s : pools.values()) {
      if (s.cache().pool.name().equals(pool)) {
        s.cache().dropDefinition();
      }
    }
  }

  @Override
  public List<Allocation> list(Pool pool) {
    return view(pool, views::list);
  }

  @Override
  public List<Allocation> listPage(Pool pool, io.jipam.core.net.IpAddress after, int limit) {
    if (limit < 1 || limit > PoolViews.PAGE) {
      throw IpamException.invalidConfig("etcd store: a list page holds 1 to %d allocations, not %d", PoolViews.PAGE,
          limit);
    }
    return view(pool, (layout, deadline) -> views.page(layout, after, limit, deadline));
  }

  @Override
  public PoolUsage usage(Pool pool) {
    return view(pool, views::usage);
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    List<Attachment> stale = retrying(deadline, () -> {
      cache.layoutForReading(deadline); // a pool no one allocated from holds nothing to release
      // this node's own keys: the copies of its handles under node-handles/<node>/<pool>/
      List<Attachment> out = new ArrayList<>();
      ctx.etcd().walk(ctx.keys().nodeHandlesPrefix(ctx.node(), pool.name()), PoolViews.PAGE, Fetch.KEYS, deadline,
          "listing handles of " + ctx.node(), kv -> {
            Attachment a = Keys.parseHandle(EtcdClient.text(kv.getKey()));
            if (!valid.contains(a)) {
              out.add(a);
            }
          });
      return out;
    });
    return releaseAll(pool, stale);
  }

  @Override
  public long commits() {
    return commits.get();
  }

  @Override
  public long committedRequests() {
    return committedRequests.get();
  }

  @Override
  public long refusedCommits() {
    return refusedCommits.get();
  }

  @Override
  public long bytesWritten() {
    return bytesWritten.get();
  }

  @Override
  public long largestResponseBytes() {
    return ctx.etcd().tally().largestResponse();
  }

  @Override
  public long[] etcdReads() {
    return new long[] {ctx.etcd().tally().requests(), ctx.etcd().tally().bytesRead()};
  }

  @Override
  public long etcdDbSize() {
    return ctx.etcd().dbSize(deadline());
  }

  @Override
  public PoolBlocks nodeBlockUsage(Pool pool) {
    return view(pool, (layout, deadline) -> views.nodeBlockUsage(layout, ctx.node(), deadline));
  }

  @Override
  public void addCommitListener(CommitListener listener) {
    listeners.add(java.util.Objects.requireNonNull(listener, "listener"));
  }

  /** Tells the listeners of one commit; a {@link CommitListener} itself, for the commit tasks. */
  private final CommitListener notifier = new CommitListener() {
    @Override
    public void committed(String pool, int changes) {
      committed(pool, changes, 0);
    }

    @Override
    public void committed(String pool, int changes, long bytes) {
      for (CommitListener l : listeners) {
        l.committed(pool, changes, bytes);
      }
    }
  };

  @Override
  public PoolBlocks blockUsage(Pool pool) {
    return view(pool, views::blockUsage);
  }

  @Override
  public Map<Attachment, String> allocatingNodes(Pool pool) {
    return view(pool, views::allocatingNodes);
  }

  @Override
  public Map<Attachment, String> allocatingNodes(Pool pool, java.util.Collection<Attachment> attachments) {
    return view(pool, (layout, deadline) -> views.allocatingNodes(layout, attachments, deadline));
  }

  @Override
  public io.jipam.core.store.capability.ReserveOutcome reserve(Pool pool, io.jipam.core.net.IpAddress address,
      io.jipam.core.store.PodRef podOrNamespace, boolean whenFree) {
    long deadline = deadline();
    return retrying(deadline, () -> claimDesk.reserve(pool, address, podOrNamespace, whenFree, deadline));
  }

  @Override
  public java.util.Optional<io.jipam.core.store.Claim> unreserve(Pool pool, io.jipam.core.net.IpAddress address) {
    long deadline = deadline();
    return retrying(deadline, () -> claimDesk.unreserve(pool, address, deadline));
  }

  @Override
  public java.util.Optional<io.jipam.core.store.Claim> endHold(Pool pool, io.jipam.core.net.IpAddress address) {
    long deadline = deadline();
    return retrying(deadline, () -> claimDesk.endHold(pool, address, deadline));
  }

  @Override
  public List<io.jipam.core.store.Claim> claims(Pool pool) {
    long deadline = deadline();
    return retrying(deadline, () -> claimDesk.claims(pool, deadline));
  }

  @Override
  public List<String> audit(Pool pool) {
    return view(pool, views::audit);
  }

  /** A read-only view of the pool, read with retries until the deadline; defines no pool. */
  private <T> T view(Pool pool, java.util.function.BiFunction<BlockLayout, Long, T> read) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> read.apply(cache.layoutForReading(deadline), deadline));
  }

  @Override
  public List<Pool> definedPools() {
    long deadline = deadline();
    return retrying(deadline, () -> reclaimer.definedPools(deadline));
  }

  @Override
  public List<Pool> definedPools(String network) {
    Pool.requireNetworkName(network);
    long deadline = deadline();
    List<io.etcd.jetcd.kv.GetResponse> got = retrying(deadline, () -> ctx.etcd().txn(List.of(),
        NetworkPeers.definitionReads(ctx.keys(), network), List.of(), deadline,
        "reading the pool definitions of network " + network).getGetResponses());
    List<Pool> out = new ArrayList<>();
    KnownNetworks.definitions(ctx.keys(), network, got).values().forEach(d -> out.add(d.pool()));
    out.sort(Comparator.comparing(Pool::name));
    return out;
  }

  @Override
  public ReclaimReport reclaimNode(String gone, ReclaimPolicy policy) {
    checkOpen();
    return reclaimer.reclaim(gone, policy);
  }

  @Override
  public void ping() {
    checkOpen();
    long deadline = deadline();
    retrying(deadline, () -> ctx.etcd().getAll(List.of(ctx.keys().nodeRecord(ctx.node())), deadline, "ping"));
  }

  @Override
  public ReclaimPreview previewReclaim(String node, ReclaimPolicy policy) {
    checkOpen();
    return reclaimer.preview(node, policy);
  }

  @Override
  public boolean liftFence(String fenced) {
    return reclaimer.liftFence(fenced, deadline());
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!owns) {
      return;
    }
    committers.shutdown();
    try {
      committers.awaitTermination(Math.max(1, ctx.timeoutNanos() / 1_000_000), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    committers.shutdownNow();
    tickets.close();
    ctx.etcd().close();
  }

  // ---------------------------------------------------------------- plumbing

  /**
   * A call's deadline: the store's timeout from now, or the caller's apply-by time when sooner
   * ({@link ApplyBy}: a call its caller has given up on neither starts nor retries).
   */
  private long deadline() {
    checkOpen();
    return ApplyBy.bound(ctx.now(), ctx.timeoutNanos(), ctx.wallNow().toEpochMilli());
  }

  private void checkOpen() {
    if (closed) {
      throw new IpamException(ErrorCode.INTERNAL, "etcd store is closed");
    }
  }

  private PoolSlot slot(Pool pool) {
    return pools.computeIfAbsent(pool.name() + "\n" + BlockLayout.rangesText(pool), k -> {
      PoolCache cache = new PoolCache(ctx, views, known, pool);
      known.seed(cache);
      BatchCommitter committer = new BatchCommitter(ctx, cache, tickets, commits, committedRequests, refusedCommits, bytesWritten,
          notifier, sender);
      return new PoolSlot(cache, new CommitQueue(committers, ctx.clock(), ctx.timeoutNanos(), committer));
    });
  }

  /** Runs a read, retrying transient failures until the deadline. */
  private <T> T retrying(long deadline, Supplier<T> read) {
    while (true) {
      try {
        return read.get();
      } catch (IpamException e) {
        if (e.code() != ErrorCode.TRY_AGAIN_LATER || ctx.now() + 50_000_000L > deadline) {
          throw e;
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted", ie);
        }
      }
    }
  }

  /** DELs of many attachments, queued at once so they share transactions. */
  private List<Allocation> releaseAll(Pool pool, List<Attachment> attachments) {
    long deadline = ApplyBy.bound(ctx.now(), ctx.timeoutNanos() * (1 + attachments.size() / 256),
        ctx.wallNow().toEpochMilli());
    List<Change.Del> dels = new ArrayList<>();
    for (Attachment a : attachments) {
      dels.add(new Change.Del(pool, a, deadline));
    }
    List<Allocation> released = new ArrayList<>();
    slot(pool).queue().submitAll(dels).forEach(released::addAll);
    released.sort(Comparator.comparing(Allocation::address));
    return released;
  }
}
