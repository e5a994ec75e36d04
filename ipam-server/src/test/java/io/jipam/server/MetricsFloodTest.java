package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.server.metrics.CallLog;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scrapes and health checks and jipamd's workers keep out of each other's way. The metrics port is
 * unauthenticated: a flood of {@code /metrics} and {@code /healthz} requests while the store is
 * slow to read must not take the workers from the calls. Here two workers and a queue of two serve
 * a store whose calls take a worker; 48 scrapes and health checks wait on a store read that does not
 * end until the test says so, and meanwhile an Allocate is served (it was answered busy when scrapes
 * ran on the workers). Afterwards every scrape is answered 200. The other way round: with every
 * worker and queue slot taken by calls, the gRPC health check still says SERVING (it said
 * NOT_SERVING: a loaded jipamd looked down).
 */
@Timeout(60)
class MetricsFloodTest {
  @TempDir Path dir;

  /** A store whose calls take a worker (no {@code NeverBlocks}), and whose usage reads wait while held. */
  static final class SlowReads extends ForwardingStore {
    final CountDownLatch readStarted = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger reads = new AtomicInteger();

    SlowReads() {
      super(MemoryStores.open());
    }

    @Override
    public PoolUsage usage(Pool pool) {
      reads.incrementAndGet();
      readStarted.countDown();
      held(release);
      return super.usage(pool);
    }
  }

  /** A store whose calls take a worker, and whose Allocates wait while held. */
  static final class SlowAllocations extends ForwardingStore {
    final CountDownLatch release = new CountDownLatch(1);

    SlowAllocations() {
      super(MemoryStores.open());
    }

    @Override
    public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
      held(release);
      return super.allocate(pool, request);
    }
  }

  /** Waits until the test releases the store (at most 30 s). */
  static void held(CountDownLatch release) {
    try {
      if (!release.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("never released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static final ServiceMethod<HealthCheckResponse, HealthCheckRequest> CHECK = ServiceMethod.client(
      ServiceName.create("grpc.health.v1.Health"), "Check", GrpcMessageEncoder.encoder(),
      GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));

  @Test
  void grpcHealth_everyWorkerAndQueueSlotTakenByCalls_stillServing() throws Exception {
    SlowAllocations store = new SlowAllocations();
    Path socket = dir.resolve("busy.sock");
    IpamServer server = IpamServer.start(store, new IpamServer.Settings(socket, null, 0, false, null, null, null,
        2, 2, 4L << 20, Duration.ofSeconds(5), Duration.ofSeconds(30)), CallLog.quiet());
    ExecutorService callers = Executors.newCachedThreadPool();
    RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket)
        .withTimeout(Duration.ofSeconds(40)));
    try (RawGrpc grpc = new RawGrpc(socket)) {
      Pool pool = IpamServerTest.pool("busy", "198.18.9.0/24");
      List<Future<AllocationOutcome>> calls = new ArrayList<>();
      AtomicInteger n = new AtomicInteger();
      // calls until one is refused busy: then both workers hold one and the queue is full
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      boolean full = false;
      while (!full) {
        assertTrue(System.nanoTime() < deadline, "the queue never filled: " + calls.size() + " calls");
        Future<AllocationOutcome> call = callers.submit(() -> remote.allocate(pool,
            AllocationRequest.of(new Attachment("c" + n.incrementAndGet(), "eth0"))));
        try {
          call.get(300, TimeUnit.MILLISECONDS);
          throw new AssertionError("an Allocate came back while the store holds them");
        } catch (java.util.concurrent.TimeoutException waiting) {
          calls.add(call); // running or queued
        } catch (java.util.concurrent.ExecutionException refused) {
          full = refused.getCause() instanceof io.jipam.core.IpamException e
              && e.code() == io.jipam.core.ErrorCode.TRY_AGAIN_LATER;
          assertTrue(full, "refused otherwise: " + refused.getCause());
        }
      }
      RawGrpc.Answer<HealthCheckResponse> health = grpc.call(CHECK, HealthCheckRequest.newBuilder().build());
      assertEquals(GrpcStatus.OK, health.status(), String.valueOf(health.error()));
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.response().getStatus(),
          "every worker busy with calls is not a store that does not answer");
      store.release.countDown();
      int allocated = 0;
      for (Future<AllocationOutcome> call : calls) {
        try {
          assertInstanceOf(AllocationOutcome.Allocated.class, call.get(30, TimeUnit.SECONDS));
          allocated++;
        } catch (java.util.concurrent.ExecutionException slowRefusal) { // refused busy after the 300 ms look
          assertEquals(io.jipam.core.ErrorCode.TRY_AGAIN_LATER,
              ((io.jipam.core.IpamException) slowRefusal.getCause()).code());
        }
      }
      assertTrue(allocated >= 4, allocated + " calls held: two workers and a queue of two");
    } finally {
      store.release.countDown();
      callers.shutdownNow();
      remote.close();
      server.close();
    }
  }

  @Test
  void metricsAndHealth_floodWhileTheStoreIsSlow_callsStillServedEveryScrapeAnswered() throws Exception {
    SlowReads store = new SlowReads();
    Path socket = dir.resolve("jipam.sock");
    IpamServer server = IpamServer.start(store, new IpamServer.Settings(socket, null, 0, false, null, null, null,
        2, 2, 4L << 20, Duration.ofSeconds(5), Duration.ofSeconds(30)), CallLog.quiet(), "127.0.0.1", 0);
    RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    try {
      Pool pool = IpamServerTest.pool("scraped", "198.18.8.0/24");
      assertInstanceOf(AllocationOutcome.Allocated.class, remote.allocate(pool, AllocationRequest.of(new Attachment("c0", "eth0"))));
      List<CompletableFuture<HttpResponse<String>>> scrapes = new ArrayList<>();
      for (int i = 0; i < 48; i++) {
        String path = i % 4 == 0 ? "/healthz" : "/metrics";
        scrapes.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.metricsPort() + path))
            .timeout(Duration.ofSeconds(45)).build(), HttpResponse.BodyHandlers.ofString()));
      }
      assertTrue(store.readStarted.await(20, TimeUnit.SECONDS), "no scrape reached the store");
      for (int i = 1; i <= 4; i++) {
        assertInstanceOf(AllocationOutcome.Allocated.class,
            remote.allocate(pool, AllocationRequest.of(new Attachment("c" + i, "eth0"))),
            "an Allocate while the scrapes wait: the workers are the calls'");
      }
      store.release.countDown();
      for (CompletableFuture<HttpResponse<String>> scrape : scrapes) {
        HttpResponse<String> r = scrape.get(45, TimeUnit.SECONDS);
        assertEquals(200, r.statusCode(), r.uri() + ": " + r.body());
        if (r.uri().getPath().equals("/metrics")) {
          assertTrue(r.body().contains("jipamd_pool_addresses"), r.body());
        } else {
          assertEquals("SERVING\n", r.body());
        }
      }
      assertTrue(store.reads.get() < 36, "36 scrapes made " + store.reads.get() + " usage reads");
    } finally {
      store.release.countDown();
      remote.close();
      server.close();
    }
  }

  /** A store that does not answer: its probe fails, as etcd's does while etcd is down. */
  static final class Unreachable extends ForwardingStore {
    Unreachable() {
      super(MemoryStores.open());
    }

    @Override
    public <T> java.util.Optional<T> capability(Class<T> ability) {
      if (ability == io.jipam.core.store.capability.Probe.class) {
        return java.util.Optional.of(ability.cast((io.jipam.core.store.capability.Probe) () -> {
          throw new io.jipam.core.IpamException(io.jipam.core.ErrorCode.TRY_AGAIN_LATER, "etcd does not answer");
        }));
      }
      return super.capability(ability);
    }
  }

  /**
   * {@code /livez} is what a liveness probe asks: it answers from the event loop without asking the
   * store, so a store that does not answer fails readiness ({@code /healthz} 503) and not liveness
   * (a restart would not bring etcd back); any other method is 405, as on the other paths.
   */
  @Test
  void livez_storeDoesNotAnswer_aliveWhileHealthzNotServing() throws Exception {
    Path socket = dir.resolve("live.sock");
    IpamServer server = IpamServer.start(new Unreachable(), new IpamServer.Settings(socket, null, 0, false, null,
        null, null, 2, 2, 4L << 20, Duration.ofSeconds(5), Duration.ofSeconds(30)), CallLog.quiet(), "127.0.0.1", 0);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    try {
      String base = "http://127.0.0.1:" + server.metricsPort();
      record Row(String method, String path, int status, String body) {}
      for (Row row : List.of(new Row("GET", "/livez", 200, "ALIVE\n"),
          new Row("GET", "/healthz", 503, "NOT_SERVING: the store does not answer\n"),
          new Row("POST", "/livez", 405, ""),
          new Row("GET", "/livez/x", 404, "not found: jipamd serves /metrics, /healthz and /livez here\n"))) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + row.path()))
            .method(row.method(), HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(row.status(), r.statusCode(), row + ": " + r.body());
        assertEquals(row.body(), r.body(), row.toString());
        assertEquals("close", r.headers().firstValue("connection").orElse(""), row + ": one request per connection");
      }
    } finally {
      server.close();
    }
  }

  /**
   * The metrics port is unauthenticated: clients that pipeline thousands of requests and never
   * read had every answer queued on jipamd's heap, until it ran out of memory with its event loop
   * dead (CNI calls unanswered for good). Now each connection gets one answer and is closed, and
   * connections past {@link io.jipam.server.metrics.MetricsEndpoint#MAX_CONNECTIONS} are closed at
   * once; calls and a fresh health check are served throughout.
   */
  @Test
  void metrics_clientsPipeliningWithoutReading_oneAnswerPerConnectionCallsServed() throws Exception {
    Path socket = dir.resolve("pipelined.sock");
    IpamServer server = IpamServer.start(MemoryStores.open(), new IpamServer.Settings(socket, null, 0, false, null,
        null, null, 2, 2, 4L << 20, Duration.ofSeconds(5), Duration.ofSeconds(30)), CallLog.quiet(), "127.0.0.1", 0);
    RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
    List<java.net.Socket> clients = new ArrayList<>();
    byte[] requests = "GET /metrics HTTP/1.1\r\nHost: j\r\n\r\n".repeat(2000).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    try {
      Pool pool = IpamServerTest.pool("piped", "198.18.7.0/24");
      assertInstanceOf(AllocationOutcome.Allocated.class, remote.allocate(pool, AllocationRequest.of(new Attachment("c0", "eth0"))));
      for (int i = 0; i < 2 * io.jipam.server.metrics.MetricsEndpoint.MAX_CONNECTIONS; i++) {
        java.net.Socket c = new java.net.Socket();
        c.setReceiveBufferSize(4096);
        c.connect(new java.net.InetSocketAddress("127.0.0.1", server.metricsPort()), 5000);
        c.setSoTimeout(20_000);
        clients.add(c);
        try {
          c.getOutputStream().write(requests);
        } catch (java.io.IOException closedByJipamd) {
          // closed while writing: past the bound, or answered and closed already
        }
      }
      for (int i = 1; i <= 4; i++) {
        assertInstanceOf(AllocationOutcome.Allocated.class,
            remote.allocate(pool, AllocationRequest.of(new Attachment("c" + i, "eth0"))), "a call during the flood");
      }
      int answers = 0;
      for (java.net.Socket c : clients) {
        String got;
        try {
          got = new String(c.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (java.io.IOException reset) {
          continue; // closed unanswered (past the bound), or reset with requests unread
        }
        int n = got.split("HTTP/1.1 200", -1).length - 1;
        assertTrue(n <= 1, n + " answers on one connection");
        answers += n;
      }
      assertTrue(answers > 0, "no client got its one answer");
      HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + server.metricsPort() + "/healthz")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, health.statusCode(), health.body());
      assertEquals("close", health.headers().firstValue("connection").orElse(""), "one request per connection");
    } finally {
      for (java.net.Socket c : clients) {
        c.close();
      }
      remote.close();
      server.close();
    }
  }
}
