package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * What RemoteStore refuses before it sends anything: an interface name that is not text (its bytes
 * were not UTF-8), which the API's UTF-8 strings would carry as {@code ?}, another attachment's
 * name. The server counts the requests it gets.
 */
class RemoteStoreRequestTest {
  @Test
  void calls_interfaceNameNotUtf8_refusedNamingItNothingSent() throws Exception {
    Vertx vertx = Vertx.vertx();
    AtomicInteger requests = new AtomicInteger();
    try {
      HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(0))
          .requestHandler(req -> {
            requests.incrementAndGet();
            req.response().setStatusCode(500).end();
          });
      server.listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      Pool pool = TestPools.pool("bytes", AllocationOrder.ROUND_ROBIN, "198.18.92.0/24");
      Attachment e9 = new Attachment("c1", InterfaceName.decode(new byte[] {'e', 't', 'h', (byte) 0xe9}));
      try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("127.0.0.1:" + server.actualPort())
          .withTimeout(Duration.ofSeconds(5)))) {
        for (Executable call : List.<Executable>of(() -> remote.allocate(pool, AllocationRequest.of(e9)),
            () -> remote.release(pool, e9), () -> remote.find(pool, e9))) {
          IpamException e = assertThrows(IpamException.class, call);
          assertEquals(ErrorCode.INVALID_ENVIRONMENT, e.code(), e.getMessage());
          assertTrue(e.getMessage().contains("eth\\xe9") && e.getMessage().contains("jipamd's API"), e.getMessage());
        }
      }
      assertEquals(0, requests.get(), "sent");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Every change carries the time it must apply by, if at all: this store's timeout from now less a
   * quarter of it, the margin for the two hosts' clocks (jipamd refuses a change that comes later).
   */
  @Test
  void applyBy_timeouts_threeQuartersOfTheTimeoutFromNow() {
    java.time.Clock clock = java.time.Clock.fixed(java.time.Instant.ofEpochMilli(1_800_000_000_000L),
        java.time.ZoneOffset.UTC);
    record Row(Duration timeout, long applyBy) {}
    for (Row row : List.of(new Row(Duration.ofSeconds(5), 1_800_000_003_750L),
        new Row(Duration.ofSeconds(2), 1_800_000_001_500L), new Row(Duration.ofMillis(100), 1_800_000_000_075L))) {
      try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("127.0.0.1:1").withTimeout(row.timeout),
          null, clock)) {
        assertEquals(row.applyBy, remote.applyBy(), row.toString());
      }
    }
    // within a sooner deadline of this call's own caller (a node jipamd's CNI client): three quarters
    // of the time left to that one; a later one changes nothing
    try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("127.0.0.1:1")
        .withTimeout(Duration.ofSeconds(5)), null, clock)) {
      assertEquals(1_800_000_001_500L, (long) io.jipam.core.store.capability.ApplyBy.within(1_800_000_002_000L,
          remote::applyBy));
      assertEquals(1_799_999_999_000L, (long) io.jipam.core.store.capability.ApplyBy.within(1_799_999_999_000L,
          remote::applyBy), "passed already: passed (jipamd refuses it)");
      assertEquals(1_800_000_003_750L, (long) io.jipam.core.store.capability.ApplyBy.within(1_800_000_060_000L,
          remote::applyBy));
    }
  }
}
