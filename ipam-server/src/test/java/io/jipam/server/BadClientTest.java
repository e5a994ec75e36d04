package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestPools;
import io.jipam.server.cni.CniEndpoint;
import io.jipam.server.metrics.CallLog;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * Clients that misbehave at jipamd's unix socket, on the plugin's CNI endpoint (HTTP/1.1) and on
 * gRPC (h2c): garbage, an oversized body, and clients that stop or trickle mid-header or mid-body.
 * Each gets its error or has its connection closed within the time bound ({@code idleTimeout},
 * 1 s here), and jipamd answers a well-behaved client while the bad one is still connected and
 * after it is gone.
 */
@Timeout(60)
@Execution(ExecutionMode.CONCURRENT) // each method has its own jipamd and socket, and mostly waits on the bound
class BadClientTest {
  static final Duration BOUND = Duration.ofSeconds(1);
  /** How long a cut may take at most: the bound, plus slack for a loaded 2-core machine. */
  static final long CUT_MILLIS = 6000;
  static final String CONFIG = IpamServerTest.CONFIG;
  static final String DEL = "CNI_COMMAND=DEL\nCNI_CONTAINERID=good\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n" + CONFIG;

  @TempDir Path dir;
  Path socket;
  IpamServer server;
  final AtomicInteger allocations = new AtomicInteger();

  @BeforeEach
  void start() {
    socket = dir.resolve("jipam.sock");
    server = IpamServer.start(MemoryStores.open(), new IpamServer.Settings(socket, null, 0, false, null, null, null,
        2, 16, 4L << 20, Duration.ofSeconds(5), BOUND), CallLog.quiet());
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /** A CNI call and a gRPC call, both well-behaved, both answered. */
  void wellBehavedClientsServed() throws Exception {
    IpamServerTest.Reply del = IpamServerTest.cni(socket, DEL);
    assertEquals(0, del.exit(), del.body());
    Pool pool = TestPools.pool("grpc", AllocationOrder.LOWEST_FREE, "198.18.6.0/24");
    // a client of its own: jipamd closes a connection idle for the bound (1 s here), which an
    // earlier call's connection may be by now
    RemoteStore fresh = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
    try {
      assertInstanceOf(AllocationOutcome.Allocated.class, fresh.allocate(pool,
          AllocationRequest.of(new Attachment("c" + allocations.incrementAndGet(), "eth0"))));
    } finally {
      fresh.close();
    }
  }

  SocketChannel connect() throws IOException {
    return SocketChannel.open(UnixDomainSocketAddress.of(socket));
  }

  static void write(SocketChannel ch, String text) throws IOException {
    ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.ISO_8859_1)));
  }

  /** Everything the server sends until it closes the connection, and how long that took. */
  record Ending(String received, long millis) {}

  static Ending readToClose(SocketChannel ch) throws IOException {
    long start = System.nanoTime();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(8192);
    int n;
    while ((n = ch.read(buf)) >= 0) {
      out.write(buf.array(), 0, n);
      buf.clear();
    }
    return new Ending(out.toString(StandardCharsets.ISO_8859_1), (System.nanoTime() - start) / 1_000_000);
  }

  /** What the server sent until it contains {@code marker}, or what it sent by the deadline. */
  static String readUntil(SocketChannel ch, String marker, Duration within) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(8192);
    ch.configureBlocking(false);
    try {
      while (!out.toString(StandardCharsets.ISO_8859_1).contains(marker) && System.nanoTime() < deadline) {
        int n = ch.read(buf);
        if (n < 0) {
          break;
        }
        if (n == 0) {
          Thread.sleep(10);
        }
        out.write(buf.array(), 0, n);
        buf.clear();
      }
    } finally {
      ch.configureBlocking(true);
    }
    return out.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void cni_garbageInsteadOfHttp_answered400AndClosed() throws Exception {
    try (SocketChannel ch = connect()) {
      write(ch, "\u0000\u0001\u00ff not http at all\r\n\r\n");
      Ending end = readToClose(ch);
      assertTrue(end.received.startsWith("HTTP/1.") && end.received.contains(" 400 Bad Request"), end.received);
    }
    wellBehavedClientsServed();
  }

  @Test
  void cni_halfAHeaderThenSilence_closedWithinTheBoundOthersServedMeanwhile() throws Exception {
    try (SocketChannel hung = connect()) {
      write(hung, "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Le");
      wellBehavedClientsServed();
      Ending end = readToClose(hung);
      assertEquals("", end.received);
      assertTrue(end.millis < CUT_MILLIS, "cut after " + end.millis + " ms");
    }
    wellBehavedClientsServed();
  }

  @Test
  void cni_headerTrickledAByteAtATime_closedByTheIdleTimeout() throws Exception {
    try (SocketChannel slow = connect()) {
      long start = System.nanoTime();
      String header = "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nX-Padding: " + "a".repeat(200);
      boolean cut = false;
      for (int i = 0; i < header.length() && !cut; i++) {
        try {
          // a byte every 200 ms: the idle timeout counts decoded messages, and none is decoded
          write(slow, header.substring(i, i + 1));
        } catch (IOException closed) {
          cut = true;
        }
        Thread.sleep(200);
        if (i % 5 == 0 && i > 0 && i < 10) {
          wellBehavedClientsServed();
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(cut || millis < CUT_MILLIS + 2000, "still open after " + millis + " ms");
      }
      assertTrue(cut, "the trickling client was never cut");
    }
    wellBehavedClientsServed();
  }

  @Test
  void cni_halfABodyThenSilence_cutWithinTheBoundOthersServedMeanwhile() throws Exception {
    try (SocketChannel hung = connect()) {
      write(hung, "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nCNI_COMMAND=ADD\nCNI_CONT");
      wellBehavedClientsServed();
      Ending end = readToClose(hung);
      assertTrue(end.millis < CUT_MILLIS, "cut after " + end.millis + " ms");
      // the request bound answers CNI error 11; the idle timeout, firing at the same moment, may
      // close the connection first
      assertTrue(end.received.isEmpty() || tryAgainLater(end.received), end.received);
    }
    wellBehavedClientsServed();
  }

  @Test
  void cni_bodyTrickledAByteAtATime_answeredTryAgainLaterWithinTheBound() throws Exception {
    try (SocketChannel slow = connect()) {
      write(slow, "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
      long start = System.nanoTime();
      boolean cut = false;
      for (int i = 0; i < 60 && !cut; i++) {
        try {
          write(slow, "C");
        } catch (IOException closed) {
          cut = true;
        }
        Thread.sleep(200);
        if (i == 2) {
          wellBehavedClientsServed();
        }
      }
      Ending end = readToClose(slow);
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(millis < CUT_MILLIS + 2000, "cut after " + millis + " ms");
      assertTrue(tryAgainLater(end.received), end.received);
      assertTrue(end.received.contains("not received whole within 1 s"), end.received);
    }
    wellBehavedClientsServed();
  }

  @Test
  void cni_oversizedBody_decodeErrorNamingTheLimitAndServingGoesOn() throws Exception {
    // announced by Content-Length: refused before a byte of the body is read
    try (SocketChannel big = connect()) {
      write(big, "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + (CniEndpoint.MAX_BODY + 1)
          + "\r\nConnection: close\r\n\r\n");
      Ending end = readToClose(big);
      assertTrue(end.received.toLowerCase(Locale.ROOT).contains("jipam-exit: 1"), end.received);
      assertTrue(end.received.replace(" ", "").contains("\"code\":6"), end.received);
      assertTrue(end.received.contains("over the limit of " + CniEndpoint.MAX_BODY), end.received);
    }
    // chunked, so its size shows only as it arrives
    try (SocketChannel big = connect()) {
      write(big, "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
      String chunk = "x".repeat(64 * 1024);
      for (int i = 0; i <= CniEndpoint.MAX_BODY / chunk.length(); i++) {
        write(big, Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n");
      }
      write(big, "0\r\n\r\n");
      Ending end = readToClose(big);
      assertTrue(end.received.replace(" ", "").contains("\"code\":6"), end.received);
      assertTrue(end.received.contains("over the limit of " + CniEndpoint.MAX_BODY + " bytes"), end.received);
    }
    wellBehavedClientsServed();
  }

  @Test
  void grpc_halfAConnectionPrefaceThenSilence_closedWithinTheBound() throws Exception {
    try (SocketChannel hung = connect()) {
      write(hung, "PRI * HTTP/2.0\r\n\r\nSM\r\n"); // the h2c preface, cut short
      wellBehavedClientsServed();
      Ending end = readToClose(hung);
      assertTrue(end.millis < CUT_MILLIS, "cut after " + end.millis + " ms");
    }
    wellBehavedClientsServed();
  }

  @Test
  void grpc_garbageAfterThePreface_closed() throws Exception {
    try (SocketChannel ch = connect()) {
      write(ch, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff garbage");
      Ending end = readToClose(ch);
      assertTrue(end.millis < CUT_MILLIS, "cut after " + end.millis + " ms");
    }
    wellBehavedClientsServed();
  }

  @Test
  void grpc_halfAMessageThenSilence_streamCutWithinTheBoundOthersServedMeanwhile() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      HttpClient client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
          .setHttp2ClearTextUpgrade(false));
      CompletableFuture<String> ended = new CompletableFuture<>();
      long start = System.nanoTime();
      client.request(new RequestOptions().setServer(SocketAddress.domainSocketAddress(socket.toString()))
              .setMethod(HttpMethod.POST).setURI("/jipam.v1.Ipam/Allocate")
              .putHeader("content-type", "application/grpc").putHeader("te", "trailers"))
          .onSuccess(req -> {
            if (req.version() != HttpVersion.HTTP_2) {
              ended.completeExceptionally(new AssertionError("not HTTP/2 but " + req.version()));
              return;
            }
            req.setChunked(true);
            req.exceptionHandler(e -> ended.complete("request failed: " + e));
            req.connection().closeHandler(v -> ended.complete("connection closed"));
            req.response().onComplete(ar -> ended.complete("response: " + (ar.succeeded()
                ? ar.result().statusCode() + " grpc-status " + ar.result().getHeader("grpc-status") : ar.cause())));
            // a gRPC message announcing 100 bytes, of which 3 come
            req.write(Buffer.buffer(new byte[] {0, 0, 0, 0, 100, 1, 2, 3}))
                .onFailure(e -> ended.completeExceptionally(new AssertionError("the half message was not sent", e)));
          })
          .onFailure(ended::completeExceptionally);
      Thread.sleep(200);
      wellBehavedClientsServed();
      String outcome = ended.get(CUT_MILLIS, TimeUnit.MILLISECONDS);
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(millis < CUT_MILLIS, "cut after " + millis + " ms: " + outcome);
      assertTrue(!outcome.contains("grpc-status 0"), outcome);
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    wellBehavedClientsServed();
  }

  private static boolean tryAgainLater(String response) {
    return response.toLowerCase(Locale.ROOT).contains("jipam-exit: 1") && response.replace(" ", "").contains("\"code\":11");
  }

  @Test
  void idleTimeout_flag_reachesTheServerSettings() {
    List<String[]> ways = List.of(new String[] {"--idle-timeout", "7"}, new String[] {"--idle-timeout=7"});
    for (String[] way : ways) {
      picocli.CommandLine cl = Jipamd.commandLine();
      cl.parseArgs(way);
      Jipamd jipamd = cl.getCommand();
      assertEquals(Duration.ofSeconds(7), jipamd.settings().idleTimeout());
    }
  }

  /**
   * An HTTP/1 request answered before its body (405, a body over the limit, gRPC over HTTP/1) on a
   * keep-alive connection, its client then trickling the body: the connection is closed within the
   * bound after the answer. Before, it stayed open as long as bytes came, each one activity against
   * the idle bound. (A client that sends its whole body at once still reads its answer:
   * JipamdFloodIT.)
   */
  @Test
  void http1_answeredBeforeItsBodyThenTrickled_closedAfterTheAnswer() throws Exception {
    String[][] table = {
        {"GET /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", "HTTP/1.1 405"},
        {"POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + (CniEndpoint.MAX_BODY + 1) + "\r\n\r\n",
            "\"code\": 6"},
        {"POST /jipam.v1.Ipam/Allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\n"
            + "Content-Length: 1000000\r\n\r\n", "HTTP/1.1 415"}};
    for (String[] row : table) {
      try (SocketChannel ch = connect()) {
        write(ch, row[0]);
        // the early answer, read before the trickle: once jipamd closes, a byte written after it
        // resets the connection, which may drop an answer still unread
        String answer = readUntil(ch, row[1], Duration.ofSeconds(10));
        assertTrue(answer.contains(row[1]), row[0] + ": answered " + answer);
        boolean closed = false;
        // the adversary's pace: a byte every 200 ms for 6 s, well inside the idle bound (1 s) each time
        for (int i = 0; i < 30 && !closed; i++) {
          try {
            write(ch, "x");
          } catch (IOException e) {
            closed = true;
          }
          Thread.sleep(200);
        }
        assertTrue(closed, row[0] + ": still open after 6 s of trickling");
      }
    }
    wellBehavedClientsServed();
  }

  /**
   * A thousand CNI requests pipelined on one HTTP/1 connection: all answered, in order. Before,
   * the WebSocket handshake handler in every HTTP/1 pipeline threw at the 129th, and each such
   * connection logged stack traces and went unanswered.
   */
  @Test
  void cni_thousandPipelinedRequests_allAnswered() throws Exception {
    String body = "CNI_COMMAND=VERSION\n\n";
    String one = "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
    String last = one.replace("Host: x\r\n", "Host: x\r\nConnection: close\r\n");
    try (SocketChannel ch = connect()) {
      Thread writer = new Thread(() -> {
        try {
          ByteBuffer all = ByteBuffer.wrap((one.repeat(999) + last).getBytes(StandardCharsets.ISO_8859_1));
          while (all.hasRemaining()) {
            ch.write(all);
          }
        } catch (IOException e) {
          // the read below tells
        }
      });
      writer.start();
      Ending end = readToClose(ch);
      writer.join();
      assertEquals(1000, end.received.split("HTTP/1.1 200 OK", -1).length - 1, end.received.length() + " bytes");
    }
    wellBehavedClientsServed();
  }
}
