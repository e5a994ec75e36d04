package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shutdown bound is one bound for the whole stop: with a gRPC call held half-sent on each
 * listener, the stop ends about one bound after it began. The listeners were drained one
 * after the other, each with the whole bound (so the stop took twice the bound, and the second
 * listener went on taking new calls meanwhile).
 */
@Timeout(60)
class ShutdownBoundTest {
  static final Duration BOUND = Duration.ofSeconds(3);

  @TempDir Path dir;

  @Test
  void stop_requestHeldOnEachListener_endsWithinOneBound() throws Exception {
    Path socket = dir.resolve("j.sock");
    IpamServer.Settings base = IpamServer.Settings.unix(socket).withTcp("127.0.0.1", 0, true, null, null, null);
    IpamServer.Settings settings = new IpamServer.Settings(base.socket(), base.tcpHost(), base.tcpPort(), true, null,
        null, null, 2, 16, 4L << 20, BOUND, Duration.ofSeconds(30));
    IpamServer server = IpamServer.start(MemoryStores.open(), settings, CallLog.quiet());
    Vertx vertx = Vertx.vertx();
    try {
      HttpClient h2c = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
          .setHttp2ClearTextUpgrade(false));
      for (SocketAddress where : List.of(SocketAddress.domainSocketAddress(socket.toString()),
          SocketAddress.inetSocketAddress(server.tcpPort(), "127.0.0.1"))) {
        // a gRPC call whose message announces 100 bytes, of which 3 come: in flight until the bound
        h2c.request(new RequestOptions().setServer(where).setMethod(HttpMethod.POST)
                .setURI("/jipam.v1.Ipam/Allocate").putHeader("content-type", "application/grpc"))
            .compose(req -> req.setChunked(true).write(Buffer.buffer(new byte[] {0, 0, 0, 0, 100, 1, 2, 3})))
            .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      Thread.sleep(200); // both reach their servers
      long start = System.nanoTime();
      server.stop();
      long millis = (System.nanoTime() - start) / 1_000_000;
      // one bound and slack for a loaded machine; the listeners one after the other took two bounds
      assertTrue(millis < BOUND.toMillis() + 2000, "the stop took " + millis + " ms with a bound of "
          + BOUND.toMillis() + " ms");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      server.close();
    }
  }
}
