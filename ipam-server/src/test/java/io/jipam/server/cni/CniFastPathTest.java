package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CniFastPath} on an embedded channel: the clients' request, whole in the first read, is
 * answered here with the bytes Vert.x writes and the connection closed; every other request, and
 * one not whole by the end of the first read, reaches the handlers behind it byte for byte, with
 * nothing answered. Whether Vert.x answers those as before is {@code BadClientTest}'s and
 * {@code CniEndpointHostileTest}'s part; that both paths answer alike is {@code
 * IpamServerTest.cniCall_fastPathAndHttpServer_sameAnswerBytes}.
 */
class CniFastPathTest {
  static final String CONFIG = "{\"cniVersion\":\"1.0.0\",\"name\":\"fast\",\"ipam\":{\"type\":\"jipam\","
      + "\"subnet\":\"198.18.9.0/24\"}}";
  static final String BODY = "CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\nCNI_NETNS=/x\nCNI_PATH=/p\n\n" + CONFIG;
  static final String HEAD = "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nContent-Type: application/octet-stream\r\n"
      + "Connection: close\r\nContent-Length: " + BODY.length() + "\r\n\r\n";

  final ByteArrayOutputStream logged = new ByteArrayOutputStream();

  /** The endpoint on a store without {@code LocalCalls} (a ForwardingStore hides it): every call runs on {@code calls}. */
  EmbeddedChannel channel(Executor calls) {
    CniEndpoint cni = new CniEndpoint(new ForwardingStore(MemoryStores.open()), new PoolRegistry(), calls,
        new CallLog(new PrintStream(logged, true), true), new Metrics(), Duration.ofSeconds(30), null);
    return new EmbeddedChannel(new CniFastPath(cni));
  }

  static ByteBuf bytes(String text) {
    return Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1);
  }

  static String text(ByteBuf buf) {
    try {
      return buf.toString(StandardCharsets.ISO_8859_1);
    } finally {
      buf.release();
    }
  }

  @Test
  void channelRead_clientsRequestWhole_answeredHereAndClosed() {
    EmbeddedChannel ch = channel(Runnable::run);
    ch.writeInbound(bytes(HEAD + BODY));
    String answer = text(ch.readOutbound());
    String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
    assertEquals("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nconnection: close\r\ncontent-length: " + body.length()
        + "\r\n\r\n", answer.substring(0, answer.length() - body.length()));
    assertTrue(body.contains("\"address\": \"198.18.9.2/24\""), body);
    assertNull(ch.readInbound(), "nothing passed on");
    assertFalse(ch.isOpen(), "closed after the answer");
    assertTrue(logged.toString().contains("call method=CNI/ADD pool=fast attachment=c1/eth0")
        && logged.toString().matches("(?s).* outcome=ok answer_us=\\d+ duration_us=\\d+\\n"), logged.toString());
  }

  /**
   * A client that gave up before its call ran (the shim's time bound) gets nothing, and the call
   * log says so beside the call's own line: it said outcome=ok, as if the runtime had been told.
   */
  @Test
  void channelRead_clientGoneBeforeTheAnswer_logSaysNotAnswered() {
    java.util.List<Runnable> queued = new java.util.ArrayList<>();
    EmbeddedChannel ch = channel(queued::add);
    ch.writeInbound(bytes(HEAD + BODY));
    ch.close(); // the client's end: gone before a worker ran the call
    queued.forEach(Runnable::run);
    ch.runPendingTasks();
    assertNull(ch.readOutbound(), "nothing written");
    assertTrue(logged.toString().contains("call method=CNI/ADD pool=fast attachment=c1/eth0")
        && logged.toString().contains(" outcome=ok not answered: the client had gone duration_us="), logged.toString());
  }

  /**
   * The clients' {@code Jipam-Deadline} is read here as on Vert.x's path: a call whose deadline has
   * passed is answered code 11 and allocates nothing; a malformed value counts as none.
   */
  @Test
  void channelRead_jipamDeadline_passedRefusedMalformedIgnored() {
    record Row(String value, boolean refused) {}
    for (Row row : java.util.List.of(new Row("1", true), new Row(Long.toString(System.currentTimeMillis() + 60_000),
        false), new Row("soon", false))) {
      EmbeddedChannel ch = channel(Runnable::run);
      ch.writeInbound(bytes(HEAD.replace("Connection: close\r\n", "Jipam-Deadline: " + row.value + "\r\nConnection: close\r\n")
          + BODY));
      String answer = text(ch.readOutbound());
      assertNull(ch.readInbound(), "taken here, not passed on: " + row);
      assertEquals(row.refused, answer.contains("\"code\": 11") && answer.contains("not applied"), row + ": " + answer);
      assertEquals(!row.refused, answer.contains("198.18.9.2/24"), row + ": " + answer);
    }
  }

  @Test
  void channelRead_requestInTwoReadsOfOneBurst_answeredHere() {
    EmbeddedChannel ch = channel(Runnable::run);
    ch.pipeline().fireChannelRead(bytes(HEAD.substring(0, 10)));
    ch.pipeline().fireChannelRead(bytes(HEAD.substring(10) + BODY));
    ch.pipeline().fireChannelReadComplete();
    assertTrue(text(ch.readOutbound()).startsWith("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\n"));
    assertNull(ch.readInbound());
  }

  @Test
  void channelRead_errorCall_answeredWithExitOne() {
    EmbeddedChannel ch = channel(Runnable::run);
    String bad = "CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\nCNI_NETNS=/x\nCNI_PATH=/p\n\n{\"cniVersion\":\"1.0.0\"";
    ch.writeInbound(bytes(HEAD.replace("Length: " + BODY.length(), "Length: " + bad.length()) + bad));
    String answer = text(ch.readOutbound());
    assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\nJipam-Exit: 1\r\nconnection: close\r\n"), answer);
    assertTrue(answer.replace(" ", "").contains("\"code\":6"), answer);
  }

  @Test
  void channelRead_everyWorkerBusy_tryAgainLaterAnswered() {
    EmbeddedChannel ch = channel(task -> {
      throw new RejectedExecutionException("full");
    });
    ch.writeInbound(bytes(HEAD + BODY));
    String answer = text(ch.readOutbound());
    assertTrue(answer.contains("Jipam-Exit: 1") && answer.replace(" ", "").contains("\"code\":11"), answer);
    assertFalse(ch.isOpen());
  }

  static Stream<Arguments> notTheClientsRequest() {
    String h = HEAD;
    return Stream.of(
        Arguments.of("another method", h.replace("POST ", "PUT ") + BODY),
        Arguments.of("another path", h.replace("/cni/v1", "/cni/v2") + BODY),
        Arguments.of("HTTP/1.0", h.replace("HTTP/1.1", "HTTP/1.0") + BODY),
        Arguments.of("gRPC's preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Arguments.of("garbage", "\u0000\u0001 not http\r\n\r\n"),
        Arguments.of("no Content-Length", h.replace("Content-Length: " + BODY.length() + "\r\n", "") + BODY),
        Arguments.of("two Content-Lengths", h.replace("Connection:", "Content-Length: " + BODY.length()
            + "\r\nConnection:") + BODY),
        Arguments.of("Content-Length not digits", h.replace("Length: " + BODY.length(), "Length: +" + BODY.length())
            + BODY),
        Arguments.of("Content-Length over the limit", h.replace("Length: " + BODY.length(), "Length: "
            + (CniEndpoint.MAX_BODY + 1))),
        Arguments.of("keep-alive", h.replace("Connection: close", "Connection: keep-alive") + BODY),
        Arguments.of("no Connection", h.replace("Connection: close\r\n", "") + BODY),
        Arguments.of("chunked", h.replace("Connection:", "Transfer-Encoding: chunked\r\nConnection:") + BODY),
        Arguments.of("Expect", h.replace("Connection:", "Expect: 100-continue\r\nConnection:") + BODY),
        Arguments.of("Upgrade", h.replace("Connection:", "Upgrade: h2c\r\nConnection:") + BODY),
        Arguments.of("a folded header", h.replace("Connection:", " folded\r\nConnection:") + BODY),
        Arguments.of("a header without a colon", h.replace("Connection:", "NoColon\r\nConnection:") + BODY),
        Arguments.of("a space in a header's name", h.replace("Connection:", "Bad Name: x\r\nConnection:") + BODY),
        Arguments.of("bare LF line ends", h.replace("\r\n", "\n") + BODY),
        Arguments.of("headers over the limit", h.replace("Connection:", "X-Pad: " + "p".repeat(CniFastPath.MAX_HEAD)
            + "\r\nConnection:") + BODY),
        Arguments.of("half the body", h + BODY.substring(0, BODY.length() / 2)),
        Arguments.of("half the headers", h.substring(0, h.length() / 2)),
        Arguments.of("a byte past the body", h + BODY + "X"),
        Arguments.of("a second request after the first", h + BODY + h + BODY));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("notTheClientsRequest")
  void channelRead_notTheClientsRequest_passedOnUnchangedNothingAnswered(String what, String request) {
    EmbeddedChannel ch = channel(Runnable::run);
    ch.writeInbound(bytes(request));
    StringBuilder passed = new StringBuilder();
    for (ByteBuf b; (b = ch.readInbound()) != null; ) {
      passed.append(text(b));
    }
    assertEquals(request, passed.toString());
    assertNull(ch.readOutbound(), "nothing answered");
    assertTrue(ch.isOpen());
    assertNull(ch.pipeline().get(CniFastPath.class), "out of the pipeline");
    assertEquals("", logged.toString(), "no call ran");
  }

  @Test
  void channelRead_requestSpreadOverTwoBursts_passedOnWhole() {
    EmbeddedChannel ch = channel(Runnable::run);
    ch.writeInbound(bytes(HEAD)); // first burst: the headers only
    ch.writeInbound(bytes(BODY)); // the body, read later: no longer this handler's
    StringBuilder passed = new StringBuilder();
    for (ByteBuf b; (b = ch.readInbound()) != null; ) {
      passed.append(text(b));
    }
    assertEquals(HEAD + BODY, passed.toString());
    assertNull(ch.readOutbound());
  }

  @Test
  void channelRead_moreBytesAfterTheAnswer_ignored() {
    EmbeddedChannel ch = channel(task -> { }); // the call never ends: the connection waits for it
    ch.writeInbound(bytes(HEAD + BODY));
    ch.writeInbound(bytes(HEAD + BODY));
    assertNull(ch.readInbound(), "nothing passed on");
    assertNull(ch.readOutbound(), "nothing answered yet");
    assertFalse(ch.config().isAutoRead(), "reading stopped");
  }
}
