package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestPools;
import io.jipam.core.store.capability.AsyncChanges;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.LocalCalls;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.server.cni.SocketExchange;
import io.jipam.server.metrics.CallLog;
import java.io.ByteArrayOutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** jipamd's own behaviour beyond the store contract: definitions, errors, paging, the CNI call. */
@Timeout(60)
class IpamServerTest {
  @TempDir Path dir;
  Path socket;
  IpamServer server;
  RemoteStore remote;

  @BeforeEach
  void start() {
    socket = dir.resolve("jipam.sock");
    server = IpamServer.start(MemoryStores.open(), IpamServer.Settings.unix(socket), CallLog.quiet());
    remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
  }

  @AfterEach
  void stop() {
    remote.close();
    server.close();
  }

  static Pool pool(String name, String... subnets) {
    return TestPools.pool(name, AllocationOrder.LOWEST_FREE, subnets);
  }

  /** gRPC calls run on the event loop only on a store that offers {@code NeverBlocks}: the memory store. */
  @Test
  void neverBlocks_storeKinds_onlyTheMemoryStore() {
    assertTrue(IpamServer.neverBlocks(MemoryStores.open()));
    IpamStore files = HostLocalStores.openWriteThrough(dir.resolve("files"), FileSync.NONE);
    assertFalse(IpamServer.neverBlocks(files), "file system calls may wait for the pool's lock");
    assertTrue(files.capability(LocalCalls.class).isPresent());
  }

  @Test
  void allocate_poolRedefinedWithOtherRanges_invalidConfigNamingBoth() {
    remote.allocate(pool("net", "198.18.0.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
    IpamException e = assertThrows(IpamException.class,
        () -> remote.allocate(pool("net", "198.18.1.0/24"), AllocationRequest.of(new Attachment("c2", "eth0"))));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains("198.18.0.1-198.18.0.254") && e.getMessage().contains("198.18.1.1-198.18.1.254"), e.getMessage());
    assertEquals(1, remote.list(pool("net", "198.18.0.0/24")).size());
  }

  /** A read naming another definition before any allocation pins nothing: the allocation's definition is served. */
  @Test
  void allocate_afterReadsWithAnotherDefinition_servedAndThenFixed() {
    remote.find(pool("net", "10.99.0.0/30"), new Attachment("x", "eth0"));
    remote.usage(pool("net", "10.98.0.0/30"));
    remote.allocate(pool("net", "198.18.0.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
    IpamException e = assertThrows(IpamException.class, () -> remote.find(pool("net", "10.99.0.0/30"),
        new Attachment("x", "eth0")));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code(), "once allocated from, the definition holds for reads too");
  }

  /** A server whose pages do not go up in address order ends the client's listing, not loops it. */
  @Test
  void list_serverPagesNotGoingUp_decodeFailureNotAnEndlessLoop() {
    final class SamePageForever extends ForwardingStore implements ListPages {
      SamePageForever(IpamStore store) {
        super(store);
      }

      @Override
      public Page page(Pool pool, Filter filter, io.jipam.core.net.IpAddress after, int size) {
        List<Allocation> all = store.list(pool);
        return new Page(List.of(new Listed(all.get(0), "")), all.get(0).address());
      }
    }
    Path loopSocket = dir.resolve("loop.sock");
    IpamStore inner = MemoryStores.open();
    Pool pool = pool("loop", "198.18.5.0/24");
    inner.allocate(pool, AllocationRequest.of(new Attachment("c1", "eth0")));
    try (IpamServer loop = IpamServer.start(new SamePageForever(inner), IpamServer.Settings.unix(loopSocket), CallLog.quiet());
        RemoteStore client = RemoteStore.connect(RemoteStore.Target.parse("unix:" + loopSocket))) {
      IpamException e = assertThrows(IpamException.class, () -> client.list(pool));
      assertEquals(ErrorCode.DECODE_FAILURE, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("to continue after 198.18.5.2, not after the page before's 198.18.5.2"),
          e.getMessage());
    }
  }

  @Test
  void list_moreThanOnePage_allInAddressOrderAndFiltersApply() {
    Pool pool = pool("big", "198.18.0.0/20");
    for (int i = 0; i < 1200; i++) {
      PodRef pod = new PodRef(i % 3 == 0 ? "kube-system" : "default", "pod-" + i);
      remote.allocate(pool, new AllocationRequest(new Attachment("c" + i, "eth0"), List.of(), pod));
    }
    List<Allocation> all = remote.list(pool);
    assertEquals(1200, all.size());
    for (int i = 1; i < all.size(); i++) {
      assertTrue(all.get(i - 1).address().compareTo(all.get(i).address()) < 0, "ordered at " + i);
    }
    List<ListPages.Listed> system = remote.list(pool, new ListPages.Filter("", "", "kube-system", "", ""));
    assertEquals(400, system.size());
    assertTrue(system.stream().allMatch(l -> l.allocation().pod().namespace().equals("kube-system")));
    List<ListPages.Listed> one = remote.list(pool, new ListPages.Filter("c7", "", "", "", ""));
    assertEquals(List.of(new Attachment("c7", "eth0")), one.stream().map(l -> l.allocation().attachment()).toList());
  }

  /** Pools allocated from are listed with their usage; a pool only read is not (a read defines nothing). */
  @Test
  void pools_afterCalls_listsPoolsAllocatedFromWithUsage() {
    Pool a = pool("a", "198.18.0.0/24", "fd00:a::/64");
    remote.allocate(a, AllocationRequest.of(new Attachment("c1", "eth0")));
    remote.usage(pool("b", "198.18.1.0/24"));
    remote.find(pool("c", "198.18.2.0/24"), new Attachment("c1", "eth0"));
    List<PoolStatus> pools = remote.pools();
    assertEquals(List.of("a"), pools.stream().map(p -> p.pool().name()).toList());
    assertEquals(a, pools.get(0).pool());
    assertEquals(List.of(1L, 1L), pools.get(0).usage().allocated());
  }

  @Test
  void reclaimNode_storeWithoutNodes_unsupportedFieldNotSilence() {
    IpamException e = assertThrows(IpamException.class, () -> remote.reclaimNode("node-1", ReclaimPolicy.DEFAULT));
    assertEquals(ErrorCode.UNSUPPORTED_FIELD, e.code(), e.getMessage());
  }

  @Test
  void allocate_exhaustedAndTaken_comeBackAsOutcomes() {
    Pool small = pool("small", "198.18.0.0/30"); // .2 only
    Attachment first = new Attachment("c1", "eth0");
    remote.allocate(small, AllocationRequest.of(first));
    AllocationOutcome full = remote.allocate(small, AllocationRequest.of(new Attachment("c2", "eth0")));
    assertEquals(0, assertInstanceOf(AllocationOutcome.Exhausted.class, full).rangeSetIndex());
    AllocationOutcome taken = remote.allocate(small, new AllocationRequest(new Attachment("c3", "eth0"),
        List.of(io.jipam.core.net.IpAddress.parse("198.18.0.2")), null));
    assertEquals(first, assertInstanceOf(AllocationOutcome.Taken.class, taken).holder());
  }

  @Test
  void call_noJipamd_tryAgainLaterWithinTheDeadline() {
    RemoteStore nowhere = RemoteStore.connect(RemoteStore.Target.parse("unix:" + dir.resolve("none.sock"))
        .withTimeout(Duration.ofSeconds(2)));
    try {
      long start = System.nanoTime();
      IpamException e = assertThrows(IpamException.class, () -> nowhere.list(pool("net", "198.18.0.0/24")));
      assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code());
      assertTrue(System.nanoTime() - start < Duration.ofSeconds(4).toNanos(), "bounded");
    } finally {
      nowhere.close();
    }
  }

  static final String CONFIG = "{\"cniVersion\":\"1.0.0\",\"name\":\"pods\",\"type\":\"bridge\","
      + "\"ipam\":{\"type\":\"jipam\",\"ranges\":[[{\"subnet\":\"198.18.4.0/24\"}],[{\"subnet\":\"fd00:4::/64\"}]]}}";

  @Test
  void cniCall_addThenDel_printsResultAndReleases() throws Exception {
    Reply add = cni("CNI_COMMAND=ADD\nCNI_CONTAINERID=abc\nCNI_NETNS=/run/netns/x\nCNI_IFNAME=eth0\nCNI_PATH=/opt/cni/bin\n"
        + "CNI_ARGS=K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web\n\n" + CONFIG);
    assertEquals(0, add.exit, add.body);
    assertTrue(add.body.contains("\"198.18.4.2/24\"") && add.body.contains("\"fd00:4::2/64\""), add.body);
    Pool pool = pool("pods", "198.18.4.0/24", "fd00:4::/64");
    Pool roundRobin = new Pool(pool.name(), pool.rangeSets(), AllocationOrder.ROUND_ROBIN);
    assertEquals(new PodRef("ns", "web"), remote.find(roundRobin, new Attachment("abc", "eth0")).get(0).pod());
    Reply del = cni("CNI_COMMAND=DEL\nCNI_CONTAINERID=abc\nCNI_IFNAME=eth0\nCNI_PATH=/opt/cni/bin\n\n" + CONFIG);
    assertEquals(0, del.exit, del.body);
    assertEquals("", del.body);
    assertEquals(List.of(), remote.list(roundRobin));
  }

  /**
   * Where a CNI call runs: on a store of {@link LocalCalls} on the event loop that decoded it, on
   * any other on a worker; and which of jipamd's stores offer it (file without fsync, memory).
   */
  @Test
  void cniCall_storeOfLocalCallsOrNot_eventLoopOrWorker() throws Exception {
    class Recording extends ForwardingStore {
      final List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();

      Recording() {
        super(MemoryStores.open());
      }

      @Override
      public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
        threads.add(Thread.currentThread().getName());
        return super.allocate(pool, request);
      }
    }
    class LocalRecording extends Recording implements LocalCalls {}
    for (Recording store : List.of(new LocalRecording(), new Recording())) {
      Path at = dir.resolve(store.getClass().getSimpleName() + ".sock");
      try (IpamServer served = IpamServer.start(store, IpamServer.Settings.unix(at), CallLog.quiet())) {
        Reply add = cni(at, "CNI_COMMAND=ADD\nCNI_CONTAINERID=abc\nCNI_NETNS=/run/netns/x\nCNI_IFNAME=eth0\n"
            + "CNI_PATH=/opt/cni/bin\n\n" + CONFIG);
        assertEquals(0, add.exit, add.body);
      }
      String expected = store instanceof LocalCalls ? "vert.x-eventloop-thread-" : "jipamd-store";
      assertEquals(1, store.threads.size(), store.threads::toString);
      assertTrue(store.threads.get(0).startsWith(expected), store.threads + " for " + store.getClass());
    }
    try (IpamStore plain = HostLocalStores.openWriteThrough(dir.resolve("plain"), FileSync.NONE);
        IpamStore synced = HostLocalStores.openWriteThrough(dir.resolve("synced"), FileSync.FSYNC);
        IpamStore memory = MemoryStores.open()) {
      assertTrue(plain.capability(LocalCalls.class).isPresent());
      assertTrue(memory.capability(LocalCalls.class).isPresent());
      assertTrue(synced.capability(LocalCalls.class).isEmpty(), "fsync waits for the disk");
    }
  }

  /**
   * gRPC Allocate and Release on a store of {@link AsyncChanges}: started on the event loop with
   * no worker waiting, answered when the store completes them, and at most workers + queue of them
   * waiting at once (beyond: RESOURCE_EXHAUSTED / TRY_AGAIN_LATER, nothing started).
   */
  @Test
  void allocate_storeOfAsyncChanges_startedOnTheEventLoopAndBoundedByWorkersAndQueue() throws Exception {
    class Gate extends ForwardingStore implements AsyncChanges {
      final java.util.concurrent.BlockingQueue<Runnable> held = new java.util.concurrent.LinkedBlockingQueue<>();
      final List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();

      Gate() {
        super(MemoryStores.open());
      }

      @Override
      public CompletableFuture<AllocationOutcome> allocateAsync(Pool pool, AllocationRequest request) {
        threads.add(Thread.currentThread().getName());
        CompletableFuture<AllocationOutcome> f = new CompletableFuture<>();
        held.add(() -> f.complete(store.allocate(pool, request)));
        return f;
      }

      @Override
      public CompletableFuture<List<Allocation>> releaseAsync(Pool pool, Attachment attachment) {
        threads.add(Thread.currentThread().getName());
        return CompletableFuture.completedFuture(store.release(pool, attachment));
      }
    }
    Gate gate = new Gate();
    Path at = dir.resolve("gate.sock");
    Pool pool = pool("net", "198.18.0.0/24");
    // 1 worker, queue 1: two calls may wait for the store at once
    try (IpamServer served = IpamServer.start(gate, new IpamServer.Settings(at, null, 0, false, null, null, null, 1, 1,
        4L << 20, Duration.ofSeconds(10), Duration.ofSeconds(30)), CallLog.quiet());
        RemoteStore client = RemoteStore.connect(RemoteStore.Target.parse("unix:" + at).withTimeout(Duration.ofSeconds(20)))) {
      java.util.concurrent.ExecutorService callers = java.util.concurrent.Executors.newFixedThreadPool(2);
      try {
        List<java.util.concurrent.Future<AllocationOutcome>> waiting = List.of(
            callers.submit(() -> client.allocate(pool, AllocationRequest.of(new Attachment("c1", "eth0")))),
            callers.submit(() -> client.allocate(pool, AllocationRequest.of(new Attachment("c2", "eth0")))));
        long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (gate.held.size() < 2) {
          assertTrue(System.nanoTime() < until, "two calls started");
          Thread.sleep(5);
        }
        IpamException busy = assertThrows(IpamException.class,
            () -> client.allocate(pool, AllocationRequest.of(new Attachment("c3", "eth0"))));
        assertEquals(ErrorCode.TRY_AGAIN_LATER, busy.code(), busy.getMessage());
        assertEquals(2, gate.threads.size(), "the third was not started: " + gate.threads);
        for (int i = 0; i < 2; i++) {
          gate.held.take().run();
        }
        for (var w : waiting) {
          assertInstanceOf(AllocationOutcome.Allocated.class, w.get(20, java.util.concurrent.TimeUnit.SECONDS));
        }
        assertEquals(1, client.release(pool, new Attachment("c1", "eth0")).size());
        assertEquals(List.of(new Attachment("c2", "eth0")),
            client.list(pool).stream().map(Allocation::attachment).toList(), "c3 never applied");
        assertTrue(gate.threads.stream().allMatch(t -> t.startsWith("vert.x-eventloop-thread-")), gate.threads::toString);
      } finally {
        callers.shutdownNow();
      }
    }
  }

  /**
   * A definition too large to keep decoded (over 256 KiB: here 128 ranges of 200 excludes each) is
   * decoded at every call, up to a second for megabytes; its Allocate and Release run on a worker,
   * not on the event loop, where they stalled every other caller's calls. A small one is still
   * started on the event loop.
   */
  @Test
  void allocate_hugeDefinitionOnAStoreOfAsyncChanges_servedOnAWorker() throws Exception {
    class Recording extends ForwardingStore implements AsyncChanges {
      final List<String> async = new java.util.concurrent.CopyOnWriteArrayList<>();
      final List<String> sync = new java.util.concurrent.CopyOnWriteArrayList<>();

      Recording() {
        super(MemoryStores.open());
      }

      @Override
      public CompletableFuture<AllocationOutcome> allocateAsync(Pool pool, AllocationRequest request) {
        async.add(Thread.currentThread().getName());
        return CompletableFuture.completedFuture(store.allocate(pool, request));
      }

      @Override
      public CompletableFuture<List<Allocation>> releaseAsync(Pool pool, Attachment attachment) {
        async.add(Thread.currentThread().getName());
        return CompletableFuture.completedFuture(store.release(pool, attachment));
      }

      @Override
      public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
        sync.add(Thread.currentThread().getName());
        return super.allocate(pool, request);
      }

      @Override
      public List<Allocation> release(Pool pool, Attachment attachment) {
        sync.add(Thread.currentThread().getName());
        return super.release(pool, attachment);
      }
    }
    List<io.jipam.core.net.IpRange> ranges = new java.util.ArrayList<>();
    for (int i = 0; i < 128; i++) {
      List<io.jipam.core.net.Cidr> excludes = new java.util.ArrayList<>();
      for (int j = 0; j < 200; j++) {
        excludes.add(io.jipam.core.net.Cidr.parse("10." + i + "." + (1 + j / 256) + "." + (j % 256) + "/32"));
      }
      ranges.add(io.jipam.core.net.IpRange.withDefaults(io.jipam.core.net.Cidr.parse("10." + i + ".0.0/16"), null, null,
          null, excludes));
    }
    Pool huge = new Pool("huge", List.of(new io.jipam.core.net.RangeSet(ranges)),
        io.jipam.core.alloc.AllocationOrder.LOWEST_FREE);
    assertTrue(io.jipam.api.WireMapping.pool(huge).getSerializedSize() > 256 << 10);
    Recording store = new Recording();
    Path at = dir.resolve("huge.sock");
    try (IpamServer served = IpamServer.start(store, IpamServer.Settings.unix(at), CallLog.quiet());
        RemoteStore client = RemoteStore.connect(RemoteStore.Target.parse("unix:" + at))) {
      Attachment a = new Attachment("h1", "eth0");
      assertInstanceOf(AllocationOutcome.Allocated.class, client.allocate(huge, AllocationRequest.of(a)));
      assertEquals(1, client.release(huge, a).size());
      assertEquals(List.of(), store.async, "nothing of the huge definition's started on the event loop");
      assertEquals(2, store.sync.size(), store.sync::toString);
      assertTrue(store.sync.stream().noneMatch(t -> t.startsWith("vert.x-eventloop-thread-")), store.sync::toString);
      assertInstanceOf(AllocationOutcome.Allocated.class, client.allocate(pool("small", "198.18.0.0/24"),
          AllocationRequest.of(a)));
      assertEquals(1, store.async.size(), "a small definition's Allocate is still started on the event loop");
    }
  }

  @Test
  void cniCall_badInputs_cniErrorEachAndServingGoesOn() throws Exception {
    Reply noEnv = cni("garbage\n\n" + CONFIG);
    assertEquals(1, noEnv.exit);
    assertTrue(noEnv.body.replace(" ", "").contains("\"code\":6"), noEnv.body);
    Reply badConfig = cni("CNI_COMMAND=ADD\nCNI_CONTAINERID=abc\nCNI_NETNS=/x\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n{\"cniVersion\":");
    assertEquals(1, badConfig.exit);
    assertTrue(badConfig.body.replace(" ", "").contains("\"code\":6"), badConfig.body);
    Reply missing = cni("CNI_COMMAND=ADD\nCNI_PATH=/p\n\n" + CONFIG);
    assertEquals(1, missing.exit);
    assertTrue(missing.body.replace(" ", "").contains("\"code\":4") && missing.body.contains("CNI_CONTAINERID"), missing.body);
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      ch.write(ByteBuffer.wrap("\u0000\u0001 not http at all\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1)));
      ch.shutdownOutput();
      ch.read(ByteBuffer.allocate(1024));
    }
    assertEquals(List.of(), remote.list(pool("other", "198.18.9.0/24")));
  }

  @Test
  void grpc_malformedAndOversizedMessages_errorEachAndServingGoesOn() throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      io.vertx.grpc.client.GrpcClient client = io.vertx.grpc.client.GrpcClient.client(vertx);
      io.vertx.core.net.SocketAddress where = io.vertx.core.net.SocketAddress.domainSocketAddress(socket.toString());
      byte[] garbage = new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07, 0x01};
      byte[] huge = new byte[5 << 20];
      for (byte[] payload : List.of(garbage, huge)) {
        // an error status, or the stream reset (the server's answer to an oversized message)
        String outcome = client.request(where).compose(req -> {
          req.fullMethodName("jipam.v1.Ipam/Allocate");
          return req.send(io.vertx.core.buffer.Buffer.buffer(payload));
        }).compose(resp -> resp.end().transform(ar -> io.vertx.core.Future.succeededFuture(String.valueOf(resp.status()))))
            .recover(e -> io.vertx.core.Future.succeededFuture("reset: " + e))
            .toCompletionStage().toCompletableFuture().get(20, java.util.concurrent.TimeUnit.SECONDS);
        assertTrue(!outcome.equals("OK"), "payload of " + payload.length + " bytes: " + outcome);
      }
      client.close();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
    assertInstanceOf(AllocationOutcome.Allocated.class,
        remote.allocate(pool("after", "198.18.5.0/24"), AllocationRequest.of(new Attachment("c1", "eth0"))));
  }

  @Test
  void cniCall_clientHangsMidRequest_cutByIdleTimeoutWhileOthersAreServed() throws Exception {
    Path idleSocket = dir.resolve("idle.sock");
    IpamServer idle = IpamServer.start(MemoryStores.open(), new IpamServer.Settings(idleSocket, null, 0, false,
        null, null, null, 2, 4, 4L << 20, Duration.ofSeconds(5), Duration.ofSeconds(1)), CallLog.quiet());
    try (SocketChannel hung = SocketChannel.open(UnixDomainSocketAddress.of(idleSocket))) {
      hung.write(ByteBuffer.wrap(("POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
          + "CNI_COMMAND=ADD\n").getBytes(StandardCharsets.ISO_8859_1)));
      Reply other = cni(idleSocket, "CNI_COMMAND=DEL\nCNI_CONTAINERID=abc\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n" + CONFIG);
      assertEquals(0, other.exit, other.body);
      long start = System.nanoTime();
      ByteBuffer answer = ByteBuffer.allocate(4096);
      while (hung.read(answer) >= 0) {
        assertTrue(answer.hasRemaining(), "the server closes the hung connection after at most its error");
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      String text = new String(answer.array(), 0, answer.position(), StandardCharsets.ISO_8859_1);
      // CNI error 11 from the request bound, or nothing when the idle timeout closed it first
      assertTrue(text.isEmpty() || text.replace(" ", "").contains("\"code\":11"), text);
      assertTrue(millis < 5000, "cut after " + millis + " ms");
    } finally {
      idle.close();
    }
  }

  /**
   * The same CNI calls sent as the clients send them (served by {@code CniFastPath}) and chunked
   * (served by Vert.x's HTTP server behind it): the answers are the same bytes. Each pair runs on
   * two networks alike but for their names, so each of the two sees the same state.
   */
  @Test
  void cniCall_fastPathAndHttpServer_sameAnswerBytes() throws Exception {
    String env = "CNI_IFNAME=eth0\nCNI_NETNS=/run/netns/x\nCNI_PATH=/opt/cni/bin\n";
    String[] calls = {
        "CNI_COMMAND=VERSION\n" + env + "\n" + CONFIG,
        "CNI_COMMAND=ADD\nCNI_CONTAINERID=same\n" + env + "\n" + CONFIG,
        "CNI_COMMAND=ADD\nCNI_CONTAINERID=same\n" + env + "\n" + CONFIG, // repeated: existing
        "CNI_COMMAND=CHECK\nCNI_CONTAINERID=same\n" + env + "\n" + CONFIG,
        "CNI_COMMAND=ADD\nCNI_CONTAINERID=bad\n" + env + "\n{\"cniVersion\":\"1.0.0\",",
        "CNI_COMMAND=NOPE\n" + env + "\n" + CONFIG,
        "CNI_COMMAND=DEL\nCNI_CONTAINERID=same\n" + env + "\n" + CONFIG,
    };
    for (String call : calls) {
      byte[] fastBody = call.replace("\"pods\"", "\"twin-a\"").getBytes(StandardCharsets.UTF_8);
      String fast = SocketExchange.exchange(socket, concat(("POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\n"
          + "Content-Length: " + fastBody.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8), fastBody), false);
      byte[] chunkedBody = call.replace("\"pods\"", "\"twin-b\"").getBytes(StandardCharsets.UTF_8);
      String chunked = SocketExchange.exchange(socket, concat(("POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(chunkedBody.length) + "\r\n")
          .getBytes(StandardCharsets.UTF_8), chunkedBody, "\r\n0\r\n\r\n".getBytes(StandardCharsets.UTF_8)), false);
      assertEquals(chunked, fast, call);
      assertTrue(fast.startsWith("HTTP/1.1 200 OK\r\nJipam-Exit: "), fast);
    }
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      all.writeBytes(p);
    }
    return all.toByteArray();
  }

  record Reply(int exit, String body) {}

  /** A CNI call as the plugin sends it: HTTP/1.1 over the unix socket, Connection: close. */
  Reply cni(String body) throws Exception {
    return cni(socket, body);
  }

  static Reply cni(Path socket, String body) throws Exception {
    return cni(socket, body.getBytes(StandardCharsets.UTF_8), false);
  }

  /** A CNI call of these exact bytes; with {@code halfClose} the client then shuts down its sending half. */
  static Reply cni(Path socket, byte[] payload, boolean halfClose) throws Exception {
    String head = "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nContent-Length: " + payload.length
        + "\r\nConnection: close\r\n\r\n";
    String text = new String(SocketExchange.exchange(socket, concat(head.getBytes(StandardCharsets.ISO_8859_1),
        payload), halfClose).getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    int split = text.indexOf("\r\n\r\n");
    if (split < 0) {
      throw new AssertionError("no answer from jipamd, got \"" + text + "\"");
    }
    String headers = text.substring(0, split).toLowerCase(java.util.Locale.ROOT);
    int at = headers.indexOf("jipam-exit: ");
    int exit = Integer.parseInt(headers.substring(at + 12, at + 13));
    return new Reply(exit, text.substring(split + 4));
  }

}
