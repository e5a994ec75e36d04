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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics port is unauthenticated: a flood of {@code /metrics} and {@code /healthz} requests
 * while the store is slow to read must not take jipamd's workers from its calls. Here two workers
 * and a queue of two serve a store whose calls take a worker; 48 scrapes and health checks wait on
 * a store read that does not end until the test says so, and meanwhile an Allocate is served (it
 * was answered busy when scrapes ran on the workers). Afterwards every scrape is answered 200.
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
      try {
        if (!release.await(30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("never released");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      return super.usage(pool);
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
}
