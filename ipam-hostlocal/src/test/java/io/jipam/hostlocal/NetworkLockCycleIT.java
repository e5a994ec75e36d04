package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel's deadlock check on fcntl locks sees processes, not threads: jipamd's thread A holds
 * a network's lock (an ADD in a sub-pool), a plugin process holds another sub-pool's lock and waits
 * for that network's lock (its ADD), and jipamd's thread B asks for the plugin's sub-pool lock (a
 * DEL looking in it). No thread waits for itself, yet the kernel answers B with EDEADLK. B asks
 * again until A is done, and gets the lock; it used to fail the call with IO_FAILURE ("Resource
 * deadlock avoided", once in a CI run of SubPoolRenameIT).
 */
class NetworkLockCycleIT {
  @TempDir Path dataDir;

  @Test
  void acquire_kernelSeesAProcessCycleThatNoThreadHas_asksAgainAndGetsTheLock() throws Exception {
    Pool network = TestPools.pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
    Pool sub = TestPools.pool("net+db", AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
    PoolDir networkDir = new PoolDir(dataDir, "net", (PoolDir.Forcer) null);
    PoolDir subDir = new PoolDir(dataDir, "net+db", (PoolDir.Forcer) null);
    PoolLock.acquire(subDir, sub).close(); // makes both directories and lock files
    PoolLock threadA = PoolLock.acquire(networkDir, network);
    Path out = dataDir.resolve("child.out");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process plugin = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx32m", "-cp",
        System.getProperty("java.class.path"), LockCycleChild.class.getName(),
        subDir.dir.resolve(PoolDir.LOCK).toString(), networkDir.dir.resolve(PoolDir.LOCK).toString())
        .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      Await.until(() -> Files.exists(out) && Files.readString(out).contains("held") && blockedWaiters() > 0,
          Duration.ofSeconds(30), "the child holding net+db's lock and waiting for net's");
      long before = PoolLock.DEADLOCKS_AVOIDED.get();
      CompletableFuture<Boolean> threadB = CompletableFuture.supplyAsync(() -> {
        PoolLock b = PoolLock.acquire(subDir, sub); // released by the thread that took it, as a call does
        b.close();
        return true;
      });
      Await.until(() -> PoolLock.DEADLOCKS_AVOIDED.get() > before || threadB.isDone(), Duration.ofSeconds(30),
          "thread B refused by the kernel at least once");
      if (threadB.isCompletedExceptionally()) {
        threadB.get(); // the refusal, as the call would have failed with it
      }
      assertTrue(PoolLock.DEADLOCKS_AVOIDED.get() > before, "the kernel saw no cycle: the test proves nothing");
      threadA.close();
      assertTrue(threadB.get(30, TimeUnit.SECONDS), "thread B got the lock");
      assertTrue(plugin.waitFor(30, TimeUnit.SECONDS), "the child finished");
      assertEquals(0, plugin.exitValue());
      assertTrue(Files.readString(out).contains("got"), Files.readString(out));
    } finally {
      plugin.destroyForcibly();
    }
  }

  /** Blocked fcntl lock requests on this machine ({@code /proc/locks} lines with {@code ->}). */
  private static long blockedWaiters() throws java.io.IOException {
    return Files.readAllLines(Path.of("/proc/locks")).stream().filter(l -> l.contains("->")).count();
  }
}
