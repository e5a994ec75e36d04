package io.jipam.bench.server;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.server.RemoteStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Load generator for a running jipamd: CLIENTS threads over CONNECTIONS RemoteStores (HTTP/2
 * connections), each doing allocate + release pairs of its own attachments on one /16 pool for
 * WARMUP then SECONDS seconds; prints pairs per second over the measured window and the latency
 * of a pair (p50, p99, p99.9). Bounded in time; loopback or a unix socket only.
 *
 * <pre>java -cp bench/target/classes:bench/target/lib/* io.jipam.bench.server.JipamdThroughput \
 *     unix:/tmp/jipam.sock [clients=64] [connections=4] [warmupSeconds=3] [seconds=10]</pre>
 */
public final class JipamdThroughput {
  private JipamdThroughput() {}

  /**
   * What one {@link #run} measured. Latencies are of the pairs started inside the measured window,
   * in nanoseconds, in no particular order; a pair's release took {@code pairNanos[i] -
   * allocateNanos[i]}.
   *
   * @param measureNanos the measured window
   * @param pairs pairs started inside the window
   * @param allPairs pairs completed, warm-up included
   * @param failures allocations that did not allocate, and clients stopped by an error
   * @param pairNanos allocate + release, per pair
   * @param allocateNanos the allocate call of the same pair
   */
  public record Result(long measureNanos, long pairs, long allPairs, long failures, long[] pairNanos,
      long[] allocateNanos) {
    /** Pairs per second over the measured window. */
    public double pairsPerSecond() {
      return pairs / (measureNanos / 1e9);
    }
  }

  public static void main(String[] args) throws Exception {
    String address = args[0];
    int clients = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int connections = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    long warmupNanos = (args.length > 3 ? Long.parseLong(args[3]) : 3) * 1_000_000_000L;
    long measureNanos = (args.length > 4 ? Long.parseLong(args[4]) : 10) * 1_000_000_000L;
    Result result = run(address, clients, connections, warmupNanos, measureNanos);
    long[] all = result.pairNanos().clone();
    Arrays.sort(all);
    double seconds = measureNanos / 1e9;
    long cpuNanos = ((com.sun.management.OperatingSystemMXBean)
        java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    System.out.printf("%s clients=%d connections=%d: %.0f pairs/s over %.0f s, pair latency p50 %.2f ms"
            + " p99 %.2f ms p99.9 %.2f ms, failures %d%n", address, clients, connections, result.pairsPerSecond(),
        seconds, pct(all, 0.50), pct(all, 0.99), pct(all, 0.999), result.failures());
    // for the script: CPU per pair is what bounds throughput on a machine shared with others
    System.out.printf("total_pairs=%d client_cpu_ms=%d%n", result.allPairs(), cpuNanos / 1_000_000);
  }

  /**
   * {@code clients} threads over {@code connections} RemoteStores to jipamd at {@code address}
   * ({@code unix:/path} or {@code host:port}), each doing allocate + release pairs of its own
   * attachments for {@code warmupNanos} then {@code measureNanos}. Blocks until every client ends.
   */
  public static Result run(String address, int clients, int connections, long warmupNanos, long measureNanos)
      throws InterruptedException {
    Pool pool = new Pool("bench", List.of(new RangeSet(List.of(
        IpRange.withDefaults(Cidr.parse("198.18.0.0/16"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
    List<RemoteStore> stores = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      stores.add(RemoteStore.connect(RemoteStore.Target.parse(address)));
    }
    long start = System.nanoTime();
    long measureFrom = start + warmupNanos;
    long end = measureFrom + measureNanos;
    AtomicLong pairs = new AtomicLong();
    AtomicLong allPairs = new AtomicLong();
    AtomicLong failures = new AtomicLong();
    long[][] latencies = new long[clients][];
    long[][] allocateLatencies = new long[clients][];
    int[] counts = new int[clients];
    CountDownLatch done = new CountDownLatch(clients);
    for (int c = 0; c < clients; c++) {
      int id = c;
      RemoteStore store = stores.get(c % connections);
      Thread t = new Thread(() -> {
        long[] mine = new long[1 << 10]; // grows by doubling: 256 clients must not start with 256 MB
        long[] mineAllocate = new long[1 << 10];
        int n = 0;
        try {
          for (long i = 0; ; i++) {
            long t0 = System.nanoTime();
            if (t0 >= end) {
              break;
            }
            Attachment a = new Attachment("b" + id + "-" + i, "eth0");
            AllocationOutcome out = store.allocate(pool, AllocationRequest.of(a));
            long allocated = System.nanoTime();
            if (!(out instanceof AllocationOutcome.Allocated)) {
              failures.incrementAndGet();
              continue;
            }
            store.release(pool, a);
            long t1 = System.nanoTime();
            allPairs.incrementAndGet();
            if (t0 >= measureFrom) {
              pairs.incrementAndGet();
              if (n == mine.length) {
                mine = Arrays.copyOf(mine, n * 2);
                mineAllocate = Arrays.copyOf(mineAllocate, n * 2);
              }
              mineAllocate[n] = allocated - t0;
              mine[n++] = t1 - t0;
            }
          }
        } catch (RuntimeException e) {
          failures.incrementAndGet();
          System.err.println("client " + id + ": " + e);
        } finally {
          latencies[id] = mine;
          allocateLatencies[id] = mineAllocate;
          counts[id] = n;
          done.countDown();
        }
      });
      t.start();
    }
    done.await();
    for (RemoteStore s : stores) {
      s.close();
    }
    int total = 0;
    for (int c : counts) {
      total += c;
    }
    long[] all = new long[total];
    long[] allocates = new long[total];
    int at = 0;
    for (int c = 0; c < clients; c++) {
      System.arraycopy(latencies[c], 0, all, at, counts[c]);
      System.arraycopy(allocateLatencies[c], 0, allocates, at, counts[c]);
      at += counts[c];
    }
    return new Result(measureNanos, pairs.get(), allPairs.get(), failures.get(), all, allocates);
  }

  private static double pct(long[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    return sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))] / 1e6;
  }
}
