package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.Attachment;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.store.capability.Probe;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Await;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * A call whose result comes after the call ended (its {@code grpc-timeout} passed while the store
 * was slow, so Vert.x answered DEADLINE_EXCEEDED) is dropped quietly and logged as not answered.
 * Before, ending its response threw on the event loop, and Vert.x logged "Unhandled exception" with
 * a stack trace: for every probe that timed out while etcd or a central jipamd was down.
 */
@Timeout(60)
@Isolated // replaces System.err for the whole JVM while it runs
class LateAnswerTest {
  @TempDir Path dir;

  /** A store whose health probe and Allocates wait while held; its calls take a worker. */
  static final class Held extends ForwardingStore implements Probe {
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger waiting = new AtomicInteger();

    Held() {
      super(MemoryStores.open());
    }

    @Override
    public void ping() {
      waiting.incrementAndGet();
      MetricsFloodTest.held(release);
    }

    @Override
    public io.jipam.core.store.AllocationOutcome allocate(io.jipam.core.store.Pool pool,
        io.jipam.core.store.AllocationRequest request) {
      waiting.incrementAndGet();
      MetricsFloodTest.held(release);
      return super.allocate(pool, request);
    }

    @Override
    public <T> Optional<T> capability(Class<T> ability) {
      return ability.isInstance(this) ? Optional.of(ability.cast(this)) : super.capability(ability);
    }
  }

  @Test
  void call_resultAfterItsDeadline_droppedQuietlyLoggedNotAnswered() throws Exception {
    Held store = new Held();
    Path socket = dir.resolve("late.sock");
    ByteArrayOutputStream callLines = new ByteArrayOutputStream();
    PrintStream err = System.err;
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    IpamServer server = IpamServer.start(store, IpamServer.Settings.unix(socket),
        new CallLog(new PrintStream(callLines, true, StandardCharsets.UTF_8), true));
    java.util.function.Supplier<String> allocateLine = () -> callLines.toString(StandardCharsets.UTF_8).lines()
        .filter(l -> l.contains("method=Allocate")).findFirst().orElse(null);
    Vertx vertx = Vertx.vertx();
    System.setErr(new PrintStream(new TeeStream(err, logged), true, StandardCharsets.UTF_8));
    try {
      HttpClient h2c = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
          .setHttp2ClearTextUpgrade(false));
      SocketAddress where = SocketAddress.domainSocketAddress(socket.toString());
      byte[] allocate = AllocateRequest.newBuilder().setPool(io.jipam.api.WireMapping.pool(GrpcIntakeTest.POOL))
          .setAttachment(Attachment.newBuilder().setContainerId("late").setIfname("eth0")).build().toByteArray();
      String health = status(h2c, where, "/grpc.health.v1.Health/Check", HealthCheckRequest.getDefaultInstance().toByteArray());
      String alloc = status(h2c, where, GrpcIntakeTest.ALLOCATE, allocate);
      assertEquals("4", health, "the health check's deadline passed while the store was held");
      assertEquals("4", alloc, "the Allocate's deadline passed while the store was held");
      Await.until(() -> store.waiting.get() == 2, Duration.ofSeconds(20), "both calls reached the store");
      store.release.countDown();
      Await.until(() -> allocateLine.get() != null, Duration.ofSeconds(20), "the Allocate was logged");
      String line = allocateLine.get();
      assertTrue(line.contains("not answered: the call had ended"), line);
      assertTrue(line.contains("allocated"), "the store's outcome stands: " + line);
      // a well-formed call after: the event loop is fine, and nothing was logged
      assertEquals("0", status(h2c, where, "/grpc.health.v1.Health/Check",
          HealthCheckRequest.getDefaultInstance().toByteArray(), "5S"));
    } finally {
      System.setErr(err);
      store.release.countDown();
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      server.close();
    }
    String text = logged.toString(StandardCharsets.UTF_8);
    assertFalse(text.contains("Unhandled exception") || text.contains("IllegalStateException"), text);
  }

  /** With a deadline that passes while the store is held (long enough for the call to reach it on a loaded machine). */
  static String status(HttpClient h2c, SocketAddress where, String path, byte[] message) throws Exception {
    return status(h2c, where, path, message, "2S");
  }

  /** The grpc-status of one call with this deadline, from its headers or trailers. */
  static String status(HttpClient h2c, SocketAddress where, String path, byte[] message, String timeout) throws Exception {
    Buffer frame = Buffer.buffer().appendByte((byte) 0).appendInt(message.length).appendBytes(message);
    RequestOptions options = new RequestOptions().setServer(where).setMethod(HttpMethod.POST).setURI(path)
        .putHeader("content-type", "application/grpc").putHeader("te", "trailers").putHeader("grpc-timeout", timeout);
    return h2c.request(options).compose(req -> req.send(frame))
        .compose(resp -> resp.body().map(body -> resp.trailers().get("grpc-status") != null
            ? resp.trailers().get("grpc-status") : resp.headers().get("grpc-status")))
        .toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  /** Writes to both streams. */
  static final class TeeStream extends java.io.OutputStream {
    private final java.io.OutputStream a;
    private final java.io.OutputStream b;

    TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public synchronized void write(int c) throws java.io.IOException {
      a.write(c);
      b.write(c);
    }

    @Override
    public synchronized void write(byte[] bytes, int off, int len) throws java.io.IOException {
      a.write(bytes, off, len);
      b.write(bytes, off, len);
    }
  }
}
