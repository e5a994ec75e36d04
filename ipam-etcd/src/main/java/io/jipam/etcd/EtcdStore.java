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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
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
 * <h2>Refusals</h2>
 * {@code Exhausted} and {@code Taken} write nothing, so no guard would catch a stale cached copy
 * behind them. They are only given by a plan that has written nothing yet and has re-read every
 * block of the pool in one range read (one revision): the answer is as of that revision. A refusal
 * planned after other requests' writes in the same batch is planned again after they commit.
 *
 * <h2>Failures</h2>
 * Every etcd call is bounded by the request's deadline. A transient failure (unreachable, no
 * leader, timeout) drops the cache and retries until the deadline; a transaction whose outcome is
 * unknown is simply planned again: its guard makes a second application impossible, and a
 * repeated ADD then finds its own handle. When the deadline passes the caller gets {@code
 * TRY_AGAIN_LATER}. A caller gives up only on a request still queued (which is then never
 * planned); a taken request is answered by the commit task. What the network still holds after
 * that is bounded: every writing transaction puts this store's ticket on a short lease, so it
 * fails once that lease ended; every DEL puts a marker on a lease of {@value #MARKER_TTL_SECONDS}
 * s, and a transaction creating the attachment's handle requires the marker as it last saw it, so
 * nothing planned before a DEL applies after it. Every transaction creating a handle requires the
 * node's fence absent ({@link #reclaimNode}).
 *
 * <h2>Threads</h2>
 * Public methods are thread-safe. {@link PoolView} state is confined to the one commit task that
 * holds the view's {@code draining} flag (handed over through that atomic, which orders memory).
 */
final class EtcdStore implements EtcdIpamStore {
  static final int MAX_BATCH = 32;
  /** Lifetime of a DEL's marker: an ADD transaction held in the network cannot outlive it. */
  static final long MARKER_TTL_SECONDS = 120;
  /** A marker lease is used for new markers while it has at least this long to live. */
  private static final long MARKER_RENEW_NANOS = 60_000_000_000L;
  /** A store records that its node is alive (nodes/<node>) at most this often. */
  static final long SEEN_EVERY_MILLIS = 5_000;
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
  private final String storeId = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
  private final LeaseSlot markerLease;
  /**
   * The lease of this store's ticket, which every writing transaction puts: the timeout rounded up
   * to seconds, at least 2 s (etcd's least lease with default settings); replaced after 40 % of it.
   */
  private final LeaseSlot ticketLease;
  private final long ticketTtlSeconds;
  /** When this store last wrote its node's seen record (nanoTime), or Long.MIN_VALUE. */
  private volatile long seenWrittenAt = Long.MIN_VALUE;
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
    this.markerLease = new LeaseSlot(etcd, MARKER_TTL_SECONDS, MARKER_RENEW_NANOS, nanoTime);
    this.ticketTtlSeconds = Math.max(2, (config.timeout().toMillis() + 999) / 1000);
    this.ticketLease = new LeaseSlot(etcd, ticketTtlSeconds, ticketTtlSeconds * 400_000_000L, nanoTime);
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
  public ReclaimReport reclaimNode(String deadNode, ReclaimPolicy policy) {
    checkOpen();
    long deadline = nanoTime.getAsLong() + timeoutNanos * 4;
    // 1. refuse a node that looks alive, else fence it: one transaction, guarded on the seen record
    Fenced fenced = retrying(deadline, () -> fence(deadNode, policy, deadline));
    // 2. the node allocates nothing more: list and release what it holds
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
    // 3. give the node's blocks back: delete the empty ones, orphan the rest
    int[] counts = new int[3];
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
          int change = -1;
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
                  change = 0;
                } else {
                  b.owner = "";
                  then.add(EtcdClient.put(blockKey, b.encode()));
                  change = 1;
                }
              }
            }
          }
          if (etcd.txn(cmps, then, List.of(), deadline, "releasing block of " + deadNode).isSucceeded()) {
            if (change >= 0) {
              counts[change]++;
            }
            counts[2]++;
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
    return new ReclaimReport(deadNode, fenced.lastSeen(), fenced.looksAlive(), released, counts[0], counts[1],
        counts[2]);
  }

  /** A fenced node: when it was last seen, and whether that was within the quiet period. */
  private record Fenced(Instant lastSeen, boolean looksAlive) {}

  /**
   * Step 1 of a reclaim: reads the node's seen record and fence; refuses a node seen within the
   * quiet period (unless forced); writes the fence guarded on the seen record's revision, so a
   * node that records a commit in between is judged again.
   */
  private Fenced fence(String deadNode, ReclaimPolicy policy, long deadline) {
    String recordKey = keys.nodeRecord(deadNode);
    String fenceKey = keys.fence(deadNode);
    for (int attempt = 0; ; attempt++) {
      List<KeyValue> got = etcd.getAll(List.of(recordKey, fenceKey), deadline, "reading node " + deadNode);
      KeyValue record = got.get(0);
      Instant lastSeen = record == null ? null : NodeRecords.seen(recordKey, EtcdClient.text(record.getValue()));
      Duration since = lastSeen == null ? null : Duration.between(lastSeen, Instant.now());
      boolean looksAlive = since != null && since.compareTo(policy.quietPeriod()) < 0;
      if (got.get(1) != null) {
        return new Fenced(lastSeen, looksAlive); // fenced already: finish what an earlier reclaim began
      }
      if (looksAlive && !policy.force()) {
        throw new IpamException(ErrorCode.NOT_AVAILABLE, "reclaim of node " + deadNode + " refused: a store of it"
            + " committed " + since.toMillis() / 1000 + " s ago (at " + lastSeen + "), within the quiet period of "
            + policy.quietPeriod().toSeconds() + " s, so it looks alive and its pods may still use their addresses."
            + " Nothing was changed. Reclaim it once it is gone, or force it if you know it is");
      }
      TxnResponse r = etcd.txn(List.of(EtcdClient.modRev(recordKey, record == null ? 0 : record.getModRevision())),
          List.of(EtcdClient.put(fenceKey, NodeRecords.fence(node, Instant.now()))), List.of(), deadline,
          "fencing node " + deadNode);
      if (r.isSucceeded()) {
        return new Fenced(lastSeen, looksAlive);
      }
      if (attempt > 20) {
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "node " + deadNode + " keeps committing; not fenced");
      }
    }
  }

  @Override
  public boolean liftFence(String fencedNode) {
    checkOpen();
    long deadline = deadline();
    String key = keys.fence(fencedNode);
    return retrying(deadline, () -> etcd.txn(List.of(), List.of(EtcdClient.delete(key)), List.of(), deadline,
        "lifting the fence of " + fencedNode).getDeleteResponses().get(0).getDeleted() > 0);
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

  /**
   * Waits for an operation's result. Past its deadline (plus slack) a caller gives up only on an
   * operation still in the queue, which then is never planned; one the commit task has taken is
   * answered by that task, whose every etcd call ends by the operation's deadline.
   */
  private Object await(PoolView v, Op op) {
    long slack = Math.min(timeoutNanos / 2, 2_000_000_000L) + 100_000_000L;
    try {
      try {
        return op.result.get(Math.max(0, op.deadline - nanoTime.getAsLong()) + slack, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        if (op.abandon()) {
          v.queue.remove(op);
          throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: request for " + op.attachment
              + " timed out waiting to commit (in the commit queue behind other transactions); nothing"
              + " changed and nothing will");
        }
        return op.result.get(timeoutNanos + slack, TimeUnit.NANOSECONDS);
      }
    } catch (TimeoutException e) {
      throw new IpamException(ErrorCode.INTERNAL, "etcd store: the commit task did not answer the request for "
          + op.attachment + " long after its deadline; its outcome is unknown");
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
        if (!op.take()) {
          continue; // its caller gave up: never planned
        }
        if (nanoTime.getAsLong() >= op.deadline) {
          op.result.completeExceptionally(new IpamException(ErrorCode.TRY_AGAIN_LATER,
              "etcd store: request for " + op.attachment + " timed out waiting to commit (in the commit"
                  + " queue behind other transactions); nothing changed"));
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

  private static boolean isRefusal(Object outcome) {
    return outcome instanceof AllocationOutcome.Exhausted || outcome instanceof AllocationOutcome.Taken;
  }

  private static boolean createsHandle(Op op) {
    return op.request != null && op.outcome instanceof AllocationOutcome.Allocated a && !a.existing();
  }

  /** The error of an operation whose deadline passed before it was answered. */
  private IpamException timedOut(Op op, int attempts, int conflicts, IpamException lastTransient) {
    String why;
    if (lastTransient != null) {
      why = lastTransient.getMessage();
    } else if (conflicts > 0) {
      why = "the blocks kept changing under " + conflicts + " conflicting transactions";
    } else {
      why = "timed out waiting to commit (" + attempts + " transactions of its batch sent before)";
    }
    String outcome = op.uncertain == null ? "; nothing changed"
        : "; its last transaction was sent and its outcome is unknown: it can still apply only until its"
            + " ticket lease ends (about " + (ticketTtlSeconds + 1) + " s after it was sent), and never after a"
            + " DEL of " + op.attachment + " returned";
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: no result for " + op.attachment + " within "
        + config.timeout().toMillis() + " ms: " + why + outcome, lastTransient);
  }

  /** Plans and commits a batch, retrying conflicts and transient failures until each one's deadline. */
  private void process(PoolView v, List<Op> batch) {
    if (v.invalidate.getAndSet(false)) {
      v.reset();
    }
    List<Op> pending = new ArrayList<>(batch);
    Set<Attachment> knownAbsent = new HashSet<>();
    int conflicts = 0;
    int attempts = 0;
    IpamException lastTransient = null;
    while (true) {
      long now = nanoTime.getAsLong();
      long deadline = Long.MAX_VALUE;
      List<Op> live = new ArrayList<>(pending.size());
      for (Op op : pending) {
        if (now >= op.deadline) {
          op.result.completeExceptionally(timedOut(op, attempts, conflicts, lastTransient));
        } else {
          live.add(op);
          deadline = Math.min(deadline, op.deadline);
        }
      }
      pending = live;
      if (pending.isEmpty()) {
        return;
      }
      boolean committing = false;
      List<Op> included = new ArrayList<>();
      try {
        ensureLoaded(v, deadline);
        prefetch(v, pending, knownAbsent, deadline);
        Plan plan = new Plan(v, deadline);
        List<Op> deferred = new ArrayList<>();
        for (Op op : pending) {
          boolean clean = plan.isClean();
          Object outcome = op.request == null ? plan.release(op) : plan.allocate(op);
          if (isRefusal(outcome) && clean && !plan.hasSnapshot()) {
            // a refusal is only given from every block of the pool read at one revision
            plan.rollbackOp();
            plan.snapshot();
            outcome = plan.allocate(op);
          }
          if (isRefusal(outcome) && !clean) {
            // decided against writes this plan has not committed yet: decide again after them
            plan.rollbackOp();
            deferred.add(op);
            continue;
          }
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
        plan.takeLeases();
        attempts++;
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
          String fence = plan.refresh(r.getGetResponses(), knownAbsent);
          if (fence != null) {
            List<Op> rest = new ArrayList<>();
            for (Op op : pending) {
              if (included.contains(op) && createsHandle(op)) {
                op.result.completeExceptionally(new IpamException(ErrorCode.NOT_AVAILABLE, "etcd store: node "
                    + node + " is " + fence + " (reclaimNode): it must not allocate, since its addresses may have"
                    + " been handed out again. Nothing was allocated for " + op.attachment + ". If this node is"
                    + " new, an operator lifts the fence (liftFence / jipamctl)"));
              } else {
                rest.add(op);
              }
            }
            pending = rest;
          }
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
        if (e.getMessage() != null && e.getMessage().contains("lease not found")) {
          markerLease.drop();
          ticketLease.drop();
        }
        if (committing) {
          for (Op op : included) {
            op.uncertain = op.outcome;
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

  /**
   * One ADD or DEL waiting for (or in) a commit. Its state moves once, from queued to taken (by the
   * commit task, which then answers it) or to abandoned (by its caller, past the deadline; it is
   * then never planned).
   */
  static final class Op {
    private static final int QUEUED = 0;
    private static final int TAKEN = 1;
    private static final int ABANDONED = 2;

    final Pool pool;
    /** Null for a release. */
    final AllocationRequest request;
    final Attachment attachment;
    final long deadline;
    final CompletableFuture<Object> result = new CompletableFuture<>();
    private final AtomicInteger state = new AtomicInteger(QUEUED);
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

    /** The commit task takes the operation; false when its caller has given up. */
    boolean take() {
      return state.compareAndSet(QUEUED, TAKEN);
    }

    /** The caller gives up; false when the commit task has already taken it. */
    boolean abandon() {
      return state.compareAndSet(QUEUED, ABANDONED);
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
    // @GuardedBy("draining"): mod revisions of DEL markers seen or written (absent: none known)
    final Map<Attachment, Long> markers = new HashMap<>();

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
      markers.clear();
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
    /** DEL markers the transaction requires at a revision (0: absent): one per handle it creates. */
    final Map<Attachment, Long> markerGuard = new LinkedHashMap<>();
    /** Attachments whose DEL marker the transaction puts. */
    final Set<Attachment> markerPuts = new LinkedHashSet<>();
    /** Handles the transaction creates; when any, it requires this node unfenced. */
    int creations;
    final long deadline;
    boolean affinityRefreshed;
    private boolean snapshot;
    /** nanoTime of the seen record this plan's transaction writes, or Long.MIN_VALUE. */
    private long seenPending = Long.MIN_VALUE;
    private long markerLeaseId;
    private long ticketLeaseId;

    Plan(PoolView v, long deadline) {
      this.v = v;
      this.deadline = deadline;
      this.layout = v.layout;
      for (TreeMap<IpAddress, String> m : v.own) {
        own.add(new TreeMap<>(m));
      }
    }

    int size() {
      return Math.max(blockGuard.size() + handleGuard.size() + markerGuard.size() + 1,
          blockDirty.size() + handleDirty.size() + affinity.size() + markerPuts.size() + 2);
    }

    boolean isEmpty() {
      return blockGuard.isEmpty() && handleGuard.isEmpty() && affinity.isEmpty() && markerPuts.isEmpty();
    }

    /** True while the plan writes nothing: what it read is all it depends on. */
    boolean isClean() {
      return blockDirty.isEmpty() && handleDirty.isEmpty() && affinity.isEmpty() && markerPuts.isEmpty();
    }

    boolean hasSnapshot() {
      return snapshot;
    }

    /**
     * Re-reads every block of the pool in one range read, so at one revision, and makes that the
     * state the plan decides from: cached and read copies, this node's blocks, the existing block
     * ids. Only on a clean plan (nothing of it depends on the copies it replaces).
     */
    void snapshot() {
      if (!isClean()) {
        throw new IllegalStateException("snapshot of a plan that writes");
      }
      Set<String> present = new HashSet<>();
      existingIds.clear();
      for (int s = 0; s < layout.sets(); s++) {
        existingIds.put(s, new HashSet<>());
        allRead.add(s);
      }
      for (Block b : readBlocks(layout, -1, deadline)) {
        present.add(b.key);
        existingIds.get(b.set).add(b.key.substring(keys.blocksPrefix(v.pool.name(), b.set).length()));
        v.cache(b);
      }
      for (Block b : new ArrayList<>(v.blocks.values())) {
        if (b.exists() && !present.contains(b.key)) {
          v.cache(Block.absent(b.key, b.set, b.net, b.hostBits));
        }
      }
      work.clear();
      blockGuard.clear();
      for (int s = 0; s < own.size(); s++) {
        own.get(s).clear();
        own.get(s).putAll(v.own.get(s));
      }
      affinityRefreshed = true;
      snapshot = true;
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
      guardCreation(att);
      return new AllocationOutcome.Allocated(list, false);
    }

    /** A new handle requires the attachment's DEL marker as last seen, and this node unfenced. */
    private void guardCreation(Attachment att) {
      boolean had = markerGuard.containsKey(att);
      markerGuard.put(att, v.markers.getOrDefault(att, 0L));
      creations++;
      undo.push(() -> {
        if (!had) {
          markerGuard.remove(att);
        }
        creations--;
      });
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
      for (KeyValue kv : etcd.range(prefix, true, deadline, "listing affinities of " + node)) {
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
      List<KeyValue> got = etcd.getAll(missing, deadline, "reading blocks of " + node);
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
        for (KeyValue kv : etcd.range(prefix, true, deadline, "listing blocks")) {
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
      for (Block b : readBlocks(layout, set, deadline)) {
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

    Object release(Op op) {
      if (markerPuts.add(op.attachment)) {
        undo.push(() -> markerPuts.remove(op.attachment));
      }
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

    /** Gets the leases the transaction puts keys on (a grant when one is due): before sending it. */
    void takeLeases() {
      markerLeaseId = markerPuts.isEmpty() ? 0 : markerLease.id(deadline);
      ticketLeaseId = isClean() ? 0 : ticketLease.id(deadline);
    }

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
      for (Map.Entry<Attachment, Long> e : markerGuard.entrySet()) {
        String key = keys.deletion(v.pool.name(), e.getKey());
        cmps.add(EtcdClient.modRev(key, e.getValue()));
        otherwise.add(EtcdClient.get(key));
      }
      if (creations > 0) {
        cmps.add(EtcdClient.absent(keys.fence(node)));
        otherwise.add(EtcdClient.get(keys.fence(node)));
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
      for (Attachment a : markerPuts) {
        then.add(EtcdClient.put(keys.deletion(v.pool.name(), a), "", markerLeaseId));
      }
      if (!then.isEmpty()) {
        // the ticket: a transaction that reaches etcd after its lease ended fails as a whole
        then.add(EtcdClient.put(keys.ticket(node, storeId), "", ticketLeaseId));
        long now = nanoTime.getAsLong();
        if (seenWrittenAt == Long.MIN_VALUE || now - seenWrittenAt > SEEN_EVERY_MILLIS * 1_000_000L) {
          then.add(EtcdClient.put(keys.nodeRecord(node), NodeRecords.seenRecord(Instant.now())));
          seenPending = now;
        }
      }
      return etcd.txn(cmps, then, otherwise, deadline, "committing " + v.pool.name());
    }

    /** After a successful commit: the working copies become the cache. */
    void apply(long revision) {
      if (seenPending != Long.MIN_VALUE) {
        seenWrittenAt = seenPending;
      }
      for (Attachment a : markerPuts) {
        v.markers.put(a, revision);
      }
      if (v.markers.size() > 10_000) {
        v.markers.clear(); // a cache: a missing entry costs one failed guard
      }
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

    /**
     * After a failed guard: the else branch's reads replace what was stale.
     *
     * @return how the node is fenced when the guard failed on its fence, else null
     */
    String refresh(List<GetResponse> reads, Set<Attachment> knownAbsent) {
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
      for (Attachment a : markerGuard.keySet()) {
        GetResponse g = reads.get(i++);
        if (g.getKvs().isEmpty()) {
          v.markers.remove(a);
        } else {
          v.markers.put(a, g.getKvs().get(0).getModRevision());
        }
      }
      if (creations > 0) {
        GetResponse g = reads.get(i);
        if (!g.getKvs().isEmpty()) {
          return NodeRecords.describeFence(keys.fence(node), EtcdClient.text(g.getKvs().get(0).getValue()));
        }
      }
      return null;
    }
  }
}
