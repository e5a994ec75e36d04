package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd's memory as shipped (issue 17, item 20): the built launcher {@code dist/bin/jipamd} with
 * its default heap bound, the file store, {@value #POOLS} dual-stack pools and {@value
 * #PER_POOL} attachments in each (two addresses apiece) allocated by 8 client threads. Figures
 * (docs/service.md, "Memory"): heap in use after a full GC and the resident set, idle and with
 * every allocation held; the resident peak must stay within the node container's limit, 512 MiB.
 */
@Order(1) // among the module's longest (about 41 s in a suite run): started first, not last
@Timeout(600)
class JipamdMemoryIT {
  static final int POOLS = 16;
  static final int PER_POOL = 1000;
  static final long NODE_LIMIT = 512L << 20;

  @TempDir Path dir;

  @Test
  void launcherDefaults_16PoolsOf1000Attachments_residentPeakWithinTheNodeLimit() throws Exception {
    Path launcher = Path.of(System.getProperty("user.dir")).resolveSibling("dist").resolve("bin/jipamd");
    assertTrue(Files.isExecutable(launcher), "build first: ./mvnw -q -DskipTests package (" + launcher + ")");
    Path socket = dir.resolve("mem.sock");
    try (JipamdProcess j = ServerJipamd.startCommand(dir, List.of(launcher.toString(), "--store", "file",
        "--data-dir", dir.resolve("data").toString(), "--socket", socket.toString()));
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
         JipamdFloodIT.Jmx jmx = JipamdFloodIT.Jmx.attach(j.pid())) {
      long heapIdle = jmx.heapAfterGc();
      long rssIdle = status(j.pid(), "VmRSS:");
      List<Pool> pools = new ArrayList<>();
      for (int p = 0; p < POOLS; p++) {
        pools.add(TestPools.pool("mem-" + p, AllocationOrder.ROUND_ROBIN, "198.18." + (p * 8) + ".0/21",
            "fd00:18:" + p + "::/116"));
      }
      long start = System.nanoTime();
      ExecutorService clients = Executors.newFixedThreadPool(8);
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int id = t;
        done.add(clients.submit(() -> {
          int ok = 0;
          for (int n = id; n < POOLS * PER_POOL; n += 8) {
            Pool pool = pools.get(n % POOLS);
            if (remote.allocate(pool, AllocationRequest.of(new Attachment("m" + n, "eth0")))
                instanceof AllocationOutcome.Allocated) {
              ok++;
            }
          }
          return ok;
        }));
      }
      int allocated = 0;
      for (Future<Integer> f : done) {
        allocated += f.get(300, TimeUnit.SECONDS);
      }
      clients.shutdown();
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
      assertEquals(POOLS * PER_POOL, allocated);
      long heapFull = jmx.heapAfterGc();
      long rssFull = status(j.pid(), "VmRSS:");
      long rssPeak = status(j.pid(), "VmHWM:");
      System.out.println("JipamdMemoryIT: launcher defaults, file store; idle: heap after GC " + mib(heapIdle)
          + " MiB, RSS " + mib(rssIdle) + " MiB; " + POOLS + " pools, " + allocated + " attachments ("
          + 2 * allocated + " addresses) allocated in " + seconds + " s: heap after GC " + mib(heapFull)
          + " MiB, RSS " + mib(rssFull) + " MiB, RSS peak " + mib(rssPeak) + " MiB (limit " + mib(NODE_LIMIT) + ")");
      assertTrue(rssPeak < NODE_LIMIT, "RSS peak " + mib(rssPeak) + " MiB");
      assertEquals(0, j.stop(), j.output());
    }
  }

  private static long status(long pid, String key) throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith(key)) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new java.io.IOException("no " + key + " in /proc/" + pid + "/status");
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }
}
