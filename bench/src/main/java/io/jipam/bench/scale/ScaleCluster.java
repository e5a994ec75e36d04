package io.jipam.bench.scale;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.etcd.EtcdNodeStores;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The simulated cluster of {@code scale}: node {@code node-<i>} has pods {@code n<i>-p<k>}, each
 * allocated by a store of that node ({@link #WORKERS} nodes at once; {@link #CALLERS} of a node's
 * pods at once). A node's store is opened for the node and closed after, as a node's jipamd
 * restarts: its own caches, commit queue and ticket lease, on one etcd client that all nodes of a
 * phase share ({@link EtcdStores#openShared}: a jetcd client per node cost more of this machine's
 * CPU than the calls). Then the restart storm. Not thread-safe: one caller drives it.
 */
final class ScaleCluster {
  static final int WORKERS = 32;
  static final int CALLERS = 16;
  static final String POOL_RANGE = "fd00:5ca1::/104";
  static final Duration TIMEOUT = Duration.ofSeconds(30);
  /** Pool-wide views (list, audit) of a large pool on a loaded machine take longer than a call. */
  static final Duration VIEW_TIMEOUT = Duration.ofMinutes(10);

  private final List<String> endpoints;
  private final Pool pool;
  private final int pods;

  ScaleCluster(List<String> endpoints, Pool pool, int pods) {
    this.endpoints = endpoints;
    this.pool = pool;
    this.pods = pods;
  }

  static Pool pool() {
    return new Pool("scale", List.of(new RangeSet(List.of(IpRange.withDefaults(io.jipam.core.net.Cidr.parse(POOL_RANGE),
        null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
  }

  static EtcdStoreConfig config(List<String> endpoints, String node) {
    return EtcdStoreConfig.of(endpoints, node).withTimeout(TIMEOUT);
  }

  static Attachment pod(int node, int k) {
    return new Attachment("n" + node + "-p" + k, "eth0");
  }

  static String node(int i) {
    return "node-" + i;
  }

  /** Allocates every pod of nodes {@code from} (inclusive) to {@code to}, each through its node's store. */
  void build(int from, int to) throws Exception {
    forNodes(from, to, (store, i) -> {
      List<Attachment> all = new ArrayList<>();
      for (int k = 0; k < pods; k++) {
        all.add(pod(i, k));
      }
      for (AllocationOutcome out : allocateAll(store, all)) {
        if (!(out instanceof AllocationOutcome.Allocated)) {
          throw new IllegalStateException(node(i) + ": " + out);
        }
      }
    });
  }

  private List<AllocationOutcome> allocateAll(EtcdStore store, List<Attachment> attachments) throws Exception {
    ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
    try {
      List<Future<AllocationOutcome>> outs = new ArrayList<>();
      for (Attachment a : attachments) {
        outs.add(callers.submit(() -> store.allocate(pool, AllocationRequest.of(a))));
      }
      List<AllocationOutcome> results = new ArrayList<>();
      for (Future<AllocationOutcome> f : outs) {
        results.add(f.get());
      }
      return results;
    } finally {
      callers.shutdownNow();
    }
  }

  interface NodeWork {
    void run(EtcdStore store, int node) throws Exception;
  }

  private void forNodes(int from, int to, NodeWork work) throws Exception {
    ExecutorService workers = Executors.newFixedThreadPool(WORKERS);
    try (EtcdNodeStores shared = EtcdStores.openShared(config(endpoints, "scale-cluster"))) {
      List<Future<?>> done = new ArrayList<>();
      for (int i = from; i < to; i++) {
        int node = i;
        done.add(workers.submit(() -> {
          try (EtcdStore store = shared.forNode(node(node))) {
            work.run(store, node);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      workers.shutdownNow();
    }
  }

  /** What the restart storm did: time, addresses held twice, failed calls, the audit's findings. */
  record Storm(double seconds, int duplicates, int failedCalls, List<String> findings) {}

  /**
   * Every node restarts at once: re-ADDs each of its pods (idempotent: the same address back),
   * then DELs a tenth of them and ADDs as many new pods, all its calls concurrent. Then: no address
   * held by two attachments (from every answer), every pod there, the audit clean.
   */
  Storm restartStorm(int nodes) throws Exception {
    Map<Attachment, List<IpAddress>> held = new ConcurrentHashMap<>();
    AtomicInteger failed = new AtomicInteger();
    long start = System.nanoTime();
    forNodes(0, nodes, (store, i) -> {
      List<Attachment> all = new ArrayList<>();
      for (int k = 0; k < pods; k++) {
        all.add(pod(i, k));
      }
      record(held, all, allocateAll(store, all), failed);
      int tenth = Math.max(1, pods / 10);
      List<Attachment> fresh = new ArrayList<>();
      ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
      try {
        List<Future<?>> dels = new ArrayList<>();
        for (int k = 0; k < tenth; k++) {
          Attachment gone = pod(i, k);
          dels.add(callers.submit(() -> {
            store.release(pool, gone);
            held.remove(gone);
            return null;
          }));
          fresh.add(new Attachment("n" + i + "-r" + k, "eth0"));
        }
        for (Future<?> f : dels) {
          try {
            f.get();
          } catch (java.util.concurrent.ExecutionException e) {
            failed.incrementAndGet();
          }
        }
      } finally {
        callers.shutdownNow();
      }
      record(held, fresh, allocateAll(store, fresh), failed);
    });
    double seconds = (System.nanoTime() - start) / 1e9;
    Map<IpAddress, Attachment> owner = new HashMap<>();
    int duplicates = 0;
    for (Map.Entry<Attachment, List<IpAddress>> e : held.entrySet()) {
      for (IpAddress a : e.getValue()) {
        if (owner.put(a, e.getKey()) != null) {
          duplicates++;
        }
      }
    }
    try (EtcdStore store = EtcdStores.open(config(endpoints, "auditor").withTimeout(VIEW_TIMEOUT))) {
      List<String> findings = new ArrayList<>(store.audit(pool));
      List<Allocation> listed = store.list(pool);
      if (listed.size() != held.size()) {
        findings.add("the pool holds " + listed.size() + " allocations, the storm's answers " + held.size());
      }
      return new Storm(seconds, duplicates, failed.get(), findings);
    }
  }

  private static void record(Map<Attachment, List<IpAddress>> held, List<Attachment> asked,
      List<AllocationOutcome> outs, AtomicInteger failed) {
    for (int i = 0; i < asked.size(); i++) {
      if (outs.get(i) instanceof AllocationOutcome.Allocated a) {
        held.put(asked.get(i), a.allocations().stream().map(Allocation::address).toList());
      } else {
        failed.incrementAndGet();
      }
    }
  }
}
