package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * {@link EtcdIpamStore} on jetcd. Key layout: see {@link Keys}.
 *
 * <h2>How an ADD runs</h2>
 * The caller's thread queues the request on its pool's commit queue and waits (bounded by the
 * timeout). One commit task per pool at a time drains the queue: it takes every queued request
 * (up to {@value #MAX_BATCH}), plans them one after another against its cached copy of the
 * node's blocks, and writes them all in ONE etcd transaction whose guard is the mod revision of
 * every block and handle it read (group commit). When the guard fails, the transaction's else
 * branch returns those keys' current values in the same round trip; the task refreshes its cache
 * and plans again (safe: nothing was written). So in the common case an ADD or a DEL costs one
 * round trip, shared with whatever else was queued.
 *
 * <h2>Choosing an address</h2>
 * Per range set: the node's own blocks (affinity) in address order, the first with a free
 * address; inside a block, round-robin from the block's stored cursor (or lowest free, as the pool
 * says). When the node's blocks are full it claims the first block that does not exist yet
 * (create guarded by version = 0), then a block without owner, then, unless strict affinity,
 * borrows a free address from another node's block. Requested addresses go to whatever block
 * holds them (created for this node if it does not exist). A release that empties a block deletes
 * it when it has no owner, or when its owner is this node and the node owns another block of the
 * set (a node keeps its last block, and with it its cursor).
 *
 * <h2>Failures</h2>
 * Every etcd call is bounded by the request's deadline. A transient failure (unreachable, no
 * leader, timeout) drops the cache and retries until the deadline; a transaction whose outcome is
 * unknown is simply planned again: its guard makes a second application impossible, and a
 * repeated ADD then finds its own handle. When the deadline passes the caller gets {@code
 * TRY_AGAIN_LATER}.
 *
 * <h2>Threads</h2>
 * Public methods are thread-safe. {@link PoolView} state is confined to the one commit task that
 * holds the view's {@code draining} flag (handed over through that atomic, which orders memory).
 */
final class EtcdStore implements EtcdIpamStore {
  static final int MAX_BATCH = 32;
  /** Keep transactions below etcd's default --max-txn-ops of 128. */
  private static final int MAX_TXN_OPS = 100;
  private static final int MAX_CANDIDATES = 1 << 16;
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final EtcdStoreConfig config;
  private final EtcdClient etcd;
  private final Keys keys;
  private final String node;
  private final long timeoutNanos;
  private final LongSupplier nanoTime;
  private final ExecutorService committers;
  private final ConcurrentHashMap<String, PoolView> views = new ConcurrentHashMap<>();
  private volatile boolean closed;
  /** Successful transactions and the requests they carried; for tests and the benchmark. */
  final java.util.concurrent.atomic.AtomicLong commits = new java.util.concurrent.atomic.AtomicLong();
  final java.util.concurrent.atomic.AtomicLong committedRequests = new java.util.concurrent.atomic.AtomicLong();

  EtcdStore(EtcdStoreConfig config, LongSupplier nanoTime) {
    this.config = config;
    this.nanoTime = nanoTime;
    this.etcd = new EtcdClient(config, nanoTime);
    this.keys = new Keys(config.prefix());
    this.node = config.node();
    this.timeoutNanos = config.timeout().toNanos();
    this.committers = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "jipam-etcd-commit-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public String node() {
    return node;
  }

  Keys keys() {
    return keys;
  }

  EtcdClient etcd() {
    return etcd;
  }

  // ---------------------------------------------------------------- public operations

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return (AllocationOutcome) submit(view(pool), new Op(pool, request, request.attachment(), deadline()));
  }

  @SuppressWarnings("unchecked")
  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return (List<Allocation>) submit(view(pool), new Op(pool, null, attachment, deadline()));
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    PoolView v = view(pool);
    long deadline = deadline();
    return retrying(deadline, () -> {
      checkDefinition(v, deadline);
      String key = keys.handle(pool.name(), attachment);
      List<KeyValue> got = etcd.getAll(List.of(key), deadline, "reading handle " + key);
      if (got.get(0) == null) {
        return List.<Allocation>of();
      }
      Handle h = Handle.decode(key, attachment, EtcdClient.text(got.get(0).getValue()), got.get(0).getModRevision());
      return h.allocations();
    });
  }

  @Override
  public List<Allocation> list(Pool pool) {
    PoolView v = view(pool);
    long deadline = deadline();
    return retrying(deadline, () -> {
      PoolLayout layout = checkDefinition(v, deadline);
      List<Allocation> out = new ArrayList<>();
      for (Block b : readBlocks(layout, -1, deadline)) {
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
    PoolView v = view(pool);
    long deadline = deadline();
    return retrying(deadline, () -> {
      PoolLayout layout = checkDefinition(v, deadline);
      long[] allocated = new long[layout.sets()];
      for (Block b : readBlocks(layout, -1, deadline)) {
        allocated[b.set] += b.entries.size();
      }
      List<Long> used = new ArrayList<>();
      List<Long> free = new ArrayList<>();
      for (int s = 0; s < allocated.length; s++) {
        used.add(allocated[s]);
        long cap = layout.capacity(s);
        free.add(cap == -1L ? -1L : Math.max(0, cap - allocated[s]));
      }
      return new PoolUsage(used, free);
    });
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    PoolView v = view(pool);
    long deadline = deadline();
    List<Attachment> stale = retrying(deadline, () -> {
      checkDefinition(v, deadline);
      List<Attachment> out = new ArrayList<>();
      for (KeyValue kv : etcd.range(keys.handlesPrefix(pool.name()), false, deadline, "listing handles")) {
        String key = EtcdClient.text(kv.getKey());
        Attachment a = Handle.attachmentOf(key);
        Handle h = Handle.decode(key, a, EtcdClient.text(kv.getValue()), kv.getModRevision());
        if (h.node().equals(node) && !valid.contains(a)) {
          out.add(a);
        }
      }
      return out;
    });
    return releaseAll(v, pool, stale);
  }

  @Override
  public Map<String, List<Allocation>> reclaimNode(String deadNode) {
    checkOpen();
    long deadline = nanoTime.getAsLong() + timeoutNanos * 4;
    Map<String, PoolLayout> pools = retrying(deadline, () -> {
      Map<String, PoolLayout> out = new TreeMap<>();
      for (KeyValue kv : etcd.range(keys.poolsPrefix(), false, deadline, "listing pools")) {
        String name = Keys.lastSegment(EtcdClient.text(kv.getKey()));
        out.put(name, PoolLayout.parse(name, EtcdClient.text(kv.getValue()), AllocationOrder.ROUND_ROBIN));
      }
      return out;
    });
    Map<String, List<Allocation>> released = new TreeMap<>();
    for (PoolLayout layout : pools.values()) {
      Pool pool = layout.pool();
      PoolView v = view(pool);
      List<Attachment> theirs = retrying(deadline, () -> {
        List<Attachment> out = new ArrayList<>();
        for (KeyValue kv : etcd.range(keys.handlesPrefix(pool.name()), false, deadline, "listing handles")) {
          String key = EtcdClient.text(kv.getKey());
          Attachment a = Handle.attachmentOf(key);
          if (Handle.decode(key, a, EtcdClient.text(kv.getValue()), kv.getModRevision()).node().equals(deadNode)) {
            out.add(a);
          }
        }
        return out;
      });
      List<Allocation> done = releaseAll(v, pool, theirs);
      if (!done.isEmpty()) {
        released.put(pool.name(), done);
      }
    }
    // give the node's blocks back: delete the empty ones, orphan the rest
    retrying(deadline, () -> {
      for (KeyValue kv : etcd.range(keys.affinityPrefix(deadNode), true, deadline, "listing affinities")) {
        String affinityKey = EtcdClient.text(kv.getKey());
        String[] parts = affinityKey.substring(keys.affinityPrefix(deadNode).length()).split("/");
        PoolLayout layout = pools.get(parts[0]);
        int set = Integer.parseInt(parts[1]);
        String blockKey = layout == null ? null : keys.block(parts[0], set, parts[2]);
        for (int attempt = 0; ; attempt++) {
          List<Cmp> cmps = new ArrayList<>();
          List<io.etcd.jetcd.op.Op> then = new ArrayList<>();
          then.add(EtcdClient.delete(affinityKey));
          if (blockKey != null) {
            KeyValue got = etcd.getAll(List.of(blockKey), deadline, "reading block " + blockKey).get(0);
            if (got != null) {
              IpAddress net = layout.netOf(set, parts[2]);
              Block b = Block.decode(blockKey, set, net, layout.hostBits(set), EtcdClient.text(got.getValue()),
                  got.getModRevision());
              cmps.add(EtcdClient.modRev(blockKey, b.modRev));
              if (b.owner.equals(deadNode)) {
                if (b.entries.isEmpty()) {
                  then.add(EtcdClient.delete(blockKey));
                } else {
                  b.owner = "";
                  then.add(EtcdClient.put(blockKey, b.encode()));
                }
              }
            }
          }
          if (etcd.txn(cmps, then, List.of(), deadline, "releasing block of " + deadNode).isSucceeded()) {
            break;
          }
          if (attempt > 20) {
            throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "block " + blockKey + " keeps changing");
          }
        }
      }
      return null;
    });
    // our caches may hold those blocks: let them reload
    for (PoolView v : views.values()) {
      v.invalidate.set(true);
    }
    return released;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    committers.shutdown();
    try {
      committers.awaitTermination(Math.max(1, timeoutNanos / 1_000_000), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    committers.shutdownNow();
    etcd.close();
  }

  // ---------------------------------------------------------------- plumbing

  private long deadline() {
    checkOpen();
    return nanoTime.getAsLong() + timeoutNanos;
  }

  private void checkOpen() {
    if (closed) {
      throw new IpamException(ErrorCode.INTERNAL, "etcd store is closed");
    }
  }

  private PoolView view(Pool pool) {
    String text = PoolLayout.rangesText(pool);
    return views.computeIfAbsent(pool.name() + "\n" + text, k -> new PoolView(pool));
  }

  /** Runs a read, retrying transient failures until the deadline. */
  private <T> T retrying(long deadline, Supplier<T> read) {
    while (true) {
      try {
        return read.get();
      } catch (IpamException e) {
        if (e.code() != ErrorCode.TRY_AGAIN_LATER || nanoTime.getAsLong() + 50_000_000L > deadline) {
          throw e;
        }
        pause(50);
      }
    }
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted", e);
    }
  }

  private List<Allocation> releaseAll(PoolView v, Pool pool, List<Attachment> attachments) {
    List<Op> ops = new ArrayList<>();
    long deadline = nanoTime.getAsLong() + timeoutNanos * (1 + attachments.size() / 256);
    for (Attachment a : attachments) {
      ops.add(new Op(pool, null, a, deadline));
    }
    List<Allocation> released = new ArrayList<>();
    IpamException first = null;
    v.queue.addAll(ops);
    kick(v);
    for (Op op : ops) {
      try {
        @SuppressWarnings("unchecked")
        List<Allocation> got = (List<Allocation>) await(v, op);
        released.addAll(got);
      } catch (IpamException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
    released.sort(Comparator.comparing(Allocation::address));
    return released;
  }

  /** Reads the pool's blocks (of one set, or all when set is -1). */
  private List<Block> readBlocks(PoolLayout layout, int set, long deadline) {
    String name = layout.pool().name();
    String prefix = set < 0 ? keys.blocksPrefix(name) : keys.blocksPrefix(name, set);
    List<Block> out = new ArrayList<>();
    for (KeyValue kv : etcd.range(prefix, false, deadline, "listing blocks of " + name)) {
      String key = EtcdClient.text(kv.getKey());
      String[] parts = key.substring(keys.blocksPrefix(name).length()).split("/");
      int s = Integer.parseInt(parts[0]);
      IpAddress net = s < layout.sets() ? layout.netOf(s, parts[1]) : null;
      if (net == null) {
        throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: unexpected block key " + key);
      }
      out.add(Block.decode(key, s, net, layout.hostBits(s), EtcdClient.text(kv.getValue()), kv.getModRevision()));
    }
    return out;
  }

  /**
   * Makes sure the pool is defined in etcd, defining it from this config when it is not, and
   * refusing a config whose ranges differ from the stored ones.
   */
  private PoolLayout checkDefinition(PoolView v, long deadline) {
    PoolLayout layout = v.layout;
    if (layout != null) {
      return layout;
    }
    synchronized (v.definitionLock) {
      if (v.layout != null) {
        return v.layout;
      }
      Pool pool = v.pool;
      String key = keys.pool(pool.name());
      String mine = PoolLayout.fresh(pool, config.blockSizeV4(), config.blockSizeV6()).definition();
      TxnResponse r = etcd.txn(List.of(EtcdClient.absent(key)), List.of(EtcdClient.put(key, mine)),
          List.of(EtcdClient.get(key)), deadline, "defining pool " + pool.name());
      String stored = r.isSucceeded() ? mine : EtcdClient.text(r.getGetResponses().get(0).getKvs().get(0).getValue());
      PoolLayout defined = PoolLayout.parse(pool.name(), stored, pool.order());
      if (!PoolLayout.rangesText(defined.pool()).equals(v.rangesText)) {
        throw IpamException.invalidConfig("network \"%s\" is already defined in etcd (%s) with ranges %s;"
            + " this config names ranges %s. A pool's ranges are fixed by the first config that names it:"
            + " use another network name, or delete the pool's keys when it is no longer used",
            pool.name(), key, PoolLayout.describe(defined.pool()), PoolLayout.describe(pool));
      }
      // the stored block lengths win: every node must cut the pool the same way
      int[] lengths = new int[defined.sets()];
      for (int s = 0; s < lengths.length; s++) {
        lengths[s] = defined.blockLength(s);
      }
      v.layout = new PoolLayout(pool, lengths);
      return v.layout;
    }
  }

  private Object submit(PoolView v, Op op) {
    v.queue.add(op);
    kick(v);
    return await(v, op);
  }

  private Object await(PoolView v, Op op) {
    long slack = Math.min(timeoutNanos / 2, 2_000_000_000L) + 100_000_000L;
    try {
      return op.result.get(Math.max(0, op.deadline - nanoTime.getAsLong()) + slack, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      boolean notStarted = v.queue.remove(op);
      IpamException ex = new IpamException(ErrorCode.TRY_AGAIN_LATER, notStarted
          ? "etcd store: request for " + op.attachment + " not started within the timeout; nothing changed"
          : "etcd store: request for " + op.attachment + " did not complete within the timeout;"
              + " it either changed nothing or completed, and is safe to repeat");
      op.result.completeExceptionally(ex);
      throw ex;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting for etcd", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IpamException ie) {
        throw new IpamException(ie.code(), ie.getMessage(), ie);
      }
      throw new IpamException(ErrorCode.INTERNAL, "etcd store: " + cause, cause);
    }
  }

  private void kick(PoolView v) {
    if (v.draining.compareAndSet(false, true)) {
      try {
        committers.execute(() -> drain(v));
      } catch (RuntimeException e) {
        v.draining.set(false);
        IpamException ex = new IpamException(ErrorCode.INTERNAL, "etcd store is closed", e);
        Op op;
        while ((op = v.queue.poll()) != null) {
          op.result.completeExceptionally(ex);
        }
      }
    }
  }

  private void drain(PoolView v) {
    while (true) {
      List<Op> batch = new ArrayList<>();
      Op op;
      while (batch.size() < MAX_BATCH && (op = v.queue.poll()) != null) {
        if (op.result.isDone()) {
          continue;
        }
        if (nanoTime.getAsLong() > op.deadline) {
          op.result.completeExceptionally(new IpamException(ErrorCode.TRY_AGAIN_LATER,
              "etcd store: request for " + op.attachment + " waited past its timeout; nothing changed"));
          continue;
        }
        batch.add(op);
      }
      if (batch.isEmpty()) {
        v.draining.set(false);
        if (v.queue.isEmpty() || !v.draining.compareAndSet(false, true)) {
          return;
        }
        continue;
      }
      try {
        process(v, batch);
      } catch (Throwable t) {
        v.reset();
        IpamException ex = t instanceof IpamException ie ? ie
            : new IpamException(ErrorCode.INTERNAL, "etcd store: unexpected " + t, t);
        for (Op o : batch) {
          o.result.completeExceptionally(ex);
        }
        if (t instanceof Error e && !(t instanceof AssertionError)) {
          v.draining.set(false);
          throw e;
        }
      }
    }
  }

  /** Plans and commits a batch, retrying conflicts and transient failures until its deadline. */
  private void process(PoolView v, List<Op> batch) {
    if (v.invalidate.getAndSet(false)) {
      v.reset();
    }
    long deadline = Long.MAX_VALUE;
    for (Op op : batch) {
      deadline = Math.min(deadline, op.deadline);
    }
    List<Op> pending = new ArrayList<>(batch);
    Set<Attachment> knownAbsent = new HashSet<>();
    int conflicts = 0;
    IpamException lastTransient = null;
    while (!pending.isEmpty()) {
      if (nanoTime.getAsLong() >= deadline) {
        String why = lastTransient != null ? lastTransient.getMessage()
            : "the blocks kept changing under " + conflicts + " conflicting transactions";
        IpamException ex = new IpamException(ErrorCode.TRY_AGAIN_LATER,
            "etcd store: no result within " + config.timeout().toMillis() + " ms: " + why, lastTransient);
        for (Op op : pending) {
          op.result.completeExceptionally(ex);
        }
        return;
      }
      boolean committing = false;
      Plan plan = null;
      try {
        ensureLoaded(v, deadline);
        prefetch(v, pending, knownAbsent, deadline);
        plan = new Plan(v);
        List<Op> included = new ArrayList<>();
        List<Op> deferred = new ArrayList<>();
        for (Op op : pending) {
          if (op.result.isDone()) {
            continue;
          }
          Object outcome = op.request == null ? plan.release(op) : plan.allocate(op);
          boolean writes = op.request == null
              || outcome instanceof AllocationOutcome.Allocated a && !a.existing();
          if (!writes) {
            plan.rollbackOp();
          }
          if (plan.size() > MAX_TXN_OPS && !included.isEmpty()) {
            plan.rollbackOp();
            deferred.add(op);
            continue;
          }
          plan.endOp();
          op.outcome = outcome;
          included.add(op);
        }
        if (plan.isEmpty()) {
          for (Op op : included) {
            op.result.complete(op.outcome);
          }
          pending = deferred;
          continue;
        }
        committing = true;
        TxnResponse r = plan.commit(deadline);
        committing = false;
        if (r.isSucceeded()) {
          plan.apply(r.getHeader().getRevision());
          commits.incrementAndGet();
          committedRequests.addAndGet(included.size());
          for (Op op : included) {
            op.result.complete(op.outcome);
          }
          pending = deferred;
          conflicts = 0;
        } else {
          plan.refresh(r.getGetResponses(), knownAbsent);
          conflicts++;
          if (conflicts > 1) {
            // exponential backoff with full jitter: stores racing on one block spread out
            pause(ThreadLocalRandom.current().nextInt(0, 1 + Math.min(64, 1 << Math.min(conflicts, 6))));
          }
        }
      } catch (IpamException e) {
        if (e.code() != ErrorCode.TRY_AGAIN_LATER) {
          for (Op op : pending) {
            op.result.completeExceptionally(e);
          }
          if (e.code() != ErrorCode.INVALID_CONFIG) {
            v.reset();
          }
          return;
        }
        lastTransient = e;
        if (committing) {
          for (Op op : pending) {
            if (op.outcome != null) {
              op.uncertain = op.outcome;
            }
          }
        }
        v.reset();
        knownAbsent.clear();
        long left = (deadline - nanoTime.getAsLong()) / 1_000_000;
        if (left > 0) {
          pause(Math.min(100, left));
        }
      } finally {
        for (Op op : pending) {
          if (!op.result.isDone()) {
            op.outcome = null;
          }
        }
      }
    }
  }

  /** Loads the pool definition, the node's affinities and its blocks, once per view. */
  private void ensureLoaded(PoolView v, long deadline) {
    if (v.loaded) {
      return;
    }
    PoolLayout layout = checkDefinition(v, deadline);
    v.ensureSets(layout.sets());
    String prefix = keys.affinityPrefix(node, v.pool.name());
    List<String> blockKeys = new ArrayList<>();
    List<int[]> sets = new ArrayList<>();
    List<IpAddress> nets = new ArrayList<>();
    for (KeyValue kv : etcd.range(prefix, true, deadline, "listing affinities of " + node)) {
      String[] parts = EtcdClient.text(kv.getKey()).substring(prefix.length()).split("/");
      int set = Integer.parseInt(parts[0]);
      IpAddress net = set < layout.sets() ? layout.netOf(set, parts[1]) : null;
      if (net != null) {
        blockKeys.add(keys.block(v.pool.name(), set, parts[1]));
        sets.add(new int[] {set});
        nets.add(net);
      }
    }
    List<KeyValue> got = etcd.getAll(blockKeys, deadline, "reading blocks of " + node);
    for (int i = 0; i < got.size(); i++) {
      int set = sets.get(i)[0];
      String key = blockKeys.get(i);
      KeyValue kv = got.get(i);
      Block b = kv == null ? Block.absent(key, set, nets.get(i), layout.hostBits(set))
          : Block.decode(key, set, nets.get(i), layout.hostBits(set), EtcdClient.text(kv.getValue()), kv.getModRevision());
      v.cache(b);
    }
    v.loaded = true;
  }

  /** Reads what the batch needs and the cache lacks: handles to release, blocks of requested addresses. */
  private void prefetch(PoolView v, List<Op> ops, Set<Attachment> knownAbsent, long deadline) {
    PoolLayout layout = v.layout;
    List<String> handleKeys = new ArrayList<>();
    List<Attachment> handleOwners = new ArrayList<>();
    Map<String, Object[]> blocks = new LinkedHashMap<>();
    for (Op op : ops) {
      if (op.request == null) {
        if (!v.handles.containsKey(op.attachment) && !knownAbsent.contains(op.attachment)
            && !handleOwners.contains(op.attachment)) {
          handleKeys.add(keys.handle(v.pool.name(), op.attachment));
          handleOwners.add(op.attachment);
        }
      } else {
        for (IpAddress wanted : op.request.requested()) {
          int set = v.pool.rangeSetIndexOf(wanted);
          if (set >= 0) {
            addBlockNeed(v, layout, set, wanted, blocks);
          }
        }
      }
    }
    if (!handleKeys.isEmpty()) {
      List<KeyValue> got = etcd.getAll(handleKeys, deadline, "reading handles");
      for (int i = 0; i < got.size(); i++) {
        KeyValue kv = got.get(i);
        if (kv == null) {
          knownAbsent.add(handleOwners.get(i));
        } else {
          v.handles.put(handleOwners.get(i), Handle.decode(handleKeys.get(i), handleOwners.get(i),
              EtcdClient.text(kv.getValue()), kv.getModRevision()));
        }
      }
    }
    for (Op op : ops) {
      if (op.request == null) {
        Handle h = v.handles.get(op.attachment);
        if (h != null) {
          for (Allocation a : h.allocations()) {
            if (a.rangeSetIndex() >= 0 && a.rangeSetIndex() < layout.sets()) {
              addBlockNeed(v, layout, a.rangeSetIndex(), a.address(), blocks);
            }
          }
        }
      }
    }
    if (!blocks.isEmpty()) {
      List<String> list = new ArrayList<>(blocks.keySet());
      List<KeyValue> got = etcd.getAll(list, deadline, "reading blocks");
      for (int i = 0; i < got.size(); i++) {
        Object[] what = blocks.get(list.get(i));
        int set = (Integer) what[0];
        IpAddress net = (IpAddress) what[1];
        KeyValue kv = got.get(i);
        v.cache(kv == null ? Block.absent(list.get(i), set, net, layout.hostBits(set))
            : Block.decode(list.get(i), set, net, layout.hostBits(set), EtcdClient.text(kv.getValue()),
                kv.getModRevision()));
      }
    }
  }

  private void addBlockNeed(PoolView v, PoolLayout layout, int set, IpAddress address, Map<String, Object[]> out) {
    IpAddress net = layout.blockNet(set, address);
    String key = keys.block(v.pool.name(), set, layout.blockId(set, net));
    if (!v.blocks.containsKey(key)) {
      out.put(key, new Object[] {set, net});
    }
  }

  // ---------------------------------------------------------------- state

  /** One ADD or DEL waiting for (or in) a commit. */
  static final class Op {
    final Pool pool;
    /** Null for a release. */
    final AllocationRequest request;
    final Attachment attachment;
    final long deadline;
    final CompletableFuture<Object> result = new CompletableFuture<>();
    /** The outcome planned in the current attempt. */
    Object outcome;
    /** The outcome of an attempt whose transaction may or may not have been applied. */
    Object uncertain;

    Op(Pool pool, AllocationRequest request, Attachment attachment, long deadline) {
      this.pool = pool;
      this.request = request;
      this.attachment = attachment;
      this.deadline = deadline;
    }
  }

  /** What this store knows of one pool; confined to the pool's commit task. */
  final class PoolView {
    final Pool pool;
    final String rangesText;
    final Object definitionLock = new Object();
    /** Set once the definition is checked against etcd. */
    volatile PoolLayout layout;
    final ConcurrentLinkedDeque<Op> queue = new ConcurrentLinkedDeque<>();
    final AtomicBoolean draining = new AtomicBoolean();
    final AtomicBoolean invalidate = new AtomicBoolean();

    // @GuardedBy("draining")
    boolean loaded;
    // @GuardedBy("draining"): per range set, this node's blocks by network
    final List<TreeMap<IpAddress, String>> own = new ArrayList<>();
    // @GuardedBy("draining"): blocks read or written, as of their mod revision
    final Map<String, Block> blocks = new HashMap<>();
    // @GuardedBy("draining"): handles written or read by this store
    final Map<Attachment, Handle> handles = new HashMap<>();

    PoolView(Pool pool) {
      this.pool = pool;
      this.rangesText = PoolLayout.rangesText(pool);
    }

    void ensureSets(int sets) {
      while (own.size() < sets) {
        own.add(new TreeMap<>());
      }
    }

    void reset() {
      loaded = false;
      blocks.clear();
      handles.clear();
      own.forEach(TreeMap::clear);
    }

    /** Records a block as read from etcd, and whether this node owns it. */
    void cache(Block b) {
      blocks.put(b.key, b);
      if (b.exists() && b.owner.equals(node)) {
        own.get(b.set).put(b.net, b.key);
      } else {
        own.get(b.set).remove(b.net, b.key);
      }
    }
  }

  /**
   * One transaction being planned: working copies of the blocks and handles it touches, the mod
   * revisions it read them at (its guard), and an undo log for the request being planned.
   */
  final class Plan {
    final PoolView v;
    final PoolLayout layout;
    final Map<String, Block> work = new HashMap<>();
    final Map<String, Long> blockGuard = new LinkedHashMap<>();
    final Set<String> blockDirty = new HashSet<>();
    final Map<Attachment, Handle> handleWork = new HashMap<>();
    final Map<Attachment, Long> handleGuard = new LinkedHashMap<>();
    final Set<Attachment> handleDirty = new HashSet<>();
    final Map<String, Boolean> affinity = new LinkedHashMap<>();
    final List<TreeMap<IpAddress, String>> own = new ArrayList<>();
    final Map<Integer, Set<String>> existingIds = new HashMap<>();
    final Set<Integer> allRead = new HashSet<>();
    final ArrayDeque<Runnable> undo = new ArrayDeque<>();
    final Set<String> savedThisOp = new HashSet<>();
    boolean affinityRefreshed;

    Plan(PoolView v) {
      this.v = v;
      this.layout = v.layout;
      for (TreeMap<IpAddress, String> m : v.own) {
        own.add(new TreeMap<>(m));
      }
    }

    int size() {
      return Math.max(blockGuard.size() + handleGuard.size(), blockDirty.size() + handleDirty.size() + affinity.size());
    }

    boolean isEmpty() {
      return blockGuard.isEmpty() && handleGuard.isEmpty() && affinity.isEmpty();
    }

    void endOp() {
      undo.clear();
      savedThisOp.clear();
    }

    void rollbackOp() {
      while (!undo.isEmpty()) {
        undo.pop().run();
      }
      savedThisOp.clear();
    }

    /** The working copy of a block, guarding the transaction on its revision; null if unknown. */
    Block read(String key) {
      Block b = work.get(key);
      if (b != null) {
        return b;
      }
      Block cached = v.blocks.get(key);
      if (cached == null) {
        return null;
      }
      b = cached.copy();
      work.put(key, b);
      blockGuard.put(key, cached.modRev);
      return b;
    }

    /** The block as known, without guarding on it (for choosing where to look). */
    Block peek(String key) {
      Block b = work.get(key);
      return b != null ? b : v.blocks.get(key);
    }

    /** The working copy of a block the current request will change (saved for undo). */
    Block mutable(String key, int set, IpAddress net) {
      Block b = read(key);
      if (b == null) {
        Block fresh = Block.absent(key, set, net, layout.hostBits(set));
        work.put(key, fresh);
        blockGuard.put(key, 0L);
        undo.push(() -> {
          work.remove(key);
          blockGuard.remove(key);
          blockDirty.remove(key);
        });
        savedThisOp.add(key);
        blockDirty.add(key);
        return fresh;
      }
      if (savedThisOp.add(key)) {
        Block saved = b.copy();
        boolean wasDirty = blockDirty.contains(key);
        undo.push(() -> {
          work.put(key, saved);
          if (!wasDirty) {
            blockDirty.remove(key);
          }
        });
      }
      blockDirty.add(key);
      return work.get(key);
    }

    Handle handle(Attachment a) {
      if (handleWork.containsKey(a)) {
        return handleWork.get(a);
      }
      Handle cached = v.handles.get(a);
      handleWork.put(a, cached);
      handleGuard.put(a, cached == null ? 0L : cached.modRev());
      return cached;
    }

    void setHandle(Attachment a, Handle h) {
      Handle before = handle(a);
      boolean wasDirty = handleDirty.contains(a);
      undo.push(() -> {
        handleWork.put(a, before);
        if (!wasDirty) {
          handleDirty.remove(a);
        }
      });
      handleWork.put(a, h);
      handleDirty.add(a);
    }

    void setAffinity(int set, IpAddress net, String key, boolean owned) {
      String akey = keys.affinity(node, v.pool.name(), set, layout.blockId(set, net));
      Boolean before = affinity.get(akey);
      String ownBefore = own.get(set).get(net);
      undo.push(() -> {
        if (before == null) {
          affinity.remove(akey);
        } else {
          affinity.put(akey, before);
        }
        if (ownBefore == null) {
          own.get(set).remove(net);
        } else {
          own.get(set).put(net, ownBefore);
        }
      });
      affinity.put(akey, owned);
      if (owned) {
        own.get(set).put(net, key);
      } else {
        own.get(set).remove(net);
      }
    }

    // ------------------------------------------------------------ planning

    Object allocate(Op op) {
      Pool pool = op.pool;
      AllocationRequest request = op.request;
      Attachment att = op.attachment;
      int sets = layout.sets();
      Handle held = handle(att);
      if (held != null) {
        Allocation[] bySet = new Allocation[sets];
        for (Allocation a : held.allocations()) {
          if (a.rangeSetIndex() >= 0 && a.rangeSetIndex() < sets) {
            bySet[a.rangeSetIndex()] = a;
          }
        }
        for (IpAddress wanted : request.requested()) {
          int set = pool.rangeSetIndexOf(wanted);
          if (set < 0) {
            return new AllocationOutcome.Unavailable(wanted,
                "requested address " + wanted + " is in no range of network " + pool.name());
          }
          if (bySet[set] != null && !bySet[set].address().equals(wanted)) {
            return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted + ": " + att
                + " already holds " + bySet[set].address() + " in range set " + pool.rangeSets().get(set));
          }
        }
        boolean mine = op.uncertain instanceof AllocationOutcome.Allocated u
            && u.allocations().equals(held.allocations());
        return new AllocationOutcome.Allocated(held.allocations(), !mine);
      }
      Allocation[] chosen = new Allocation[sets];
      for (IpAddress wanted : request.requested()) {
        int set = pool.rangeSetIndexOf(wanted);
        if (set < 0) {
          return new AllocationOutcome.Unavailable(wanted,
              "requested address " + wanted + " is in no range of network " + pool.name());
        }
        if (chosen[set] != null) {
          return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted
              + ": another requested address is in the same range set " + pool.rangeSets().get(set));
        }
        RangeSet rangeSet = pool.rangeSets().get(set);
        IpRange range = rangeSet.ranges().get(rangeSet.indexOf(wanted));
        if (range.isReserved(wanted)) {
          return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted
              + " is reserved in range " + range + " (network, broadcast, gateway or excluded)");
        }
        IpAddress net = layout.blockNet(set, wanted);
        String key = keys.block(pool.name(), set, layout.blockId(set, net));
        int offset = layout.offsetIn(set, net, wanted);
        Block b = read(key);
        if (b != null && b.exists() && b.holder(offset) != null) {
          return new AllocationOutcome.Taken(wanted, b.holder(offset).attachment());
        }
        b = mutable(key, set, net);
        if (!b.exists()) {
          claim(b, set);
        }
        b.entries.put(offset, new Block.Entry(att, request.pod()));
        b.cursor = offset;
        chosen[set] = new Allocation(wanted, set, att, request.pod());
      }
      for (int set = 0; set < sets; set++) {
        if (chosen[set] == null) {
          chosen[set] = allocateFree(op, set);
          if (chosen[set] == null) {
            return new AllocationOutcome.Exhausted(set);
          }
        }
      }
      List<Allocation> list = List.of(chosen);
      setHandle(att, new Handle(node, request.pod(), list, 0));
      return new AllocationOutcome.Allocated(list, false);
    }

    private void claim(Block b, int set) {
      b.deleted = false;
      b.owner = node;
      b.cursor = -1;
      b.entries.clear();
      setAffinity(set, b.net, b.key, true);
    }

    private Allocation take(Op op, Block b, int set, int offset) {
      b.entries.put(offset, new Block.Entry(op.attachment, op.request.pod()));
      b.cursor = offset;
      return new Allocation(b.addressAt(offset), set, op.attachment, op.request.pod());
    }

    private Allocation allocateFree(Op op, int set) {
      Allocation got = fromOwnBlocks(op, set);
      if (got != null) {
        return got;
      }
      // list the existing blocks BEFORE re-reading the affinities: a block another store of this
      // node claims after the listing is not in it, so claiming it fails its guard and is read
      existingIds(set);
      if (!affinityRefreshed && refreshAffinities()) {
        // another store of this node (another plugin process) claimed a block since we loaded
        got = fromOwnBlocks(op, set);
      }
      return got != null ? got : claimOrBorrow(op, set);
    }

    /**
     * Re-reads this node's affinity keys and loads blocks claimed by other stores of the node;
     * true when there were any.
     */
    private boolean refreshAffinities() {
      affinityRefreshed = true;
      String prefix = keys.affinityPrefix(node, v.pool.name());
      List<String> missing = new ArrayList<>();
      List<Integer> sets = new ArrayList<>();
      List<IpAddress> nets = new ArrayList<>();
      for (KeyValue kv : etcd.range(prefix, true, deadlineOfPlan(), "listing affinities of " + node)) {
        String[] parts = EtcdClient.text(kv.getKey()).substring(prefix.length()).split("/");
        int s = Integer.parseInt(parts[0]);
        IpAddress net = s < layout.sets() ? layout.netOf(s, parts[1]) : null;
        String key = net == null ? null : keys.block(v.pool.name(), s, parts[1]);
        if (key != null && !own.get(s).containsKey(net) && !work.containsKey(key)) {
          missing.add(key);
          sets.add(s);
          nets.add(net);
        }
      }
      if (missing.isEmpty()) {
        return false;
      }
      List<KeyValue> got = etcd.getAll(missing, deadlineOfPlan(), "reading blocks of " + node);
      boolean found = false;
      for (int i = 0; i < got.size(); i++) {
        KeyValue kv = got.get(i);
        if (kv == null) {
          continue;
        }
        int s = sets.get(i);
        Block b = Block.decode(missing.get(i), s, nets.get(i), layout.hostBits(s), EtcdClient.text(kv.getValue()),
            kv.getModRevision());
        v.cache(b);
        if (b.owner.equals(node)) {
          own.get(s).put(b.net, b.key);
          found = true;
        }
      }
      return found;
    }

    private Allocation fromOwnBlocks(Op op, int set) {
      AllocationOrder order = op.pool.order();
      // 1. this node's blocks, in address order
      for (Map.Entry<IpAddress, String> e : own.get(set).entrySet()) {
        Block b = peek(e.getValue());
        if (b == null || !b.exists()) {
          continue;
        }
        long[] allowed = layout.allowed(set, b.net);
        if (b.nextFree(allowed, order) >= 0) {
          b = mutable(e.getValue(), set, b.net);
          int offset = b.nextFree(allowed, order);
          if (offset >= 0) {
            return take(op, b, set, offset);
          }
        }
      }
      return null;
    }

    private Allocation claimOrBorrow(Op op, int set) {
      AllocationOrder order = op.pool.order();
      String name = op.pool.name();
      // 2. a block nobody has claimed yet
      Set<String> existing = existingIds(set);
      int seen = 0;
      for (IpAddress net : layout.candidates(set)) {
        if (++seen > MAX_CANDIDATES) {
          break;
        }
        String id = layout.blockId(set, net);
        String key = keys.block(name, set, id);
        Block known = peek(key);
        if (known != null ? known.exists() : existing.contains(id)) {
          continue;
        }
        long[] allowed = layout.allowed(set, net);
        if (PoolLayout.isEmpty(allowed)) {
          continue;
        }
        Block b = mutable(key, set, net);
        claim(b, set);
        return take(op, b, set, b.nextFree(allowed, order));
      }
      // 3. a block without owner, then (unless strict) another node's block
      readAll(set);
      List<Block> all = new ArrayList<>();
      for (Block b : v.blocks.values()) {
        if (b.set == set) {
          Block p = peek(b.key);
          if (p.exists()) {
            all.add(p);
          }
        }
      }
      all.sort(Comparator.comparing((Block b) -> b.net));
      for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && config.strictAffinity()) {
          break;
        }
        for (Block p : all) {
          boolean eligible = pass == 0 ? p.owner.isEmpty() : !p.owner.equals(node) && !p.owner.isEmpty();
          long[] allowed = layout.allowed(set, p.net);
          if (!eligible || p.nextFree(allowed, order) < 0) {
            continue;
          }
          Block b = mutable(p.key, set, p.net);
          if (pass == 0) {
            b.owner = node;
            setAffinity(set, b.net, b.key, true);
          }
          return take(op, b, set, b.nextFree(allowed, order));
        }
      }
      return null;
    }

    private Set<String> existingIds(int set) {
      Set<String> ids = existingIds.get(set);
      if (ids == null) {
        ids = new HashSet<>();
        String prefix = keys.blocksPrefix(v.pool.name(), set);
        for (KeyValue kv : etcd.range(prefix, true, deadlineOfPlan(), "listing blocks")) {
          ids.add(EtcdClient.text(kv.getKey()).substring(prefix.length()));
        }
        existingIds.put(set, ids);
      }
      return ids;
    }

    private void readAll(int set) {
      if (!allRead.add(set)) {
        return;
      }
      Set<String> present = new HashSet<>();
      for (Block b : readBlocks(layout, set, deadlineOfPlan())) {
        present.add(b.key);
        if (!work.containsKey(b.key)) {
          v.cache(b);
        }
      }
      for (Block b : new ArrayList<>(v.blocks.values())) {
        if (b.set == set && b.exists() && !present.contains(b.key) && !work.containsKey(b.key)) {
          v.cache(Block.absent(b.key, b.set, b.net, b.hostBits));
        }
      }
    }

    private long deadlineOfPlan() {
      return nanoTime.getAsLong() + timeoutNanos;
    }

    Object release(Op op) {
      Handle h = handle(op.attachment);
      if (h == null) {
        if (op.uncertain instanceof List<?> earlier) {
          return earlier;
        }
        return List.<Allocation>of();
      }
      for (Allocation a : h.allocations()) {
        int set = a.rangeSetIndex();
        if (set < 0 || set >= layout.sets()) {
          continue;
        }
        IpAddress net = layout.blockNet(set, a.address());
        String key = keys.block(v.pool.name(), set, layout.blockId(set, net));
        int offset = layout.offsetIn(set, net, a.address());
        Block b = read(key);
        if (b == null || !b.exists() || b.holder(offset) == null
            || !b.holder(offset).attachment().equals(op.attachment)) {
          continue;
        }
        b = mutable(key, set, net);
        b.entries.remove(offset);
        if (b.entries.isEmpty()) {
          if (b.owner.isEmpty()) {
            b.deleted = true;
          } else if (b.owner.equals(node) && own.get(set).size() > 1) {
            b.deleted = true;
            setAffinity(set, net, key, false);
          }
        }
      }
      setHandle(op.attachment, null);
      return h.allocations();
    }

    // ------------------------------------------------------------ committing

    TxnResponse commit(long deadline) {
      List<Cmp> cmps = new ArrayList<>();
      List<io.etcd.jetcd.op.Op> then = new ArrayList<>();
      List<io.etcd.jetcd.op.Op> otherwise = new ArrayList<>();
      for (Map.Entry<String, Long> e : blockGuard.entrySet()) {
        cmps.add(EtcdClient.modRev(e.getKey(), e.getValue()));
        otherwise.add(EtcdClient.get(e.getKey()));
      }
      for (Map.Entry<Attachment, Long> e : handleGuard.entrySet()) {
        String key = keys.handle(v.pool.name(), e.getKey());
        cmps.add(EtcdClient.modRev(key, e.getValue()));
        otherwise.add(EtcdClient.get(key));
      }
      for (String key : blockDirty) {
        Block b = work.get(key);
        if (b.exists()) {
          then.add(EtcdClient.put(key, b.encode()));
        } else if (blockGuard.get(key) != 0L) {
          then.add(EtcdClient.delete(key));
        }
      }
      for (Attachment a : handleDirty) {
        String key = keys.handle(v.pool.name(), a);
        Handle h = handleWork.get(a);
        if (h != null) {
          then.add(EtcdClient.put(key, h.encode()));
        } else if (handleGuard.get(a) != 0L) {
          then.add(EtcdClient.delete(key));
        }
      }
      for (Map.Entry<String, Boolean> e : affinity.entrySet()) {
        then.add(e.getValue() ? EtcdClient.put(e.getKey(), "") : EtcdClient.delete(e.getKey()));
      }
      return etcd.txn(cmps, then, otherwise, deadline, "committing " + v.pool.name());
    }

    /** After a successful commit: the working copies become the cache. */
    void apply(long revision) {
      for (String key : blockDirty) {
        Block b = work.get(key);
        b.modRev = b.exists() ? revision : 0L;
        v.blocks.put(key, b);
      }
      for (Attachment a : handleDirty) {
        Handle h = handleWork.get(a);
        if (h == null) {
          v.handles.remove(a);
        } else {
          v.handles.put(a, h.withModRev(revision));
        }
      }
      for (int s = 0; s < own.size(); s++) {
        v.own.get(s).clear();
        v.own.get(s).putAll(own.get(s));
      }
    }

    /** After a failed guard: the else branch's reads replace what was stale. */
    void refresh(List<GetResponse> reads, Set<Attachment> knownAbsent) {
      int i = 0;
      for (String key : blockGuard.keySet()) {
        GetResponse g = reads.get(i++);
        Block template = work.get(key);
        if (g.getKvs().isEmpty()) {
          v.cache(Block.absent(key, template.set, template.net, template.hostBits));
        } else {
          KeyValue kv = g.getKvs().get(0);
          v.cache(Block.decode(key, template.set, template.net, template.hostBits, EtcdClient.text(kv.getValue()),
              kv.getModRevision()));
        }
      }
      for (Attachment a : handleGuard.keySet()) {
        GetResponse g = reads.get(i++);
        if (g.getKvs().isEmpty()) {
          v.handles.remove(a);
          knownAbsent.add(a);
        } else {
          KeyValue kv = g.getKvs().get(0);
          v.handles.put(a, Handle.decode(keys.handle(v.pool.name(), a), a, EtcdClient.text(kv.getValue()),
              kv.getModRevision()));
          knownAbsent.remove(a);
        }
      }
    }
  }
}
