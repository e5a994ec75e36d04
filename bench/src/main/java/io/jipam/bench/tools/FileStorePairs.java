package io.jipam.bench.tools;

import io.jipam.bench.service.PairLoad;
import io.jipam.bench.support.Dirs;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The file stores without gRPC, in this process: THREADS threads doing allocate + release pairs on
 * one /16 for WARMUP then SECONDS seconds, on the plugin's store ({@code HostLocalStores.open},
 * what jipamd used before) and on jipamd's write-through store, each with and without fsync, one
 * after the other in one run. Prints pairs/s and CPU per pair (all threads of this process, and
 * without the JIT compiler threads); what the store adds to a jipamd call.
 *
 * <pre>java -cp bench/target/classes:bench/target/lib/* io.jipam.bench.tools.FileStorePairs \
 *     [threads=64] [warmupSeconds=5] [seconds=10] [stores=plugin,write-through,plugin-fsync,write-through-fsync]</pre>
 */
public final class FileStorePairs {
  private FileStorePairs() {}

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 64;
    long warmup = (args.length > 1 ? Long.parseLong(args[1]) : 5) * 1_000_000_000L;
    long window = (args.length > 2 ? Long.parseLong(args[2]) : 10) * 1_000_000_000L;
    String[] stores = (args.length > 3 ? args[3] : "plugin,write-through,plugin-fsync,write-through-fsync").split(",");
    Pool pool = new Pool("bench", List.of(new RangeSet(List.of(
        IpRange.withDefaults(Cidr.parse("198.18.0.0/16"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
    for (String name : stores) {
      Path dir = Dirs.temporary("jipam-file-pairs");
      FileSync sync = name.endsWith("-fsync") ? FileSync.FSYNC : FileSync.NONE;
      IpamStore store = name.startsWith("write-through") ? HostLocalStores.openWriteThrough(dir, sync)
          : HostLocalStores.open(dir, sync);
      long start = System.nanoTime();
      long from = start + warmup;
      long end = from + window;
      AtomicLong pairs = new AtomicLong();
      List<Thread> workers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        Thread w = new Thread(() -> {
          for (long i = 0; System.nanoTime() < end; i++) {
            Attachment a = new Attachment("f" + id + "-" + i, "eth0");
            long t0 = System.nanoTime();
            if (!(store.allocate(pool, AllocationRequest.of(a)) instanceof AllocationOutcome.Allocated)) {
              throw new IllegalStateException("allocate failed");
            }
            store.release(pool, a);
            if (t0 >= from && t0 < end) {
              pairs.incrementAndGet();
            }
          }
        });
        w.start();
        workers.add(w);
      }
      Thread.sleep(warmup / 1_000_000);
      long self = ProcessHandle.current().pid();
      long cpu0 = cpu();
      long jit0 = PairLoad.jitCpuNanos(self);
      for (Thread w : workers) {
        w.join();
      }
      long cpu = cpu() - cpu0;
      long jit = PairLoad.jitCpuNanos(self) - jit0;
      store.close();
      long n = pairs.get();
      System.out.printf("%s: %d threads, %.0f pairs/s, CPU per pair %.3f ms (without JIT compiler threads %.3f ms)%n",
          name, threads, n / (window / 1e9), cpu / 1e6 / n, (cpu - jit) / 1e6 / n);
      Dirs.deleteTree(dir);
    }
  }

  private static long cpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }
}
