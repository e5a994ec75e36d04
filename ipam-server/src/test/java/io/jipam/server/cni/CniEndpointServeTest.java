package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

/**
 * {@link CniEndpoint#serve} when the answer cannot be delivered: a call abandoned at jipamd's
 * shutdown bound ends after the connection's event loop has ended, and handing its reply over
 * throws {@link RejectedExecutionException}. The call is done (the store's change stands); it is
 * logged as not answered, and nothing is thrown on the worker.
 */
class CniEndpointServeTest {
  static final String CONF = "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"ipam\":{\"type\":\"jipam\","
      + "\"subnet\":\"198.18.0.0/29\"}}";

  @Test
  void serve_eventLoopEndedBeforeTheAnswer_loggedNotAnsweredNothingThrown() {
    IpamStore store = MemoryStores.open();
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    CniEndpoint cni = new CniEndpoint(store, new PoolRegistry(), Runnable::run,
        new CallLog(new PrintStream(logged, true, StandardCharsets.UTF_8), true), new Metrics(), Duration.ofSeconds(30),
        "node-1");
    byte[] body = ("CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n"
        + CONF).getBytes(StandardCharsets.UTF_8);
    cni.serve(body, System.nanoTime(), 0, reply -> {
      throw new RejectedExecutionException("event executor terminated");
    });
    String log = logged.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("call method=CNI/ADD pool=net attachment=c1/eth0")
        && log.contains("outcome=ok not answered: jipamd stopped before the call ended"), log);
    assertEquals(1, log.lines().count(), log);
    assertEquals(1, store.list(io.jipam.core.testing.TestPools.pool("net",
        io.jipam.core.alloc.AllocationOrder.ROUND_ROBIN, "198.18.0.0/29")).size(), "the call's change stands");
  }

  private static byte[] add(String id, String network) {
    return ("CNI_COMMAND=ADD\nCNI_CONTAINERID=" + id + "\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n"
        + CONF.replace("\"net\"", "\"" + network + "\"")).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The file store's calls run on the decoding thread (an event loop) without waiting: while
   * another process (a plugin in direct mode, here a child JVM) holds one network's pool lock, a
   * call on another network is answered on this thread at once, and the call on the locked one
   * goes to a worker, which answers it once the lock is free. Before, the event loop waited for the
   * lock, and every call of every network behind it with it.
   */
  @Test
  void serve_poolLockHeldByAnotherProcess_otherNetworksAnsweredHereLockedOneOnAWorker(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dataDir) throws Exception {
    IpamStore store = io.jipam.hostlocal.HostLocalStores.openWriteThrough(dataDir, io.jipam.hostlocal.FileSync.NONE);
    java.util.concurrent.atomic.AtomicInteger handedOff = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
    java.util.concurrent.Executor workers = r -> {
      handedOff.incrementAndGet();
      pool.execute(r);
    };
    CniEndpoint cni = new CniEndpoint(store, new PoolRegistry(), workers,
        new CallLog(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), true), new Metrics(),
        Duration.ofSeconds(30), "node-1");
    try (store) {
      cni.serve(add("warm", "locked"), System.nanoTime(), 0, reply -> { }); // makes the network's folder
      java.util.concurrent.CompletableFuture<CniEndpoint.Reply> late = new java.util.concurrent.CompletableFuture<>();
      try (io.jipam.testkit.FileLockHolder held = io.jipam.testkit.FileLockHolder.hold(dataDir.resolve("locked/lock"))) {
        CniEndpoint.Reply[] here = new CniEndpoint.Reply[1];
        cni.serve(add("c1", "free"), System.nanoTime(), 0, reply -> here[0] = reply);
        assertEquals(0, here[0].exit(), new String(here[0].output(), StandardCharsets.UTF_8));
        assertEquals(0, handedOff.get(), "a call on a network whose lock is free ran here");

        // from a thread of its own, so that a serve() that waits for the lock fails this test rather than hangs it
        java.util.concurrent.CompletableFuture.runAsync(() -> cni.serve(add("c2", "locked"), System.nanoTime(),
            0, late::complete)).get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, handedOff.get(), "the call on the locked network went to a worker");
        assertTrue(!late.isDone(), "answered while another process held the lock");
      }
      CniEndpoint.Reply reply = late.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertEquals(0, reply.exit(), new String(reply.output(), StandardCharsets.UTF_8));
      assertTrue(new String(reply.output(), StandardCharsets.UTF_8).contains("198.18.0."));
    } finally {
      pool.shutdownNow();
    }
  }
}
