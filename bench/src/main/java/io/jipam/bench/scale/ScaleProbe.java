package io.jipam.bench.scale;

import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.CommitCounters;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.EtcdStores;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What {@code scale} measures at one allocation count: a fresh node's first ADD, its steady ADD
 * and DEL and the bytes they write, a built node's GC, block usage (its metrics' read) and
 * reclaim preview, the reclaim of a node holding P pods, and the pool-wide usage, list and audit,
 * and etcd's database size. One use.
 */
final class ScaleProbe {
  static final int REPEATS = 20;

  /** One figure: operation, metric, unit, value. */
  record Figure(String operation, String metric, String unit, double value) {}

  private final List<String> endpoints;
  private final Pool pool;
  private final int pods;
  private final int built;
  private final List<Figure> out = new ArrayList<>();

  ScaleProbe(List<String> endpoints, Pool pool, int pods, int built) {
    this.endpoints = endpoints;
    this.pool = pool;
    this.pods = pods;
    this.built = built;
  }

  List<Figure> measure() throws Exception {
    String probe = "probe-" + built;
    try (EtcdStore fresh = EtcdStores.open(ScaleCluster.config(endpoints, probe));
        EtcdStore node0 = EtcdStores.open(ScaleCluster.config(endpoints, ScaleCluster.node(0)));
        EtcdStore viewer = EtcdStores.open(ScaleCluster.config(endpoints, "viewer").withTimeout(ScaleCluster.VIEW_TIMEOUT))) {
      long start = System.nanoTime();
      allocated(fresh, new Attachment(probe + "-first", "eth0"));
      ms("first ADD of a fresh node", (System.nanoTime() - start) / 1e6);
      CommitCounters counters = fresh.capability(CommitCounters.class).orElseThrow();
      long bytes = counters.bytesWritten();
      List<Attachment> steady = new ArrayList<>();
      double[] adds = new double[REPEATS];
      for (int i = 0; i < REPEATS; i++) {
        Attachment a = new Attachment(probe + "-s" + i, "eth0");
        steady.add(a);
        adds[i] = time(() -> allocated(fresh, a));
      }
      double[] dels = new double[REPEATS];
      for (int i = 0; i < REPEATS; i++) {
        Attachment a = steady.get(i);
        dels[i] = time(() -> fresh.release(pool, a));
      }
      ms("ADD", median(adds));
      ms("DEL", median(dels));
      out.add(new Figure("written per ADD+DEL", "bytes", "B", (counters.bytesWritten() - bytes) / (double) REPEATS));
      Set<Attachment> mine = new HashSet<>();
      for (int k = 0; k < pods; k++) {
        mine.add(ScaleCluster.pod(0, k));
      }
      ms("GC of a node (retainOnly)", median(5, () -> node0.retainOnly(pool, mine)));
      ms("usage of a node (its blocks: metrics)", median(5, () -> node0.nodeBlockUsage(pool)));
      CommitCounters node0Counters = (CommitCounters) node0;
      reads("a node's metrics scrape (its blocks)", node0Counters, () -> node0.nodeBlockUsage(pool));
      reads("a node's readiness probe (ping)", node0Counters, node0::ping);
      ms("reclaim preview of a node", median(5, () -> node0.previewReclaim(ScaleCluster.node(1), ReclaimPolicy.FORCE)));
      for (int k = 0; k < pods - 1; k++) {
        allocated(fresh, new Attachment(probe + "-r" + k, "eth0"));
      }
      ms("reclaim of a node with P pods", time(() -> node0.reclaimNode(probe, ReclaimPolicy.FORCE)));
      ms("cluster usage", time(() -> viewer.usage(pool)));
      reads("pool totals (cluster usage)", (CommitCounters) viewer, () -> viewer.usage(pool));
      ms("one list page (500)", time(() -> viewer.listPage(pool, null, 500)));
      List<io.jipam.core.store.Allocation> all = new ArrayList<>();
      ms("list (whole pool)", time(() -> all.addAll(viewer.list(pool))));
      io.jipam.core.net.IpAddress middle = all.get(all.size() / 2).address();
      ms("one list page (500) from the middle", time(() -> viewer.listPage(pool, middle, 500)));
      List<String> findings = new ArrayList<>();
      ms("audit (whole pool)", time(() -> findings.addAll(viewer.audit(pool))));
      out.add(new Figure("audit findings", "count", "count", findings.size()));
      out.add(new Figure("etcd db size", "bytes", "MB", counters.etcdDbSize() / 1e6));
      out.add(new Figure("largest etcd response to a node's calls", "bytes", "KB",
          Math.max(counters.largestResponseBytes(), ((CommitCounters) node0).largestResponseBytes()) / 1e3));
      out.add(new Figure("largest etcd response to pool-wide views", "bytes", "MB",
          ((CommitCounters) viewer).largestResponseBytes() / 1e6));
    }
    return out;
  }

  /** What one call asks of etcd: requests, and bytes of keys and values returned. */
  private void reads(String operation, CommitCounters counters, Runnable call) {
    long[] before = counters.etcdReads();
    call.run();
    long[] after = counters.etcdReads();
    out.add(new Figure(operation + ": etcd requests", "requests", "count", after[0] - before[0]));
    out.add(new Figure(operation + ": etcd bytes read", "bytes", "KB", (after[1] - before[1]) / 1e3));
  }

  private void allocated(EtcdStore store, Attachment a) {
    AllocationOutcome o = store.allocate(pool, AllocationRequest.of(a));
    if (!(o instanceof AllocationOutcome.Allocated)) {
      throw new IllegalStateException(a + ": " + o);
    }
  }

  private void ms(String operation, double value) {
    out.add(new Figure(operation, "wall", "ms", value));
  }

  private static double time(Runnable r) {
    long start = System.nanoTime();
    r.run();
    return (System.nanoTime() - start) / 1e6;
  }

  private static double median(int n, Supplier<?> call) {
    double[] t = new double[n];
    for (int i = 0; i < n; i++) {
      t[i] = time(call::get);
    }
    return median(t);
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
