package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * RemoteStore against a server that answers in a compression jipam does not read: refused with
 * TRY_AGAIN_LATER naming the encoding, before the message is read (so a small gzip answer that
 * inflates to 64 MiB is never inflated), and not sent again. A message flagged compressed under no
 * {@code grpc-encoding} at all (a protocol error Vert.x's client cannot hand back to the call) ends
 * at the call's deadline, as a server that never answers does.
 */
@Timeout(60)
class RemoteStoreHostileAnswerTest {
  static final Duration DEADLINE = Duration.ofSeconds(2);
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
        String expected = a.encoding() == null ? "did not answer within"
            : "answered with grpc-encoding " + Printable.quote(a.encoding());
        assertTrue(e.getMessage().contains(expected), method + ": " + e.getMessage() + " should say " + expected);
        assertEquals(1, requests.get() - before, method + " was sent again after a final answer");
      }
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
