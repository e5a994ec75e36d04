package io.jipam.server;

import io.jipam.api.GrpcErrors;
import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A plain gRPC client on jipamd's unix socket, for requests that {@link RemoteStore} cannot send
 * (its core values refuse them): one call, its status and, on failure, the {@link IpamException}
 * the error details carry.
 */
final class RawGrpc implements AutoCloseable {
  /** How a call ended: the status, the response (OK) or the error it carried. */
  record Answer<Resp>(GrpcStatus status, Resp response, IpamException error) {}

  private final Vertx vertx = Vertx.vertx();
  private final GrpcClient client = GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(64L << 20),
      new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
  private final SocketAddress where;

  RawGrpc(Path socket) {
    this.where = SocketAddress.domainSocketAddress(socket.toString());
  }

  <Req, Resp> Answer<Resp> call(ServiceMethod<Resp, Req> method, Req request) throws Exception {
    return client.request(where, method).compose(req -> {
      req.timeout(60, TimeUnit.SECONDS);
      return req.send(request);
    }).compose(resp -> resp.last().transform(last -> {
      if (resp.status() == GrpcStatus.OK && last.succeeded()) {
        return io.vertx.core.Future.succeededFuture(new Answer<Resp>(GrpcStatus.OK, last.result(), null));
      }
      MultiMap metadata = resp.trailers() != null && resp.trailers().contains(GrpcErrors.DETAILS_TRAILER)
          ? resp.trailers() : resp.headers();
      return io.vertx.core.Future.succeededFuture(new Answer<Resp>(resp.status(), null,
          GrpcErrors.exception(resp.status(), resp.statusMessage(), metadata, method.methodName())));
    })).toCompletionStage().toCompletableFuture().get(90, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    client.close();
    vertx.close();
  }
}
