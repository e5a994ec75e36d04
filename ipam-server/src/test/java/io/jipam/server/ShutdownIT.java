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
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Await;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import java.nio.file.Path;
import java.time.Duration;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to a jipamd process under load from 8 client threads: afterwards the files hold every
 * allocation a client saw acknowledged, every attachment in them holds one address per range set
 * (nothing half-applied), and anything there that was not acknowledged belongs to a call whose
 * client saw an error.
 */
@Timeout(120)
class ShutdownIT {
  @TempDir Path dir;

  @Test
  void sigterm_underLoad_everyCallCompletedOrFailedVisibly() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    Path data = dir.resolve("data");
    Pool pool = IpamServerTest.pool("term", "198.18.8.0/22", "fd00:8::/64");
    Set<Attachment> acknowledged = ConcurrentHashMap.newKeySet();
    Set<Attachment> failed = ConcurrentHashMap.newKeySet();
    AtomicBoolean stop = new AtomicBoolean();
    try (JipamdProcess jipamd = ServerJipamd.start(dir, "--socket", socket.toString(), "--store", "file",
        "--data-dir", data.toString(), "--shutdown-timeout", "5");
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      ExecutorService clients = Executors.newFixedThreadPool(8);
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int id = t;
        futures.add(clients.submit(() -> {
          for (int n = 0; !stop.get() && n < 400; n++) {
            Attachment a = new Attachment("t" + id + "-" + n, "eth0");
            try {
              if (remote.allocate(pool, AllocationRequest.of(a)) instanceof AllocationOutcome.Allocated) {
                acknowledged.add(a);
              }
            } catch (IpamException e) {
              failed.add(a);
              return;
            }
          }
        }));
      }
      // SIGTERM while the clients are busy: once they have 80 acknowledged allocations
      Await.until(() -> acknowledged.size() >= 80 || !failed.isEmpty(), Duration.ofMinutes(1),
          () -> "80 acknowledged allocations (" + acknowledged.size() + ")");
      stopUnderLoad(jipamd, stop, clients, futures);
      assertTrue(jipamd.output().contains("stopped"), jipamd.output());
    }
    assertTrue(acknowledged.size() > 0, "some calls completed before SIGTERM");
    try (IpamStore files = HostLocalStores.open(data)) {
      Map<Attachment, Integer> held = new HashMap<>();
      for (Allocation a : files.list(pool)) {
        held.merge(a.attachment(), 1, Integer::sum);
      }
      for (Attachment a : acknowledged) {
        assertEquals(2, held.getOrDefault(a, 0), a + " was acknowledged");
      }
      held.forEach((a, n) -> {
        assertEquals(2, n, a + " is half-applied");
        assertTrue(acknowledged.contains(a) || failed.contains(a), a + " is held but its client saw neither");
      });
    }
  }

  /**
   * SIGTERM to jipamd, then tells the clients to stop and waits for them; jipamd's stop must be
   * clean (exit 0).
   */
  private static void stopUnderLoad(JipamdProcess jipamd, AtomicBoolean stop, ExecutorService clients,
      List<Future<?>> futures) throws Exception {
    int exit = jipamd.stop();
    stop.set(true);
    for (Future<?> f : futures) {
      f.get(30, TimeUnit.SECONDS);
    }
    clients.shutdown();
    assertEquals(0, exit, "a clean stop exits 0\n" + jipamd.output());
  }

  /**
   * SIGTERM while clients keep opening connections, on the unix socket and on TCP: a clean stop
   * (exit 0) whose output is jipamd's own lines only. Vert.x took a stopping server's event loops
   * away before its listener closed, and Netty logged each connection accepted in between, "Failed
   * to register an accepted channel", with a stack trace.
   */
  @Test
  void sigterm_connectionsArrivingThroughTheStop_closedWithoutAStackTrace() throws Exception {
    Path socket = dir.resolve("conn.sock");
    int port = Ports.free();
    try (JipamdProcess jipamd = ServerJipamd.start(dir, "--socket", socket.toString(), "--store", "memory",
        "--listen", "127.0.0.1:" + port, "--insecure")) {
      AtomicBoolean stop = new AtomicBoolean();
      java.util.concurrent.atomic.AtomicInteger connected = new java.util.concurrent.atomic.AtomicInteger();
      ExecutorService clients = Executors.newFixedThreadPool(4);
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        java.net.SocketAddress target = t % 2 == 0 ? java.net.UnixDomainSocketAddress.of(socket)
            : new java.net.InetSocketAddress("127.0.0.1", port);
        futures.add(clients.submit(() -> {
          while (!stop.get()) {
            try (java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(target)) {
              connected.incrementAndGet();
            } catch (java.io.IOException refused) {
              // the listener is closing or gone: go on until told to stop
            }
          }
          return null;
        }));
      }
      try {
        Await.until(() -> connected.get() >= 200, Duration.ofMinutes(1), () -> "200 connections (" + connected + ")");
        stopUnderLoad(jipamd, stop, clients, futures);
      } finally {
        stop.set(true); // the clients end however the test does
        clients.shutdownNow();
      }
      for (String line : jipamd.output().split("\n")) {
        assertTrue(line.contains(" jipamd "), "a line that is not jipamd's own:\n" + jipamd.output());
      }
    }
  }

  /**
   * A store call still running when the shutdown bound (1 s) passes: the stop reports it (jipamd
   * then exits 1, not 0), and a call that finishes within the bound does not. The abandoned call,
   * ending after the stop, is logged as not answered and throws nothing on its worker thread.
   */
  /**
   * SIGTERM while jipamd starts (here during a long warm-up): a clean stop, exit 0, and nothing
   * left, neither the socket nor its pid file nor the warm-up's scratch dir. The signal handlers
   * were installed only once it served: the JVM's own handler ended it with 143 and left them.
   */
  @Test
  void sigterm_duringStartUp_exitZeroNothingLeft() throws Exception {
    Path socket = dir.resolve("starting.sock");
    Path tmp = java.nio.file.Files.createDirectories(dir.resolve("tmp"));
    List<String> jvm = new ArrayList<>(JipamdProcess.LEAN_JVM);
    jvm.add("-Djava.io.tmpdir=" + tmp);
    JipamdProcess jipamd = JipamdProcess.launch(dir, JipamdProcess.archivedJvm(jvm, Jipamd.class.getName(),
        List.of("--socket", socket.toString(), "--store", "memory", "--warm-up", "100000")), Map.of());
    Await.until(() -> {
      try (java.util.stream.Stream<Path> in = java.nio.file.Files.list(tmp)) {
        return in.anyMatch(p -> p.getFileName().toString().startsWith("jipamd-warm-up"));
      }
    }, Duration.ofSeconds(60), () -> "the warm-up never started:\n" + jipamd.output());
    assertEquals(0, jipamd.stop(), jipamd.output());
    assertTrue(jipamd.output().contains("stopped before serving"), jipamd.output());
    try (java.util.stream.Stream<Path> left = java.nio.file.Files.list(tmp)) {
      assertEquals(List.of(), left.toList(), "the warm-up's scratch dir");
    }
    assertFalse(java.nio.file.Files.exists(socket), "the socket");
    assertFalse(java.nio.file.Files.exists(Path.of(socket + ".pid")), "the socket's pid file");
  }

  /** A store method held by the test: says it was entered, then waits (at most 60 s) to be released. */
  private static void enterAndWait(java.util.concurrent.CountDownLatch entered,
      java.util.concurrent.CountDownLatch release) {
    entered.countDown();
    try {
      release.await(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * A store whose close outlasts the shutdown bound (1 s; an etcd store finishing commits abandoned
   * at the bound): the stop returns by the bound plus its second of grace, reported not clean, and
   * leaves the close to end with the JVM. It waited for the close however long it took.
   */
  @Test
  void stop_storeCloseOutlastingTheBound_returnsByTheBoundNotClean() throws Exception {
    java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    IpamStore memory = MemoryStores.open();
    IpamStore slowClose = new ForwardingStore(memory) {
      @Override
      public void close() {
        enterAndWait(closing, release);
        memory.close();
      }
    };
    IpamServer.Settings settings = new IpamServer.Settings(dir.resolve("close.sock"), null, 0, false, null, null,
        null, 2, 16, 4L << 20, java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(30));
    IpamServer server = IpamServer.start(slowClose, settings, CallLog.quiet());
    try {
      long start = System.nanoTime();
      assertFalse(server.stop(), "the store did not close within the bound");
      long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertEquals(0, closing.getCount(), "the close was started");
      assertTrue(took < 30_000, "the stop waited for the close: " + took + " ms");
    } finally {
      release.countDown();
    }
  }

  @Test
  void stop_callRunningPastTheBound_reportedNotClean() throws Exception {
    java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    IpamStore memory = MemoryStores.open();
    IpamStore slow = new ForwardingStore(memory) {
      @Override
      public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
        enterAndWait(entered, release);
        return memory.allocate(pool, request);
      }
    };
    Path socket = dir.resolve("bound.sock");
    IpamServer.Settings settings = new IpamServer.Settings(socket, null, 0, false, null, null, null, 2, 16, 4L << 20,
        java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(30));
    java.io.ByteArrayOutputStream calls = new java.io.ByteArrayOutputStream();
    IpamServer server = IpamServer.start(slow, settings,
        new CallLog(new java.io.PrintStream(calls, true, java.nio.charset.StandardCharsets.UTF_8), true));
    java.util.List<Throwable> uncaught = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    // jipamd's workers only: the handler is the JVM's, and other classes' tests run beside this one
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
      if (t.getName().equals("jipamd-store")) {
        uncaught.add(e);
      } else if (previous != null) {
        previous.uncaughtException(t, e);
      } else { // as the JVM prints it without a handler
        System.err.print("Exception in thread \"" + t.getName() + "\" ");
        e.printStackTrace();
      }
    });
    ExecutorService client = Executors.newSingleThreadExecutor();
    try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      client.submit(() -> remote.allocate(IpamServerTest.pool("slow", "198.18.10.0/24"),
          AllocationRequest.of(new Attachment("c1", "eth0"))));
      assertTrue(entered.await(30, TimeUnit.SECONDS), "the call reached the store");
      assertEquals(false, server.stop(), "a call ran past the bound");
      release.countDown();
      io.jipam.testkit.Await.until(() -> calls.toString(java.nio.charset.StandardCharsets.UTF_8).contains(
          "method=Allocate pool=slow attachment=c1/eth0 outcome=not answered: jipamd stopped before the call ended"),
          java.time.Duration.ofSeconds(30), () -> "the abandoned call's log line; log: " + calls);
      assertEquals(java.util.List.of(), uncaught, "thrown on a worker after the stop");
    } finally {
      release.countDown();
      client.shutdownNow();
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
    IpamServer quick = IpamServer.start(MemoryStores.open(), settings, CallLog.quiet());
    try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      remote.allocate(IpamServerTest.pool("quick", "198.18.10.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
    }
    assertEquals(true, quick.stop(), "nothing in flight");
  }
}
