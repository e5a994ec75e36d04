package io.jipam.server;

import io.jipam.core.ErrorCode;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.server.IpamServer.Settings;
import io.jipam.server.cni.CniEndpoint;
import io.jipam.server.cni.UnixSocketFile;
import io.jipam.server.grpc.GrpcIntake;
import io.jipam.server.metrics.MetricsEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.server.GrpcServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * jipamd's HTTP listeners, each made and bound for {@link IpamServer}: {@code /metrics} (plain
 * HTTP, a bounded number of connections), the unix socket (the plugin's CNI calls and gRPC) and
 * TCP (gRPC; TLS when a certificate is set), with their options and time bounds.
 *
 * <p>Contract: each of {@link #metrics}, {@link #unix} and {@link #tcp} blocks until its listener
 * is bound, at most 30 s, so it must not run on an event loop; a bind that fails or times out
 * throws {@link IpamException} {@code IO_FAILURE} naming what was being listened on. Nothing is
 * closed on failure: closing Vert.x closes every listener it made, which the caller does.
 * Stateless; safe from any thread.
 */
final class Listeners {
  private Listeners() {}

  /** The {@code /metrics} listener on {@code host:port} (0: one picked), bound. */
  static HttpServer metrics(Vertx vertx, MetricsEndpoint scrapes, String metricsHost, int metricsPort) {
    java.util.concurrent.atomic.AtomicInteger metricsConnections = new java.util.concurrent.atomic.AtomicInteger();
    HttpServer http = vertx.createHttpServer(new HttpServerOptions().setIdleTimeout(10).setHttp2ClearTextEnabled(false)
            .setPerMessageWebSocketCompressionSupported(false).setPerFrameWebSocketCompressionSupported(false))
        .connectionHandler(conn -> {
          if (metricsConnections.incrementAndGet() > MetricsEndpoint.MAX_CONNECTIONS) {
            metricsConnections.decrementAndGet();
            conn.close(); // an unauthenticated port: a flood of connections takes no more than this
            return;
          }
          conn.closeHandler(v -> metricsConnections.decrementAndGet());
        })
        .requestHandler(closingWhenAnsweredEarly(scrapes::handle, Duration.ofSeconds(30)));
    return await(http.listen(metricsPort, metricsHost), "listening for /metrics on " + metricsHost + ":"
        + metricsPort);
  }

  /** The unix socket's listener, bound in {@code socketFile}: {@link CniEndpoint#PATH} to {@code cni}, the rest gRPC. */
  static HttpServer unix(Vertx vertx, Settings settings, UnixSocketFile socketFile, CniEndpoint cni, GrpcServer grpc)
      throws IOException {
    Handler<HttpServerRequest> grpcCalls = GrpcIntake.uncompressedOnly(grpc);
    HttpServer unix = vertx.createHttpServer(base(settings))
        .requestHandler(closingWhenAnsweredEarly(req -> {
          if (CniEndpoint.PATH.equals(req.path())) {
            cni.handle(req);
          } else {
            grpcCalls.handle(req);
          }
        }, settings.idleTimeout()));
    return socketFile.bind(path -> await(unix.listen(SocketAddress.domainSocketAddress(path.toString())),
        "listening on " + settings.socket()));
  }

  /** The TCP listener of {@code settings}, gRPC only, with TLS when they give a certificate; bound. */
  static HttpServer tcp(Vertx vertx, Settings settings, Path operatorCa, GrpcServer grpc) {
    HttpServerOptions options = withTls(base(settings), settings, operatorCa);
    HttpServer tcp = vertx.createHttpServer(options)
        .requestHandler(closingWhenAnsweredEarly(GrpcIntake.uncompressedOnly(grpc), settings.idleTimeout()))
        .connectionHandler(CoalescedFlushes::install);
    return await(tcp.listen(settings.tcpPort(), settings.tcpHost()), "listening on " + settings.tcpHost()
        + ":" + settings.tcpPort());
  }

  /**
   * {@code options} with the TCP listener's TLS when {@code settings} give a certificate
   * ({@link ListenerTls}: its files read once here).
   */
  static HttpServerOptions withTls(HttpServerOptions options, Settings settings, Path operatorCa) {
    if (settings.tlsCert() == null) {
      return options;
    }
    return ListenerTls.read(settings.tlsCert(), settings.tlsKey(), settings.clientCa(), operatorCa).applyTo(options);
  }

  /**
   * The listeners' options: their idle bound, and no WebSocket compression: jipamd serves no
   * WebSocket, and the handler that negotiates it threw on the 129th pipelined HTTP/1 request of
   * one connection, logging a stack trace per connection that did so.
   */
  private static HttpServerOptions base(Settings settings) {
    return new HttpServerOptions()
        .setIdleTimeout((int) settings.idleTimeout().toSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setMaxFormAttributeSize(1024)
        .setPerMessageWebSocketCompressionSupported(false)
        .setPerFrameWebSocketCompressionSupported(false)
        .setHttp2ClearTextEnabled(true);
  }

  /**
   * {@code handler}, and an HTTP/1 connection closed {@code grace} after a request on it was
   * answered before its body had all arrived (a refusal: 405, a body over the limit, gRPC over
   * HTTP/1), unless the body has arrived by then. Nothing more of that request is read; left open,
   * its client could go on sending a body no one reads, each byte counting as activity against
   * the idle bound. The grace lets a client that sends its whole body at once read the answer (a
   * connection closed with bytes unread is reset, and the answer lost with it). HTTP/2 streams are
   * left to the protocol.
   */
  static Handler<HttpServerRequest> closingWhenAnsweredEarly(Handler<HttpServerRequest> handler, Duration grace) {
    return req -> {
      if (req.version() != io.vertx.core.http.HttpVersion.HTTP_2) {
        Vertx owner = io.vertx.core.Vertx.currentContext().owner();
        req.response().endHandler(v -> {
          if (!req.isEnded()) {
            owner.setTimer(Math.max(1, grace.toMillis()), id -> {
              if (!req.isEnded()) {
                req.connection().close();
              }
            });
          }
        });
      }
      handler.handle(req);
    };
  }

  private static <T> T await(Future<T> future, String what) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new IpamException(ErrorCode.IO_FAILURE, what + " failed: " + IoMessages.describe(e.getCause()),
          e.getCause());
    } catch (TimeoutException e) {
      throw new IpamException(ErrorCode.IO_FAILURE, what + " timed out");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.INTERNAL, "interrupted " + what);
    }
  }
}
