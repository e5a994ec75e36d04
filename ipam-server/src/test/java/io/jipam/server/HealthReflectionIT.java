package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Ports;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.reflection.v1.ServerReflectionRequest;
import io.vertx.grpc.reflection.v1.ServerReflectionResponse;
import io.vertx.grpc.reflection.v1.ServiceResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standard gRPC health and reflection services of a jipamd on a real TCP socket, queried with
 * a plain gRPC client as grpcurl or a probe would: SERVING only while the store answers.
 */
@Timeout(90)
class HealthReflectionIT {
  static final ServiceMethod<HealthCheckResponse, HealthCheckRequest> CHECK = ServiceMethod.client(
      ServiceName.create("grpc.health.v1.Health"), "Check", GrpcMessageEncoder.encoder(),
      GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));
  static final ServiceMethod<ServerReflectionResponse, ServerReflectionRequest> REFLECT = ServiceMethod.client(
      ServiceName.create("grpc.reflection.v1.ServerReflection"), "ServerReflectionInfo",
      GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(ServerReflectionResponse.newBuilder()));

  @TempDir Path dir;
  Vertx vertx;
  GrpcClient client;
  IpamServer server;

  @BeforeEach
  void client() {
    vertx = Vertx.vertx();
    client = GrpcClient.client(vertx, new GrpcClientOptions(),
        new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    client.close();
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  IpamServer serve(IpamStore store) {
    return IpamServer.start(store, IpamServer.Settings.unix(dir.resolve("j.sock"))
        .withTcp("127.0.0.1", 0, true, null, null, null), CallLog.quiet());
  }

  /** The status of a service, or the gRPC status when the call itself failed. */
  Object check(String service) throws Exception {
    Future<Object> answer = client.request(SocketAddress.inetSocketAddress(server.tcpPort(), "127.0.0.1"), CHECK)
        .compose(req -> req.send(HealthCheckRequest.newBuilder().setService(service).build()))
        .compose(resp -> resp.last().transform(last -> Future.succeededFuture(
            resp.status() == GrpcStatus.OK && last.succeeded() ? last.result().getStatus() : resp.status())));
    return answer.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  ServerReflectionResponse reflect(ServerReflectionRequest request) throws Exception {
    return client.request(SocketAddress.inetSocketAddress(server.tcpPort(), "127.0.0.1"), REFLECT)
        .compose(req -> req.send(request)).compose(resp -> resp.last())
        .toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  @Test
  void check_memoryStore_servingForServerAndIpamNotFoundForOthers() throws Exception {
    server = serve(MemoryStores.open());
    assertEquals(ServingStatus.SERVING, check(""));
    assertEquals(ServingStatus.SERVING, check("jipam.v1.Ipam"));
    assertEquals(GrpcStatus.NOT_FOUND, check("no.such.Service"));
  }

  @Test
  void check_etcdStore_notServingUntilEtcdAnswersThenServing() throws Exception {
    int port = Ports.free();
    server = serve(EtcdStores.open(EtcdStoreConfig.of(List.of("http://127.0.0.1:" + port), "node-h")
        .withTimeout(Duration.ofMillis(500))));
    assertEquals(ServingStatus.NOT_SERVING, check(""), "no etcd listens yet");
    assertEquals(ServingStatus.NOT_SERVING, check("jipam.v1.Ipam"));
    try (Etcd etcd = Etcd.builder().clientPort(port).start()) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
      Object status = check("");
      while (status != ServingStatus.SERVING && System.nanoTime() < deadline) {
        Thread.sleep(200);
        status = check("");
      }
      assertEquals(ServingStatus.SERVING, status, "etcd " + etcd.endpoint() + " answers");
      assertEquals(ServingStatus.SERVING, check("jipam.v1.Ipam"));
    }
  }

  @Test
  void reflection_listsServicesAndDescribesIpam() throws Exception {
    server = serve(MemoryStores.open());
    ServerReflectionResponse listed = reflect(ServerReflectionRequest.newBuilder().setListServices("").build());
    List<String> names = listed.getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName)
        .toList();
    assertTrue(names.containsAll(List.of("jipam.v1.Ipam", "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection")), names.toString());

    ServerReflectionResponse file = reflect(ServerReflectionRequest.newBuilder()
        .setFileContainingSymbol("jipam.v1.Ipam").build());
    DescriptorProtos.FileDescriptorProto proto = DescriptorProtos.FileDescriptorProto.parseFrom(
        file.getFileDescriptorResponse().getFileDescriptorProto(0));
    assertEquals("jipam.v1", proto.getPackage());
    assertTrue(proto.getServiceList().stream().anyMatch(s -> s.getName().equals("Ipam")
        && s.getMethodList().stream().anyMatch(m -> m.getName().equals("ReclaimNode"))), proto.toString());
  }
}
