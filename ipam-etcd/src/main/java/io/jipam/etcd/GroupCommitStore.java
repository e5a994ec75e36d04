package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.Cidr;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * the timeout). One commit task per pool at a time drains the queue, and its {@link
 * BatchCommitter} plans every queued change (up to {@value CommitQueue#MAX_BATCH}) one after another
 * into one {@link TxnPlan}, against the {@link PoolCache}'s copies of the node's blocks, with
 * {@link Placement} choosing addresses; the plan goes to etcd as ONE transaction whose guard is the
 * mod revision of every block and handle it read. When the guard fails, the else branch returns
 * those keys' current values in the same round trip; the cache is refreshed and the batch planned
 * again. So in the common case an ADD or a DEL costs one round trip, shared with whatever else was
 * queued. CHECK ({@link #find}), {@link #list} and {@link #usage} read etcd directly.
 *
 * <h2>Failures</h2>
 * Every etcd call is bounded by the caller's deadline; transient failures are retried until it,
 * then the caller gets {@code TRY_AGAIN_LATER}. What a failed call may still do, and why a DEL wins
 * over a racing ADD: {@link CommitQueue}, {@link CommitTickets}, {@link TxnPlan}.
 *
 * <h2>Threads</h2>
 * Public methods are thread-safe. A pool's cached state is confined to its one commit task.
 */
final class GroupCommitStore implements EtcdStore, CommitCounters {
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final StoreContext ctx;
  private final CommitTickets tickets;
  private final NodeReclaimer reclaimer;
  private final ExecutorService committers;
  /** Whether this store owns its etcd client and commit threads (closes them). */
  private final boolean owns;
  private final ConcurrentHashMap<String, PoolSlot> pools = new ConcurrentHashMap<>();
  private volatile boolean closed;
  /** Successful transactions and the requests they carried (see {@link CommitCounters}). */
  private final AtomicLong commits = new AtomicLong();
  private final AtomicLong committedRequests = new AtomicLong();
  private final AtomicLong refusedCommits = new AtomicLong();
  private final List<CommitListener> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** One pool's cache and commit queue in this store. */
  private record PoolSlot(PoolCache cache, CommitQueue queue) {}

  GroupCommitStore(EtcdStoreConfig config, LongSupplier clock) {
    this(config, new EtcdClient(config, clock), clock, false, newCommitters(), true);
  }

  /**
   * A store on an etcd client and commit threads that may be shared with other stores ({@link
   * SharedClientStores}); with {@code owns} false, {@link #close} leaves both to their owner.
   *
   * @param scoped see {@link StoreContext#scoped}
   */
  GroupCommitStore(EtcdStoreConfig config, EtcdClient etcd, LongSupplier clock, boolean scoped,
      ExecutorService committers, boolean owns) {
    Keys keys = new Keys(config.prefix());
    this.ctx = new StoreContext(config, etcd, keys, new BlockCodec(keys), clock, scoped);
    this.tickets = new CommitTickets(ctx);
    this.committers = committers;
    this.owns = owns;
    this.reclaimer = new NodeReclaimer(ctx, this::retrying, this::releaseAll,
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

  EtcdClient etcd() {
    return ctx.etcd();
  }

  // ---------------------------------------------------------------- the store contract

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return slot(pool).queue().submit(new Change.Add(pool, request, deadline()));
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return slot(pool).queue().submit(new Change.Del(pool, attachment, deadline()));
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      cache.definition(deadline);
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

  @Override
  public List<Allocation> list(Pool pool) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      List<Allocation> out = new ArrayList<>();
      for (Block b : cache.readBlocks(-1, deadline)) {
        for (Map.Entry<Integer, Block.Entry> e : b.entries.entrySet()) {
          out.add(new Allocation(b.addressAt(e.getKey()), b.set, e.getValue().attachment(), e.getValue().pod()));
        }
      }
      out.sort(Comparator.comparing(Allocation::address));
      return out;
    });
  }

  @Override
  public PoolUsage usage(Pool pool) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      BlockLayout layout = cache.definition(deadline);
      long[] allocated = new long[layout.sets()];
      for (Block b : cache.readBlocks(-1, deadline)) {
        allocated[b.set] += b.entries.size();
      }
      long[] capacity = new long[layout.sets()];
      for (int s = 0; s < capacity.length; s++) {
        capacity[s] = layout.capacity(s);
      }
      return PoolUsage.of(allocated, capacity);
    });
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    List<Attachment> stale = retrying(deadline, () -> {
      cache.definition(deadline);
      List<Attachment> out = new ArrayList<>();
      for (KeyValue kv : ctx.etcd().range(ctx.keys().handlesPrefix(pool.name()), false, deadline,
          "listing handles")) {
        Handle h = HandleCodec.decode(kv);
        Attachment a = Keys.parseHandle(EtcdClient.text(kv.getKey()));
        if (h.node().equals(ctx.node()) && !valid.contains(a)) {
          out.add(a);
        }
      }
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
  public void addCommitListener(CommitListener listener) {
    listeners.add(java.util.Objects.requireNonNull(listener, "listener"));
  }

  private void notifyCommit(String pool, int changes) {
    for (CommitListener l : listeners) {
      l.committed(pool, changes);
    }
  }

  @Override
  public PoolBlocks blockUsage(Pool pool) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      BlockLayout layout = cache.definition(deadline);
      long[] allocated = new long[layout.sets()];
      List<BlockUsage> blocks = new ArrayList<>();
      for (Block b : cache.readBlocks(-1, deadline)) {
        allocated[b.set] += b.entries.size();
        blocks.add(new BlockUsage(b.set, new Cidr(b.net, layout.blockLength(b.set)), b.owner, b.entries.size(),
            BlockLayout.count(layout.allowed(b.set, b.net))));
      }
      blocks.sort(Comparator.comparingInt(BlockUsage::rangeSet).thenComparing(u -> u.block().network()));
      long[] capacity = new long[layout.sets()];
      for (int s = 0; s < capacity.length; s++) {
        capacity[s] = layout.capacity(s);
      }
      return new PoolBlocks(PoolUsage.of(allocated, capacity), blocks);
    });
  }

  @Override
  public Map<Attachment, String> allocatingNodes(Pool pool) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      cache.definition(deadline);
      Map<Attachment, String> out = new java.util.HashMap<>();
      for (KeyValue kv : ctx.etcd().range(ctx.keys().handlesPrefix(pool.name()), false, deadline,
          "listing handles")) {
        out.put(Keys.parseHandle(EtcdClient.text(kv.getKey())), HandleCodec.decode(kv).node());
      }
      return out;
    });
  }

  @Override
  public List<String> audit(Pool pool) {
    PoolCache cache = slot(pool).cache();
    long deadline = deadline();
    return retrying(deadline, () -> {
      BlockLayout layout = cache.definition(deadline);
      io.etcd.jetcd.kv.TxnResponse r = ctx.etcd().txn(List.of(),
          List.of(EtcdClient.getPrefix(ctx.keys().blocksPrefix(pool.name())),
              EtcdClient.getPrefix(ctx.keys().handlesPrefix(pool.name()))), List.of(), deadline, "auditing " + pool.name());
      Map<io.jipam.core.net.IpAddress, Block.Entry> inBlocks = new java.util.TreeMap<>();
      Map<io.jipam.core.net.IpAddress, String> blockOf = new java.util.HashMap<>();
      Map<io.jipam.core.net.IpAddress, Integer> setOf = new java.util.HashMap<>();
      for (KeyValue kv : r.getGetResponses().get(0).getKvs()) {
        Block b = ctx.blocks().decode(layout, kv);
        b.entries.forEach((offset, e) -> {
          inBlocks.put(b.addressAt(offset), e);
          blockOf.put(b.addressAt(offset), b.key);
          setOf.put(b.addressAt(offset), b.set);
        });
      }
      List<String> out = new ArrayList<>();
      java.util.Set<String> listed = new java.util.HashSet<>(); // address and holder
      for (KeyValue kv : r.getGetResponses().get(1).getKvs()) {
        String key = EtcdClient.text(kv.getKey());
        Handle h = HandleCodec.decode(kv);
        for (Allocation a : h.allocations()) {
          listed.add(a.address() + " " + a.attachment());
          Block.Entry e = inBlocks.get(a.address());
          if (e == null) {
            out.add(pool.name() + ": handle " + key + " lists " + a.address() + ", which no block holds");
          } else if (!e.attachment().equals(a.attachment())) {
            out.add(pool.name() + ": handle " + key + " lists " + a.address() + ", which block "
                + blockOf.get(a.address()) + " gives to " + e.attachment());
          } else if (setOf.get(a.address()) != a.rangeSetIndex()) {
            out.add(pool.name() + ": handle " + key + " lists " + a.address() + " in range set " + a.rangeSetIndex()
                + ", block " + blockOf.get(a.address()) + " is of set " + setOf.get(a.address()));
          }
        }
      }
      inBlocks.forEach((address, e) -> {
        if (!listed.contains(address + " " + e.attachment())) {
          out.add(pool.name() + ": block " + blockOf.get(address) + " gives " + address + " to " + e.attachment()
              + ", whose handle does not list it");
        }
      });
      return out;
    });
  }

  @Override
  public List<Pool> definedPools() {
    long deadline = deadline();
    return retrying(deadline, () -> reclaimer.definedPools(deadline));
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
    ctx.etcd().close();
  }

  // ---------------------------------------------------------------- plumbing

  private long deadline() {
    checkOpen();
    return ctx.now() + ctx.timeoutNanos();
  }

  private void checkOpen() {
    if (closed) {
      throw new IpamException(ErrorCode.INTERNAL, "etcd store is closed");
    }
  }

  private PoolSlot slot(Pool pool) {
    return pools.computeIfAbsent(pool.name() + "\n" + BlockLayout.rangesText(pool), k -> {
      PoolCache cache = new PoolCache(ctx, pool);
      BatchCommitter committer = new BatchCommitter(ctx, cache, tickets, commits, committedRequests, refusedCommits,
          this::notifyCommit);
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
    long deadline = ctx.now() + ctx.timeoutNanos() * (1 + attachments.size() / 256);
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
