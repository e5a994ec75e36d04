package io.jipam.client;

import io.jipam.api.GrpcErrors;
import io.jipam.api.Headers;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.dns.AddressResolverOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@link RemoteStore}'s transport: one long-lived HTTP/2 connection to a jipamd and unary calls on
 * it, each bounded by the target's timeout in every phase, errors jipamd answered rebuilt as the
 * same {@link IpamException}, transport failures retried only for calls marked
 * {@link Retry#IDEMPOTENT}. An answer compressed in any {@code grpc-encoding} but identity is
 * refused unread (TRY_AGAIN_LATER, final: jipamd never compresses, and Vert.x would inflate it
 * with no bound). Thread-safe; blocking (never call it on a Vert.x event loop).
 */
final class GrpcChannel {
  private static final int ATTEMPTS = 3;

  /** Seconds after which an idle connection to jipamd is closed from this side. */
  static final int CLIENT_IDLE_SECONDS = 10;

  /** Whether a call may be sent again after a transport failure. */
  enum Retry {
    /** Sent once: a repeat could change the answer (Allocate: {@code existing = true}). */
    NEVER,
    /** Repeated after a transport failure, inside the deadline (20 ms, then 80 ms apart). */
    IDEMPOTENT
  }

  private final Vertx vertx;
  /** Replaced by {@link #reloadTls}. */
  private volatile GrpcClient client;
  private final RemoteStore.Target target;
  /** The node every call acts for (sent as {@value Headers#NODE}), or null. */
  private final String node;
  /** Calls waiting for their answer: how each ends early ({@link #unreadableAnswer}). */
  private final Map<Promise<?>, Runnable> waiting = new ConcurrentHashMap<>();
  /** How many answers could not be read so far, and the last reason. */
  private final AtomicLong unreadableCount = new AtomicLong();
  private volatile String unreadableReason;

  private GrpcChannel(Vertx vertx, GrpcClient client, RemoteStore.Target target, String node) {
    this.vertx = vertx;
    this.client = client;
    this.target = target;
    this.node = node;
  }

  /** Connects lazily: an unreachable jipamd surfaces as TRY_AGAIN_LATER from the first call. */
  /** What this channel calls. */
  RemoteStore.Target target() {
    return target;
  }

  static GrpcChannel open(RemoteStore.Target target, String node) {
    // no class-path file cache: jipam serves no files, and Vert.x would otherwise make a
    // vertx-cache-* dir in java.io.tmpdir that a killed process leaves behind
    VertxOptions options = new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1)
        .setInternalBlockingPoolSize(1)
        .setFileSystemOptions(new FileSystemOptions().setClassPathResolvingEnabled(false).setFileCachingEnabled(false));
    if (target.connectTo() != null) {
      // the host's name resolves to the given address, in this client only; TLS still verifies the name
      options.setAddressResolverOptions(new AddressResolverOptions()
          .setHostsValue(Buffer.buffer(target.connectTo() + " " + target.address().host() + "\n")));
    }
    Vertx vertx = Vertx.vertx(options);
    GrpcChannel channel = new GrpcChannel(vertx, client(vertx, target, null, null, null), target, node);
    vertx.exceptionHandler(channel::unreadableAnswer);
    return channel;
  }

  /**
   * A client of the target: with the given bytes of its TLS files where not null, else the files
   * themselves, which Vert.x reads when it makes its first connection.
   */
  private static GrpcClient client(Vertx vertx, RemoteStore.Target target, byte[] ca, byte[] cert, byte[] key) {
    HttpClientOptions http = new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false)
        // close an idle connection before jipamd's idle timeout (default 30 s) can close it under
        // a call: an Allocate is not retried, so a call sent as the server closes would fail
        .setHttp2KeepAliveTimeout(CLIENT_IDLE_SECONDS)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, target.timeout().toMillis()));
    RemoteStore.Tls tls = target.tls();
    if (tls != null) {
      http.setSsl(true).setUseAlpn(true);
      if (ca != null) {
        http.setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(ca)));
      } else if (tls.caFile() != null) {
        http.setTrustOptions(new PemTrustOptions().addCertPath(tls.caFile().toString()));
      }
      if (cert != null && key != null) {
        http.setKeyCertOptions(PemKeyOptions.of(cert, key));
      } else if (tls.certFile() != null) {
        http.setKeyCertOptions(PemKeyOptions.ofFiles(tls.certFile().toString(), tls.keyFile().toString()));
      }
    }
    return GrpcClient.client(vertx, new GrpcClientOptions()
        .setScheduleDeadlineAutomatically(true)
        .setMaxMessageSize(16L << 20), http);
  }

  /**
   * Takes renewed TLS files, as their bytes (null: that file as given at start): calls from now on
   * go on a new connection made with them, from the next call on, while calls already sent finish
   * on the old one, which is closed once the longest of them could have ended (the target's
   * timeout, and a second). Nothing to do without TLS. Thread-safe.
   */
  synchronized void reloadTls(byte[] ca, byte[] cert, byte[] key) {
    if (target.tls() == null) {
      return;
    }
    GrpcClient old = client;
    client = client(vertx, target, ca, cert, key);
    vertx.setTimer(target.timeout().toMillis() + 1000, id -> old.close());
  }

  /**
   * What Vert.x throws on this channel's event loop with no call to hand it to: an answer it could
   * not read (its gRPC deframer throws on a message flagged compressed under no {@code
   * grpc-encoding}), or a fault of its own. Such an exception names no stream, so it ends the call
   * waiting at once only when a single call waits; otherwise each waiting call ends at its deadline
   * and says why. Never logged with a stack trace (jipamctl prints one line).
   */
  private void unreadableAnswer(Throwable t) {
    unreadableReason = "an answer could not be read: " + Printable.quote(String.valueOf(t));
    unreadableCount.incrementAndGet();
    if (waiting.size() == 1) {
      waiting.values().forEach(Runnable::run);
    }
  }

  <Req, Resp> Resp call(ServiceMethod<Resp, Req> method, Req request, Retry retry) {
    long deadline = System.nanoTime() + target.timeout().toNanos();
    long backoffMillis = 20;
    for (int attempt = 1; ; attempt++) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      try {
        return once(method, request, Math.max(1, left));
      } catch (Transient e) {
        long now = System.nanoTime();
        if (retry == Retry.NEVER || attempt >= ATTEMPTS
            || now + TimeUnit.MILLISECONDS.toNanos(backoffMillis) >= deadline) {
          throw e.error;
        }
        sleep(backoffMillis);
        backoffMillis *= 4;
      }
    }
  }

  /** A failure after which the same call may succeed: the connection, not jipamd's answer. */
  private static final class Transient extends RuntimeException {
    final IpamException error;

    Transient(IpamException error) {
      super(error.getMessage(), null, false, false);
      this.error = error;
    }
  }

  /**
   * One attempt, bounded by {@code timeoutMillis} from now in every phase: waiting for a connection
   * and a stream counts against it (the gRPC deadline set on the stream is what is left), and an
   * attempt still unanswered at the bound is cancelled and fails.
   */
  private <Req, Resp> Resp once(ServiceMethod<Resp, Req> method, Req request, long timeoutMillis) {
    String name = method.methodName();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    AtomicBoolean abandoned = new AtomicBoolean();
    AtomicReference<GrpcClientRequest<Req, Resp>> sent = new AtomicReference<>();
    long unreadableBefore = unreadableCount.get();
    Promise<Resp> result = Promise.promise();
    waiting.put(result, () -> {
      abandoned.set(true); // not sent, if it was not yet
      GrpcClientRequest<Req, Resp> req = sent.get();
      if (req != null) {
        req.cancel();
      }
      result.tryFail(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at " + target.text() + ": "
          + unreadableReason));
    });
    Future<Resp> answer = client.request(target.address(), method).compose(req -> {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (abandoned.get() || left <= 0) {
        req.cancel();
        return Future.failedFuture(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at "
            + target.text() + " did not answer within " + timeoutMillis + " ms", new NoAnswer(null)));
      }
      req.timeout(left, TimeUnit.MILLISECONDS);
      if (node != null) {
        req.headers().set(Headers.NODE, node);
      }
      sent.set(req);
      return req.send(request);
    }).compose(resp -> {
      String encoding = resp.encoding();
      if (encoding != null && !encoding.equalsIgnoreCase("identity")) {
        // refused before its message is read: Vert.x would inflate a gzip one with no bound
        sent.get().cancel();
        return Future.failedFuture(new Answered(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name
            + " at " + target.text() + " answered with grpc-encoding " + Printable.quote(encoding)
            + "; jipam reads only identity (uncompressed) answers")));
      }
      return resp.last().transform(last -> {
        if (resp.status() == GrpcStatus.OK && last.succeeded()) {
          return Future.succeededFuture(last.result());
        }
        if (resp.status() == null || resp.status() == GrpcStatus.OK) {
          return Future.failedFuture(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name
              + " at " + target.text() + ": no answer: " + last.cause(), new NoAnswer(last.cause())));
        }
        // an error without messages is sent "trailers-only": its metadata arrives as headers
        io.vertx.core.MultiMap metadata = resp.trailers() != null && resp.trailers().contains(GrpcErrors.DETAILS_TRAILER)
            ? resp.trailers() : resp.headers();
        return Future.failedFuture(new Answered(GrpcErrors.exception(resp.status(), resp.statusMessage(),
            metadata, name)));
      });
    });
    answer.onComplete(result::tryComplete, result::tryFail);
    try {
      return result.future().toCompletionStage().toCompletableFuture()
          .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Answered a) {
        throw a.error;
      }
      if (cause instanceof IpamException ipam) {
        throw new Transient(ipam);
      }
      throw new Transient(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at "
          + target.text() + " failed: " + cause + tlsHint(cause), new NoAnswer(cause)));
    } catch (TimeoutException e) {
      abandoned.set(true);
      GrpcClientRequest<Req, Resp> req = sent.get();
      if (req != null) {
        req.cancel(); // resets the stream: jipamd may still have applied the call (see the class doc)
      }
      throw new Transient(new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd " + name + " at "
          + target.text() + " did not answer within " + timeoutMillis + " ms"
          + (unreadableCount.get() != unreadableBefore ? " (meanwhile " + unreadableReason + ")" : ""),
          new NoAnswer(null)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting for jipamd " + name);
    } finally {
      waiting.remove(result);
    }
  }

  /**
   * What a failure with no answer says about TLS, for the error's reader (an operator reading a
   * node's log or the runtime's event): a handshake this side refused, with the JDK's reason, or a
   * connection closed with no answer over mutual TLS, which is how jipamd refuses a client
   * certificate it does not trust. Empty otherwise. Such a failure is permanent until the files
   * change, though it is answered as every unanswered call is (TRY_AGAIN_LATER).
   */
  private String tlsHint(Throwable cause) {
    if (target.tls() == null) {
      return "";
    }
    for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof javax.net.ssl.SSLException) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
          root = root.getCause();
        }
        return " (the TLS handshake failed: " + root.getMessage() + "; is jipamd's certificate signed by the CA this"
            + " client trusts" + (target.tls().caFile() == null ? "" : ", " + target.tls().caFile())
            + ", and valid for " + target.address().host() + "?)";
      }
    }
    if (String.valueOf(cause.getMessage()).contains("Connection was closed")) {
      return " (over mutual TLS, jipamd closes the connection of a client certificate it does not trust: signed by"
          + " another CA than its client CA, expired, or none" + (target.tls().certFile() == null ? " was given" : "")
          + ")";
    }
    return "";
  }

  /**
   * The cause of a failure in which no answer came at all (no connection, none within the deadline,
   * a stream closed without a status), as against an answer that was an error or could not be read:
   * {@link RemoteStore#unanswered}. Its cause is the transport's exception, if there was one.
   */
  static final class NoAnswer extends Exception {
    NoAnswer(Throwable cause) {
      super(cause == null ? "no answer" : String.valueOf(cause), cause, false, false);
    }
  }

  /** jipamd answered with an error: final, never retried. */
  private static final class Answered extends RuntimeException {
    final IpamException error;

    Answered(IpamException error) {
      super(error.getMessage(), null, false, false);
      this.error = error;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted");
    }
  }

  void close() {
    try {
      client.close().compose(v -> vertx.close()).toCompletionStage().toCompletableFuture()
          .get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // closing: nothing is pending that a caller waits for
    }
  }
}
