package io.jipam.bench.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.CommitCounters;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The etcd store and its two reference points as loads on an etcd, each measured as operations per
 * second after a warm-up:
 *
 * <ol>
 *   <li>{@link #rawCas}: compare-and-swap loops on keys of their own, one transaction per loop in
 *       flight: the ceiling of a design that spends one transaction per allocation when there are as
 *       many loops as that design's callers (with fewer it is not a ceiling: etcd batches more
 *       transactions the more are in flight);
 *   <li>{@link #globalLock}: N clients, every allocation under one cluster-wide etcd lock (lease +
 *       lock, read the pool object, write it back, unlock): the whereabouts design;
 *   <li>{@link #store} and {@link #storeAdd}: N simulated nodes (N store instances, own node names)
 *       with a number of callers each, allocating (ADD) and then churning (ADD + DEL).
 * </ol>
 *
 * The {@code etcd} and {@code cluster} scenarios and the tools {@code EtcdBench}, {@code
 * RawCasCeiling} and {@code CentralBench} run them. Bounded in time; keys under a fresh random
 * prefix.
 */
public final class EtcdLoads {
  private static ByteSequence bs(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  /**
   * One worker of a phase: sets up (connects), calls {@code ready.await()}, then works until
   * {@code measureWindow[1]}, counting what it completes inside the window.
   */
  private interface Worker {
    void run(int id, AtomicLong counter, long[] measureWindow, Ready ready) throws Exception;
  }

  /** Waits until every worker has set up; the measured window starts a warm-up second after. */
  private interface Ready {
    void await() throws Exception;
  }

  /**
   * Runs {@code work} on {@code workers} threads: once all have set up, a warm-up second, then counts
   * for {@code seconds}. Workers are timed from the moment they are all ready, so a slow connection
   * (a loaded machine) does not eat into the window.
   */
  private static double measure(int workers, int seconds, Worker work) throws Exception {
    return measure(workers, Duration.ofSeconds(1), Duration.ofSeconds(seconds), work);
  }

  /** {@link #measure(int, int, Worker)} with a warm-up and a measured window of any length. */
  private static double measure(int workers, Duration warmup, Duration measured, Worker work) throws Exception {
    return measure(workers, warmup, measured, work, null);
  }

  /**
   * Called as the measured window opens and as it closes (on a timer thread of its own, at the
   * window's bounds as the workers see them): what a caller reads there is what the window cost.
   */
  public interface WindowProbe {
    void opened();

    void closed();
  }

  private static double measure(int workers, Duration warmup, Duration measured, Worker work, WindowProbe probe)
      throws Exception {
    AtomicLong counter = new AtomicLong();
    long[] window = {Long.MAX_VALUE, Long.MAX_VALUE};
    ScheduledExecutorService timer = probe == null ? null
        : Executors.newSingleThreadScheduledExecutor();
    CyclicBarrier barrier = new CyclicBarrier(workers, () -> {
      window[0] = System.nanoTime() + warmup.toNanos();
      window[1] = window[0] + measured.toNanos();
      if (timer != null) {
        timer.schedule(probe::opened, warmup.toNanos(), TimeUnit.NANOSECONDS);
        timer.schedule(probe::closed, warmup.toNanos() + measured.toNanos(), TimeUnit.NANOSECONDS);
      }
    });
    Ready ready = () -> barrier.await(60, TimeUnit.SECONDS);
    ExecutorService ex = Executors.newFixedThreadPool(workers);
    List<Future<?>> fs = new ArrayList<>();
    for (int i = 0; i < workers; i++) {
      int id = i;
      fs.add(ex.submit(() -> {
        work.run(id, counter, window, ready);
        return null;
      }));
    }
    for (Future<?> f : fs) {
      f.get();
    }
    ex.shutdown();
    if (timer != null) {
      timer.shutdown();
      timer.awaitTermination(10, TimeUnit.SECONDS); // the closing probe has run
    }
    return counter.get() / (measured.toNanos() / 1e9);
  }

  private static boolean counting(long[] window) {
    long now = System.nanoTime();
    return now >= window[0] && now < window[1];
  }

  /** Raw CAS transactions per second from {@code clients} clients on their own keys, one in flight each. */
  public static double rawCas(List<String> endpoints, int clients, int seconds) throws Exception {
    return rawCas(endpoints, clients, 1, Duration.ofSeconds(1), Duration.ofSeconds(seconds), null);
  }

  /** {@link #rawCas(List, int, int)} after {@code warmup}, over {@code measured}. */
  public static double rawCas(List<String> endpoints, int clients, Duration warmup, Duration measured)
      throws Exception {
    return rawCas(endpoints, clients, 1, warmup, measured, null);
  }

  /** {@link #rawCas(List, int, Duration, Duration)}, {@code probe} called at the window's bounds. */
  public static double rawCas(List<String> endpoints, int clients, Duration warmup, Duration measured,
      WindowProbe probe) throws Exception {
    return rawCas(endpoints, clients, 1, warmup, measured, probe);
  }

  /**
   * Raw CAS transactions per second from {@code clients} jetcd clients (connections), each with
   * {@code inFlight} compare-and-swap loops on keys of their own running at once (asynchronously, on
   * the client's own threads): {@code clients × inFlight} transactions in flight, as many as the
   * store's callers when the two are its nodes and callers per node, over as many connections as it
   * has nodes. That is the ceiling of a design that spends one transaction per allocation at the
   * store's concurrency; one client per caller would measure the harness's connections as much as
   * etcd (on two cores, 256 jetcd clients ran fewer transactions than 64).
   */
  public static double rawCas(List<String> endpoints, int clients, int inFlight, Duration warmup, Duration measured,
      WindowProbe probe) throws Exception {
    if (inFlight < 1) {
      throw new IllegalArgumentException("inFlight must be >= 1, got " + inFlight);
    }
    String run = UUID.randomUUID().toString();
    return measure(clients, warmup, measured, (id, counter, window, ready) -> {
      try (Client client = Client.builder().endpoints(endpoints.toArray(String[]::new)).build()) {
        KV kv = client.getKVClient();
        ByteSequence[] keys = new ByteSequence[inFlight];
        long[] revisions = new long[inFlight];
        for (int k = 0; k < inFlight; k++) {
          keys[k] = bs("/bench/" + run + "/raw/" + id + "/" + k);
          revisions[k] = kv.put(keys[k], bs("0")).get().getHeader().getRevision();
        }
        ready.await();
        List<CompletableFuture<Void>> loops = new ArrayList<>();
        for (int k = 0; k < inFlight; k++) {
          CompletableFuture<Void> loop = new CompletableFuture<>();
          loops.add(loop);
          casLoop(kv, keys[k], revisions[k], 1, window, counter, loop);
        }
        CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(); // a failed transaction fails the phase, as a blocking loop's would
      }
    }, probe);
  }

  /** One compare-and-swap after another on {@code key} until the window ends; then completes {@code done}. */
  private static void casLoop(KV kv, ByteSequence key, long revision, long n, long[] window, AtomicLong counter,
      CompletableFuture<Void> done) {
    if (System.nanoTime() >= window[1]) {
      done.complete(null);
      return;
    }
    kv.txn().If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(revision)))
        .Then(Op.put(key, bs(Long.toString(n)), PutOption.DEFAULT))
        .Else(Op.get(key, io.etcd.jetcd.options.GetOption.DEFAULT)).commit()
        .whenComplete((r, failure) -> {
          if (failure != null) {
            done.completeExceptionally(failure);
            return;
          }
          long next;
          if (r.isSucceeded()) {
            next = r.getHeader().getRevision();
            if (counting(window)) {
              counter.incrementAndGet();
            }
          } else {
            next = r.getGetResponses().get(0).getKvs().get(0).getModRevision();
          }
          casLoop(kv, key, next, n + 1, window, counter, done);
        });
  }

  /** Allocations per second from {@code clients} clients behind one global etcd lock. */
  public static double globalLock(List<String> endpoints, int clients, int seconds) throws Exception {
    return globalLock(endpoints, clients, Duration.ofSeconds(1), Duration.ofSeconds(seconds));
  }

  /** Global-lock allocations per second, after {@code warmup}, over {@code measured}. */
  public static double globalLock(List<String> endpoints, int clients, Duration warmup, Duration measured)
      throws Exception {
    String run = UUID.randomUUID().toString();
    ByteSequence lockName = bs("/bench/" + run + "/lock");
    ByteSequence poolKey = bs("/bench/" + run + "/pool");
    return measure(clients, warmup, measured, (id, counter, window, ready) -> {
      try (Client client = Client.builder().endpoints(endpoints.toArray(String[]::new)).build()) {
        long lease = client.getLeaseClient().grant(60).get().getID();
        KV kv = client.getKVClient();
        int n = 0;
        ready.await();
        while (System.nanoTime() < window[1]) {
          ByteSequence owned = client.getLockClient().lock(lockName, lease).get().getKey();
          try {
            // the whereabouts step: read the whole pool object, add one address, write it back
            var got = kv.get(poolKey).get().getKvs();
            String pool = got.isEmpty() ? "" : got.get(0).getValue().toString(StandardCharsets.UTF_8);
            String[] held = pool.isEmpty() ? new String[0] : pool.split(",");
            StringBuilder next = new StringBuilder();
            int keep = Math.max(0, held.length - 255); // a bounded pool object: /24 worth of entries
            for (int i = keep; i < held.length; i++) {
              next.append(held[i]).append(',');
            }
            next.append(id).append('-').append(n++);
            kv.put(poolKey, bs(next.toString())).get();
          } finally {
            client.getLockClient().unlock(owned).get();
          }
          if (counting(window)) {
            counter.incrementAndGet();
          }
        }
        client.getLeaseClient().revoke(lease).get();
      }
    });
  }

  /** {ADD/s, ADD+DEL ops/s, requests per transaction}. */
  public static double[] store(List<String> endpoints, int nodes, int seconds, int threads) throws Exception {
    return store(endpoints, nodes, seconds, threads, null);
  }

  /** {@link #store(List, int, int, int)}, {@code churnProbe} called at the bounds of the churn phase's window. */
  public static double[] store(List<String> endpoints, int nodes, int seconds, int threads, WindowProbe churnProbe)
      throws Exception {
    String prefix = "/bench-" + UUID.randomUUID();
    Pool pool = new Pool("bench", List.of(new RangeSet(List.of(
        IpRange.withDefaults(Cidr.parse("198.18.0.0/15"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
    List<IpamStore> stores = new ArrayList<>();
    for (int n = 0; n < nodes; n++) {
      stores.add(EtcdStores.open(EtcdStoreConfig.of(endpoints, "node-" + n).withPrefix(prefix)
          .withTimeout(java.time.Duration.ofSeconds(10))));
    }
    AtomicLong seq = new AtomicLong();
    try {
      double adds = measure(nodes * threads, seconds, (id, counter, window, ready) -> {
        IpamStore s = stores.get(id % nodes);
        ready.await();
        while (System.nanoTime() < window[1]) {
          AllocationOutcome out = s.allocate(pool, AllocationRequest.of(new Attachment("a" + seq.incrementAndGet(), "eth0")));
          if (!(out instanceof AllocationOutcome.Allocated)) {
            throw new IllegalStateException(out.toString());
          }
          if (counting(window)) {
            counter.incrementAndGet();
          }
        }
      });
      double churn = measure(nodes * threads, Duration.ofSeconds(1), Duration.ofSeconds(seconds), (id, counter, window, ready) -> {
        IpamStore s = stores.get(id % nodes);
        ready.await();
        while (System.nanoTime() < window[1]) {
          Attachment a = new Attachment("c" + seq.incrementAndGet(), "eth0");
          s.allocate(pool, AllocationRequest.of(a));
          s.release(pool, a);
          if (counting(window)) {
            counter.addAndGet(2);
          }
        }
      }, churnProbe);
      long commits = 0;
      long requests = 0;
      for (IpamStore s : stores) {
        long[] stats = statsOf(s);
        commits += stats[0];
        requests += stats[1];
      }
      return new double[] {adds, churn, commits == 0 ? 0 : requests / (double) commits};
    } finally {
      stores.forEach(IpamStore::close);
    }
  }

  /**
   * ADD only: {@code nodes} store instances (node names {@code node-0..}, a fresh key prefix, a
   * /15 pool with /26 blocks) with {@code callers} threads each, after {@code warmup}, over {@code
   * measured}. Returns {allocations/s, requests per etcd transaction}. Every allocation must
   * succeed: anything else ends the phase with an exception naming the outcome.
   */
  public static double[] storeAdd(List<String> endpoints, int nodes, int callers, Duration warmup,
      Duration measured) throws Exception {
    String prefix = "/bench-" + UUID.randomUUID();
    Pool pool = new Pool("bench", List.of(new RangeSet(List.of(
        IpRange.withDefaults(Cidr.parse("198.18.0.0/15"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
    List<IpamStore> stores = new ArrayList<>();
    AtomicLong seq = new AtomicLong();
    try {
      for (int n = 0; n < nodes; n++) {
        stores.add(EtcdStores.open(EtcdStoreConfig.of(endpoints, "node-" + n).withPrefix(prefix)
            .withTimeout(java.time.Duration.ofSeconds(10))));
      }
      double adds = measure(nodes * callers, warmup, measured, (id, counter, window, ready) -> {
        IpamStore s = stores.get(id % nodes);
        ready.await();
        while (System.nanoTime() < window[1]) {
          Attachment a = new Attachment("a" + seq.incrementAndGet(), "eth0");
          AllocationOutcome out = s.allocate(pool, AllocationRequest.of(a));
          if (!(out instanceof AllocationOutcome.Allocated)) {
            throw new IllegalStateException(out.toString());
          }
          if (counting(window)) {
            counter.incrementAndGet();
          }
        }
      });
      long commits = 0;
      long requests = 0;
      for (IpamStore s : stores) {
        long[] stats = statsOf(s);
        commits += stats[0];
        requests += stats[1];
      }
      return new double[] {adds, commits == 0 ? 0 : requests / (double) commits};
    } finally {
      stores.forEach(IpamStore::close);
    }
  }

  /** The store's commit counters (see {@link CommitCounters}); zeros for a store without them. */
  private static long[] statsOf(IpamStore s) {
    return s.capability(CommitCounters.class).map(c -> new long[] {c.commits(), c.committedRequests()})
        .orElse(new long[] {0, 0});
  }

  private EtcdLoads() {}
}
