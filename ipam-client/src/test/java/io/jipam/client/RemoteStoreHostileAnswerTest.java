package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.GrpcErrors;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.testing.TestPools;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.grpc.common.GrpcStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * RemoteStore against a server that answers in a compression jipam does not read: refused with
 * TRY_AGAIN_LATER naming the encoding, before the message is read (so a small gzip answer that
 * inflates to 64 MiB is never inflated), and not sent again. A message flagged compressed under no
 * {@code grpc-encoding} at all (a protocol error Vert.x's client throws on its event loop, out of
 * the call's reach) ends the call at once too, as an unreadable answer, which a call marked
 * idempotent may send again.
 */
@Timeout(60)
class RemoteStoreHostileAnswerTest {
  /** Far above a call's time: the first call of a cold JVM on a loaded machine took over 2 s. */
  static final Duration DEADLINE = Duration.ofSeconds(10);
  /** Scheduling slack on a loaded machine, as in {@link RemoteStoreDeadlineTest}. */
  static final long SLACK_MILLIS = 400;

  /** An encoding the server names, and whether its message is flagged compressed. */
  record Answer(String encoding, boolean compressed) {
    @Override
    public String toString() {
      return encoding + (compressed ? ", compressed" : ", uncompressed");
    }
  }

  /** The encodings a server could name; null: none, with the message still flagged compressed. */
  static List<Answer> answers() {
    return List.of(new Answer("gzip", true), new Answer("GZIP", true), new Answer("deflate", true),
        new Answer("gzip", false), new Answer("x-\"quoted\"", true), new Answer(null, true));
  }

  /** 64 MiB of zeros, gzipped: about 64 KiB. */
  static final byte[] BOMB = gzippedZeros(1 << 26);

  Vertx vertx;
  HttpServer server;
  final AtomicInteger requests = new AtomicInteger();
  volatile Answer answer;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(0))
        .requestHandler(req -> req.body().onSuccess(body -> {
          requests.incrementAndGet();
          Answer a = answer;
          if (a == null) { // busy, as jipamd answers it: trailers only
            req.response().putHeader("content-type", "application/grpc")
                .putHeader("grpc-status", Integer.toString(GrpcStatus.UNAVAILABLE.code))
                .putHeader(GrpcErrors.DETAILS_TRAILER, GrpcErrors.details(GrpcStatus.UNAVAILABLE,
                    new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd is busy: try again later")))
                .end();
            return;
          }
          Buffer message = Buffer.buffer().appendByte((byte) (a.compressed() ? 1 : 0)).appendInt(BOMB.length)
              .appendBytes(BOMB);
          req.response().putHeader("content-type", "application/grpc");
          if (a.encoding() != null) {
            req.response().putHeader("grpc-encoding", a.encoding());
          }
          req.response().putTrailer("grpc-status", "0").end(message);
        }));
    server.listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("answers")
  void call_compressedAnswer_tryAgainLaterNamingTheEncodingNotInflated(Answer a) {
    answer = a;
    Pool pool = TestPools.pool("hostile", AllocationOrder.ROUND_ROBIN, "198.18.91.0/24");
    RemoteStore.Target target = RemoteStore.Target.parse("127.0.0.1:" + server.actualPort()).withTimeout(DEADLINE);
    try (RemoteStore remote = RemoteStore.connect(target)) {
      for (String method : List.of("allocate", "release")) {
        int before = requests.get();
        long start = System.nanoTime();
        IpamException e = assertThrows(IpamException.class, () -> {
          if (method.equals("allocate")) {
            remote.allocate(pool, AllocationRequest.of(new Attachment("c1", "eth0")));
          } else {
            remote.release(pool, new Attachment("c1", "eth0"));
          }
        });
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
        assertTrue(millis <= DEADLINE.toMillis() + SLACK_MILLIS, method + " took " + millis + " ms");
        String expected = a.encoding() == null ? "an answer could not be read: \"java.lang.UnsupportedOperationException"
            : "answered with grpc-encoding " + Printable.quote(a.encoding());
        assertTrue(e.getMessage().contains(expected), method + ": " + e.getMessage() + " should say " + expected);
        int sent = requests.get() - before;
        if (a.encoding() != null || method.equals("allocate")) {
          assertEquals(1, sent, method + " was sent again after a final answer");
        } else {
          assertTrue(sent >= 1 && sent <= 3, method + " was sent " + sent + " times");
        }
      }
    }
  }

  @Test
  void unanswered_trueOnlyWhenNoAnswerCame() throws Exception {
    Pool pool = TestPools.pool("hostile", AllocationOrder.ROUND_ROBIN, "198.18.91.0/24");
    int port = server.actualPort();
    RemoteStore.Target target = RemoteStore.Target.parse("127.0.0.1:" + port).withTimeout(DEADLINE);
    AllocationRequest request = AllocationRequest.of(new Attachment("c1", "eth0"));
    try (RemoteStore remote = RemoteStore.connect(target)) {
      answer = null;
      IpamException busy = assertThrows(IpamException.class, () -> remote.allocate(pool, request));
      assertEquals(ErrorCode.TRY_AGAIN_LATER, busy.code(), busy.getMessage());
      assertFalse(RemoteStore.unanswered(busy), "jipamd answered: " + busy.getMessage());
      answer = new Answer("gzip", true);
      IpamException gzip = assertThrows(IpamException.class, () -> remote.allocate(pool, request));
      assertFalse(RemoteStore.unanswered(gzip), "jipamd answered: " + gzip.getMessage());
      answer = new Answer(null, true);
      IpamException unreadable = assertThrows(IpamException.class, () -> remote.allocate(pool, request));
      assertFalse(RemoteStore.unanswered(unreadable), "jipamd answered: " + unreadable.getMessage());
    }
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    try (RemoteStore remote = RemoteStore.connect(target)) {
      IpamException refused = assertThrows(IpamException.class, () -> remote.allocate(pool, request));
      assertEquals(ErrorCode.TRY_AGAIN_LATER, refused.code(), refused.getMessage());
      assertTrue(RemoteStore.unanswered(refused), "nothing listens on " + port + ": " + refused.getMessage());
    }
  }

  private static byte[] gzippedZeros(int size) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(out, 1 << 16)) {
      byte[] zeros = new byte[1 << 20];
      for (int n = 0; n < size; n += zeros.length) {
        gzip.write(zeros);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }
}
