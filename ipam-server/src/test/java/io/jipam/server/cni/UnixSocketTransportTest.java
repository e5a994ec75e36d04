package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Vert.x HTTP server on a unix socket with {@link UnixSocketTransport}: the clients' CNI request
 * is answered by the {@link CniFastPath} put first in the connection's pipeline, without reaching
 * the server's request handler; any other request reaches it; a request whose client shuts down its
 * sending half still gets its answer. On both transports jipamd may run on: Netty's native epoll
 * (what it ships and picks) and the JDK's NIO (where the native library cannot load).
 */
@Timeout(30)
class UnixSocketTransportTest {
  @TempDir Path dir;

  @Test
  void wrapDefault_nativeTransportShipped_picksEpoll() {
    CniEndpoint cni = cni();
    assertEquals("epoll", UnixSocketTransport.wrapDefault(cni).name(),
        "the native transport is on jipamd's class path and loads here");
  }

  @ParameterizedTest
  @ValueSource(strings = {"epoll", "nio"})
  void unixSocketServer_clientsRequestFirstOtherRequestsToTheServer(String transport) throws Exception {
    CniEndpoint cni = cni();
    io.vertx.core.transport.Transport base = transport.equals("nio") ? io.vertx.core.transport.Transport.NIO
        : io.vertx.core.transport.Transport.nativeTransport();
    assertTrue(base.available(), () -> transport + " unavailable: " + base.unavailabilityCause());
    Vertx vertx = Vertx.builder().withTransport(UnixSocketTransport.wrap(base, cni)).build();
    AtomicInteger reachedServer = new AtomicInteger();
    try {
      Path socket = dir.resolve("s");
      HttpServer server = vertx.createHttpServer().requestHandler(req -> {
        reachedServer.incrementAndGet();
        req.response().putHeader("Connection", "close").end("server");
      });
      server.listen(SocketAddress.domainSocketAddress(socket.toString())).await(10, TimeUnit.SECONDS);

      String body = "CNI_COMMAND=VERSION\n\n";
      String canonical = "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\nContent-Length: "
          + body.length() + "\r\n\r\n" + body;
      String answer = exchange(socket, canonical, false);
      assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\n") && answer.contains("supportedVersions"),
          answer);
      assertEquals(0, reachedServer.get(), "the clients' request never reached the HTTP server");

      assertTrue(exchange(socket, canonical, true).contains("supportedVersions"), "answered after SHUT_WR");
      assertEquals(0, reachedServer.get());

      String other = exchange(socket, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false);
      assertTrue(other.endsWith("server"), other);
      assertEquals(1, reachedServer.get());
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static CniEndpoint cni() {
    return new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(), new Metrics(),
        Duration.ofSeconds(30), null);
  }

  static String exchange(Path socket, String request, boolean halfClose) throws IOException {
    return SocketExchange.exchange(socket, request.getBytes(StandardCharsets.ISO_8859_1), halfClose);
  }
}
