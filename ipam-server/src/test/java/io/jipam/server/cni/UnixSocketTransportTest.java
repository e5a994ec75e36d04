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
    assertEquals("epoll", UnixSocketTransport.wrapDefault(cni, false).name(),
        "the native transport is on jipamd's class path and loads here");
  }

  @ParameterizedTest
  @ValueSource(strings = {"epoll", "nio", "epoll+loop", "nio+loop"})
  void unixSocketServer_clientsRequestFirstOtherRequestsToTheServer(String transport) throws Exception {
    Vertx vertx = vertx(transport, cni());
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

  @ParameterizedTest
  @ValueSource(strings = {"epoll", "nio", "epoll+loop", "nio+loop"})
  void connections_closedBeforeSendingAByte_closedAtOnceNotAtTheIdleTimeout(String transport) throws Exception {
    Vertx vertx = vertx(transport, cni());
    try {
      Path socket = dir.resolve("s");
      HttpServer server = vertx.createHttpServer().requestHandler(req -> req.response().end("server"));
      server.listen(SocketAddress.domainSocketAddress(socket.toString())).await(10, TimeUnit.SECONDS);
      long before = serverEnds(socket);
      for (int i = 0; i < 50; i++) {
        try (java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(
            java.net.UnixDomainSocketAddress.of(socket))) {
          // connected, closed without a byte: a liveness probe, or a client that gave up
        }
      }
      // the server's ends of the 50 connections, which this process holds too
      io.jipam.testkit.Await.until(() -> serverEnds(socket) <= before, Duration.ofSeconds(10),
          "the server's ends closed: its sockets on " + socket + " back to " + before + ", as before the 50 connections");
      // a connection that sent a request and shut its sending half still gets its answer
      String body = "CNI_COMMAND=VERSION\n\n";
      assertTrue(exchange(socket, "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\nContent-Length: "
          + body.length() + "\r\n\r\n" + body, true).contains("supportedVersions"));
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Vert.x's handlers join a connection only when it is handed on: until then the fast path bounds
   * it, so a connection that sends nothing is closed at the server's idle timeout (not at once, not
   * never), and one that sends another request is served by the HTTP server as before.
   */
  @ParameterizedTest
  @ValueSource(strings = {"epoll", "nio+loop"})
  @Timeout(60)
  void connections_sendingNothing_closedAtTheServersIdleTimeoutOthersHandedOn(String transport) throws Exception {
    Vertx vertx = vertx(transport, cni());
    try {
      Path socket = dir.resolve("s");
      vertx.createHttpServer(new io.vertx.core.http.HttpServerOptions().setIdleTimeout(1))
          .requestHandler(req -> req.response().end("server"))
          .listen(SocketAddress.domainSocketAddress(socket.toString())).await(10, TimeUnit.SECONDS);
      try (java.nio.channels.SocketChannel silent = java.nio.channels.SocketChannel.open(
          java.net.UnixDomainSocketAddress.of(socket))) {
        long start = System.nanoTime();
        assertEquals(-1, silent.read(java.nio.ByteBuffer.allocate(16)), "closed by jipamd, nothing answered");
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waited >= 500, "closed at the idle timeout (1 s), not at once: after " + waited + " ms");
      }
      String other = exchange(socket, "GET /healthz HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\n\r\n", false);
      assertTrue(other.startsWith("HTTP/1.1 200") && other.endsWith("server"), other);
      String body = "CNI_COMMAND=VERSION\n\n";
      assertTrue(exchange(socket, "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\nContent-Length: "
          + body.length() + "\r\n\r\n" + body, false).contains("supportedVersions"));
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void requests_arrivingBodiesOverTheirBound_codeElevenUntilOthersEnd() throws Exception {
    // a request cut before its end gives its share back at its time bound (a connection whose
    // input ended stays open for an answer: a full close looks like the shim's half-close)
    CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(),
        new Metrics(), Duration.ofSeconds(5), null);
    Vertx vertx = Vertx.builder().withTransport(UnixSocketTransport.wrap(io.vertx.core.transport.Transport.NIO, cni, false))
        .build();
    java.util.List<java.nio.channels.SocketChannel> big = new java.util.ArrayList<>();
    try {
      Path socket = dir.resolve("s");
      vertx.createHttpServer().requestHandler(cni::handle).listen(SocketAddress.domainSocketAddress(socket.toString()))
          .await(10, TimeUnit.SECONDS);
      // three of the largest requests, each all but its last byte: what the bound allows
      int length = CniEndpoint.MAX_BODY;
      byte[] head = ("POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nContent-Length: " + length + "\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1);
      for (int i = 0; i < CniEndpoint.MAX_BUFFERED / length; i++) {
        java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket));
        big.add(c);
        writeAll(c, head);
        writeAll(c, new byte[length - 1]);
      }
      // arriving in chunks, so the HTTP server (not the one-read fast path) buffers it
      String body = "CNI_COMMAND=VERSION\n\n";
      String chunked = "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          + Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n\r\n";
      io.jipam.testkit.Await.until(() -> exchange(socket, chunked, false).contains("\"code\": 11"), Duration.ofSeconds(20),
          "a request past the bound answered with code 11");
      String refused = exchange(socket, chunked, false);
      assertTrue(refused.contains("Jipam-Exit: 1") && refused.contains("its bound; try again"), refused);
      // the canonical request in one read is taken whole by the fast path, bound or not
      assertTrue(exchange(socket, "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\nContent-Length: "
          + body.length() + "\r\n\r\n" + body, false).contains("supportedVersions"));
      for (java.nio.channels.SocketChannel c : big) {
        c.close(); // cut before their last byte
      }
      big.clear();
      io.jipam.testkit.Await.until(() -> exchange(socket, chunked, false).contains("supportedVersions"),
          Duration.ofSeconds(30), "served again once the cut requests' time bound gave their share back");
    } finally {
      for (java.nio.channels.SocketChannel c : big) {
        c.close();
      }
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static void writeAll(java.nio.channels.SocketChannel c, byte[] bytes) throws IOException {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
    while (b.hasRemaining()) {
      c.write(b);
    }
  }

  /**
   * The sockets bound to {@code socket}: the listener and the server's end of each connection it
   * has accepted and not closed (the kernel's table names an accepted unix socket by its listener's
   * path). Other tests' descriptors in this JVM do not count.
   */
  private static long serverEnds(Path socket) throws IOException {
    String named = " " + socket;
    try (java.util.stream.Stream<String> sockets = java.nio.file.Files.lines(Path.of("/proc/net/unix"))) {
      return sockets.filter(line -> line.endsWith(named)).count();
    }
  }

  /**
   * A Vert.x on {@code transport} ("epoll" or "nio") with the socket's transport wrapped around it;
   * with "+loop", as a node's jipamd runs it: one event loop, which also accepts.
   */
  private static Vertx vertx(String transport, CniEndpoint cni) {
    boolean onLoop = transport.endsWith("+loop");
    io.vertx.core.transport.Transport base = transport.startsWith("nio") ? io.vertx.core.transport.Transport.NIO
        : io.vertx.core.transport.Transport.nativeTransport();
    assertTrue(base.available(), () -> transport + " unavailable: " + base.unavailabilityCause());
    return Vertx.builder().with(new io.vertx.core.VertxOptions().setEventLoopPoolSize(onLoop ? 1 : 2))
        .withTransport(UnixSocketTransport.wrap(base, cni, onLoop)).build();
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
  void eventLoopGroup_acceptOnEventLoop_acceptorIsTheEventLoopGroupOnlyThen(boolean onLoop) {
    io.vertx.core.spi.transport.Transport spi = UnixSocketTransport.wrap(io.vertx.core.transport.Transport.NIO, cni(), onLoop)
        .implementation();
    io.netty.channel.EventLoopGroup loops = spi.eventLoopGroup(io.vertx.core.spi.transport.Transport.IO_EVENT_LOOP_GROUP, 1,
        Thread::new, 50);
    io.netty.channel.EventLoopGroup acceptor = spi.eventLoopGroup(
        io.vertx.core.spi.transport.Transport.ACCEPTOR_EVENT_LOOP_GROUP, 1, Thread::new, 100);
    try {
      assertEquals(onLoop, loops == acceptor);
    } finally {
      loops.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
      acceptor.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
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
