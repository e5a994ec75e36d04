package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a jipamd process on the file store (its write-through store, group commit) under
 * load from 16 clients allocating and releasing: after the kill, the files hold every allocation
 * a client saw acknowledged and not released since, no release a client saw acknowledged is
 * undone, every attachment holds one address per range set, and a jipamd restarted on the same
 * data dir answers the same.
 */
@Timeout(120)
class FileStoreKillTest {
  @TempDir Path dir;

  @Test
  void sigkill_underLoad_everyAcknowledgedAllocationAndReleaseOnDisk() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    Path data = dir.resolve("data");
    Pool pool = IpamServerTest.pool("kill", "198.18.12.0/22", "fd00:12::/64");
    // attachment -> true while acknowledged allocated, false once its release was acknowledged
    Map<Attachment, Boolean> acknowledged = new ConcurrentHashMap<>();
    Set<Attachment> inFlight = ConcurrentHashMap.newKeySet();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger calls = new AtomicInteger();
    JipamdProcess jipamd = JipamdProcess.start(dir, "--socket", socket.toString(), "--store", "file",
        "--data-dir", data.toString());
    try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      ExecutorService clients = Executors.newFixedThreadPool(16);
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        int id = t;
        futures.add(clients.submit(() -> {
          for (int n = 0; !stop.get(); n++) {
            Attachment a = new Attachment("k" + id + "-" + n, "eth0");
            inFlight.add(a);
            try {
              if (!(remote.allocate(pool, AllocationRequest.of(a)) instanceof AllocationOutcome.Allocated)) {
                throw new AssertionError("pool too small for the test");
              }
              acknowledged.put(a, true);
              inFlight.remove(a);
              calls.incrementAndGet();
              if (n % 2 == 1) { // every other attachment is released again
                inFlight.add(a);
                remote.release(pool, a);
                acknowledged.put(a, false);
                inFlight.remove(a);
                calls.incrementAndGet();
              }
            } catch (IpamException e) {
              return; // jipamd is gone: this call's outcome is unknown (it stays in inFlight)
            }
          }
        }));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (calls.get() < 400 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      jipamd.process.destroyForcibly(); // SIGKILL, mid-load
      jipamd.process.waitFor(10, TimeUnit.SECONDS);
      stop.set(true);
      for (Future<?> f : futures) {
        f.get(30, TimeUnit.SECONDS);
      }
      clients.shutdown();
    }
    assertTrue(calls.get() >= 400, "calls acknowledged before the kill: " + calls.get());
    assertFalse(acknowledged.isEmpty());
    // the plugin's own store reads the files as a plugin in direct mode would
    try (IpamStore files = HostLocalStores.open(data)) {
      checkFiles(files, pool, acknowledged, inFlight);
    }
    // and a jipamd restarted on the data dir answers the same
    JipamdProcess again = JipamdProcess.start(dir, "--socket", socket.toString(), "--store", "file",
        "--data-dir", data.toString());
    try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      checkFiles(remote, pool, acknowledged, inFlight);
      AllocationOutcome after = remote.allocate(pool, AllocationRequest.of(new Attachment("after", "eth0")));
      assertTrue(after instanceof AllocationOutcome.Allocated, after.toString());
    } finally {
      again.close();
    }
  }

  private static void checkFiles(IpamStore store, Pool pool, Map<Attachment, Boolean> acknowledged,
      Set<Attachment> inFlight) {
    Map<Attachment, Integer> held = new HashMap<>();
    Map<String, Attachment> byAddress = new HashMap<>();
    for (Allocation a : store.list(pool)) {
      held.merge(a.attachment(), 1, Integer::sum);
      Attachment before = byAddress.put(a.address().toString(), a.attachment());
      assertEquals(null, before, a.address() + " held twice");
    }
    acknowledged.forEach((a, allocated) -> {
      if (inFlight.contains(a)) {
        return; // its last call was cut by the kill: either outcome is right
      }
      if (allocated) {
        assertEquals(2, held.getOrDefault(a, 0), a + ": acknowledged allocation lost");
      } else {
        assertEquals(0, held.getOrDefault(a, 0), a + ": acknowledged release undone");
      }
    });
    held.forEach((a, n) -> {
      if (!inFlight.contains(a)) { // a dual-stack ADD cut by the kill may hold one set; its DEL or GC frees it
        assertEquals(2, n, a + " is half-applied");
      }
      assertTrue(acknowledged.containsKey(a) || inFlight.contains(a), a + " is held but no client asked for it");
    });
  }
}
