package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.GrpcErrors;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.Attachment;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.common.GrpcStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC requests jipamd does not take, sent as frames on both of its listeners (the unix socket and
 * plain TCP): compressed messages and messages that do not decode. Each is answered with its
 * status and jipam code within a bound, nothing is allocated, and a well-formed call is served
 * after them. Before {@code GrpcIntake}, Vert.x inflated gzip with no bound, threw on the event
 * loop (a stack trace, and no answer) for a compressed message with no or another encoding, and
 * cancelled the stream with no status for bytes that are not the message.
 */
@Timeout(60)
class GrpcIntakeTest {
  static final String ALLOCATE = "/jipam.v1.Ipam/Allocate";
  static final io.jipam.core.store.Pool POOL = IpamServerTest.pool("intake", "198.18.7.0/24");

  @TempDir Path dir;
  IpamServer server;
  Vertx vertx;
  HttpClient h2c;
  HttpClient http1;

  @BeforeEach
  void start() {
    server = IpamServer.start(MemoryStores.open(), IpamServer.Settings.unix(dir.resolve("jipam.sock"))
        .withTcp("127.0.0.1", 0, true, null, null, null), CallLog.quiet());
    vertx = Vertx.vertx();
    h2c = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false));
    http1 = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_1_1));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    server.close();
  }

  /**
   * One request: its {@code grpc-encoding} (null: none), a message with its compressed flag sent
   * {@code copies} times in the call (a unary call takes one), and whether it is gRPC-Web on
   * HTTP/1.1 (else gRPC on h2c).
   */
  record Request(String name, String path, String encoding, int flag, byte[] message, boolean web, int copies) {
    Request(String name, String path, String encoding, int flag, byte[] message) {
      this(name, path, encoding, flag, message, false, 1);
    }

    Request(String name, String path, String encoding, int flag, byte[] message, boolean web) {
      this(name, path, encoding, flag, message, web, 1);
    }
  }

  /** The status, jipam code and a part of the message the request must get. */
  record Expected(GrpcStatus status, ErrorCode code, String says) {}

  /** What came back: HTTP status, headers and trailers, and the body (gRPC-Web carries its trailers there). */
  record Answer(int httpStatus, MultiMap metadata, String body) {
    GrpcStatus status() {
      return GrpcStatus.valueOf(Integer.parseInt(metadata.get("grpc-status")));
    }

    String message() {
      String raw = metadata.get("grpc-message");
      return raw == null ? "" : URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    IpamException error() {
      return GrpcErrors.exception(status(), message(), metadata, "Allocate");
    }
  }

  static byte[] allocate(String containerId) {
    return AllocateRequest.newBuilder().setPool(io.jipam.api.WireMapping.pool(POOL))
        .setAttachment(Attachment.newBuilder().setContainerId(containerId).setIfname("eth0")).build().toByteArray();
  }

  static byte[] gzip(byte[] bytes, int zeros) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
      gz.write(new byte[zeros]); // inflates to this many more bytes: a bomb, were it inflated
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  Answer send(SocketAddress where, Request r) throws Exception {
    Buffer frame = Buffer.buffer();
    for (int i = 0; i < r.copies(); i++) {
      frame.appendByte((byte) r.flag()).appendInt(r.message().length).appendBytes(r.message());
    }
    RequestOptions options = new RequestOptions().setServer(where).setMethod(HttpMethod.POST).setURI(r.path())
        .putHeader("content-type", r.web() ? "application/grpc-web" : "application/grpc").putHeader("te", "trailers");
    if (r.encoding() != null) {
      options.putHeader("grpc-encoding", r.encoding());
    }
    return (r.web() ? http1 : h2c).request(options)
        .compose(req -> req.send(frame))
        .compose(resp -> resp.body().map(body -> {
          MultiMap all = MultiMap.caseInsensitiveMultiMap().addAll(resp.headers()).addAll(resp.trailers());
          return new Answer(resp.statusCode(), all, body.toString(StandardCharsets.ISO_8859_1));
        }))
        .toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  @Test
  void grpcCall_compressedOrUndecodableMessage_refusedWithStatusNothingAllocatedServingGoesOn() throws Exception {
    byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07, 0x01};
    List<Object[]> table = List.of(
        new Object[] {new Request("gzip, a bomb", ALLOCATE, "gzip", 1, gzip(allocate("c1"), 64 << 20)),
            new Expected(GrpcStatus.UNIMPLEMENTED, ErrorCode.DECODE_FAILURE, "grpc-encoding \"gzip\" is not taken")},
        new Object[] {new Request("gRPC-Web on HTTP/1.1, gzip, a bomb", ALLOCATE, "gzip", 1,
            gzip(allocate("c1"), 64 << 20), true),
            new Expected(GrpcStatus.UNIMPLEMENTED, ErrorCode.DECODE_FAILURE, "grpc-encoding \"gzip\" is not taken")},
        new Object[] {new Request("deflate", ALLOCATE, "deflate", 1, allocate("c2")),
            new Expected(GrpcStatus.UNIMPLEMENTED, ErrorCode.DECODE_FAILURE, "grpc-encoding \"deflate\" is not taken")},
        new Object[] {new Request("snappy named, message plain", ALLOCATE, "snappy", 0, allocate("c3")),
            new Expected(GrpcStatus.UNIMPLEMENTED, ErrorCode.DECODE_FAILURE, "grpc-encoding \"snappy\" is not taken")},
        new Object[] {new Request("flagged compressed, no encoding", ALLOCATE, null, 1, garbage),
            new Expected(GrpcStatus.INVALID_ARGUMENT, ErrorCode.DECODE_FAILURE,
                "jipam.v1.Ipam/Allocate request of 5 bytes is not a valid message")},
        new Object[] {new Request("not the message", ALLOCATE, null, 0, garbage),
            new Expected(GrpcStatus.INVALID_ARGUMENT, ErrorCode.DECODE_FAILURE,
                "jipam.v1.Ipam/Allocate request of 5 bytes is not a valid message")},
        new Object[] {new Request("not the message, identity named", ALLOCATE, "identity", 0, garbage),
            new Expected(GrpcStatus.INVALID_ARGUMENT, ErrorCode.DECODE_FAILURE, "is not a valid message")},
        new Object[] {new Request("health check, not the message", "/grpc.health.v1.Health/Check", null, 0, garbage),
            new Expected(GrpcStatus.INVALID_ARGUMENT, null,
                "grpc.health.v1.Health/Check request of 5 bytes is not a valid message")},
        // a unary call takes one message: each of these ran the call once per message (the store
        // call too, and an answer per message that Vert.x logged as a stack trace) or never answered
        new Object[] {new Request("two Allocates in one call", ALLOCATE, null, 0, allocate("c4"), false, 2),
            new Expected(GrpcStatus.INVALID_ARGUMENT, ErrorCode.DECODE_FAILURE,
                "jipam.v1.Ipam/Allocate request has 2 messages: a unary call takes exactly one")},
        new Object[] {new Request("no message", ALLOCATE, null, 0, allocate("c5"), false, 0),
            new Expected(GrpcStatus.INVALID_ARGUMENT, ErrorCode.DECODE_FAILURE,
                "jipam.v1.Ipam/Allocate request has no message")},
        new Object[] {new Request("gRPC-Web, two Allocates", ALLOCATE, null, 0, allocate("c6"), true, 2),
            new Expected(GrpcStatus.INVALID_ARGUMENT, ErrorCode.DECODE_FAILURE, "request has 2 messages")},
        new Object[] {new Request("10,000 health checks in one call", "/grpc.health.v1.Health/Check", null, 0, new byte[0],
            false, 10_000),
            new Expected(GrpcStatus.INVALID_ARGUMENT, null, "grpc.health.v1.Health/Check request has 10000 messages")});
    List<SocketAddress> listeners = List.of(SocketAddress.domainSocketAddress(dir.resolve("jipam.sock").toString()),
        SocketAddress.inetSocketAddress(server.tcpPort(), "127.0.0.1"));
    for (SocketAddress where : listeners) {
      for (Object[] row : table) {
        Request r = (Request) row[0];
        Expected e = (Expected) row[1];
        Answer a;
        try {
          a = send(where, r);
        } catch (java.util.concurrent.TimeoutException timeout) {
          // seen once, with two busy loops beside the unit tests: which request went unanswered
          throw new AssertionError(where + ", " + r.name() + ": no answer within 20 s", timeout);
        }
        String what = where + ", " + r.name() + ": " + a.metadata();
        assertEquals(200, a.httpStatus(), what);
        assertEquals(e.status(), a.status(), what);
        assertTrue(a.message().contains(e.says()), what + "\nmessage: " + a.message());
        assertEquals("identity", a.metadata().get("grpc-accept-encoding"), what);
        assertEquals(r.web() ? "application/grpc-web" : "application/grpc", a.metadata().get("content-type"), what);
        if (e.code() != null) {
          assertEquals(e.code(), a.error().code(), what);
        }
      }
    }
    RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + dir.resolve("jipam.sock")));
    try {
      assertEquals(List.of(), remote.list(POOL), "a refused request allocates nothing");
      for (SocketAddress where : listeners) {
        Answer served = send(where, new Request("well-formed", ALLOCATE, null, 0, allocate("ok-" + where.port())));
        assertEquals(GrpcStatus.OK, served.status(), where + ": " + served.metadata());
        assertEquals("identity", served.metadata().get("grpc-accept-encoding"), where + ": " + served.metadata());
      }
      Answer web = send(listeners.get(0), new Request("well-formed gRPC-Web", ALLOCATE, null, 0, allocate("ok-web"), true));
      assertEquals(200, web.httpStatus(), web.metadata().toString());
      assertEquals("identity", web.metadata().get("grpc-accept-encoding"), web.metadata().toString());
      assertTrue(web.body().contains("grpc-status:0"), "gRPC-Web on HTTP/1.1, its trailers in the body: " + web.body());
      assertEquals(3, remote.list(POOL).size());
    } finally {
      remote.close();
    }
  }
}
