package io.jipam.server.grpc;

import com.google.protobuf.Descriptors;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.capability.Probe;
import io.jipam.server.metrics.CoalescedReads;
import io.jipam.api.v1.IpamGrpcService;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.vertx.grpc.health.v1.HealthProto;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.Service;
import java.util.concurrent.RejectedExecutionException;

/**
 * {@code grpc.health.v1.Health/Check}: the server ({@code ""}) and {@code jipam.v1.Ipam} are
 * SERVING when the store answers a read now, NOT_SERVING when it does not (etcd unreachable, the
 * central jipamd down); any other name is NOT_FOUND. Each check joins the next of jipamd's health
 * reads ({@link CoalescedReads}, shared with {@code /healthz}): one probe at a time on a thread of
 * its own, bounded by the store's own timeout, never one of the calls' workers, so a jipamd whose
 * calls keep every worker busy is still SERVING.
 *
 * <p>Why not Vert.x's {@code HealthService}: in 5.0.7 it answers SERVING for {@code ""} whatever
 * is registered, and a probe of the whole server is what Kubernetes and grpc_health_probe ask.
 * {@code Watch} and {@code List} are not served (UNIMPLEMENTED).
 *
 * <table>
 *   <caption>What "the store answers" means</caption>
 *   <tr><th>store</th><th>probe</th></tr>
 *   <tr><td>etcd ({@link Probe})</td><td>{@code ping}: one key read</td></tr>
 *   <tr><td>remote ({@link Probe})</td><td>{@code grpc.health.v1.Health/Check} of the other jipamd</td></tr>
 *   <tr><td>file, memory</td><td>none: opening the store at start was the check</td></tr>
 * </table>
 */
public final class Health {
  static final ServiceName NAME = ServiceName.create("grpc.health.v1.Health");
  static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> CHECK = ServiceMethod.server(NAME, "Check",
      GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));

  private Health() {}

  /**
   * The service, for {@link GrpcServer#addService} (its descriptor serves reflection).
   *
   * @param checks jipamd's health reads ({@link #answers} of its store)
   */
  public static Service service(CoalescedReads<Boolean> checks) {
    return new Service() {
      @Override
      public ServiceName name() {
        return NAME;
      }

      @Override
      public Descriptors.ServiceDescriptor descriptor() {
        return HealthProto.getDescriptor().findServiceByName("Health");
      }

      @Override
      public void bind(GrpcServer server) {
        server.callHandler(CHECK, request -> GrpcIntake.onMessage(request, CHECK,
            message -> check(request, message, checks),
            undecodable -> GrpcIntake.end(() -> request.response().status(GrpcStatus.INVALID_ARGUMENT)
                .statusMessage(undecodable.getMessage()).end())));
      }
    };
  }

  private static void check(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> request,
      HealthCheckRequest message, CoalescedReads<Boolean> checks) {
    String service = message.getService();
    if (!service.isEmpty() && !service.equals(IpamGrpcService.SERVICE_NAME.fullyQualifiedName())) {
      GrpcIntake.end(() -> request.response().status(GrpcStatus.NOT_FOUND).statusMessage("unknown service " + service)
          .end());
      return;
    }
    Context context = Vertx.currentContext();
    boolean asked = checks.ask(outcome -> {
      ServingStatus status = outcome.failure() == null && outcome.value() ? ServingStatus.SERVING
          : ServingStatus.NOT_SERVING;
      try {
        // the check's deadline may have passed while the store was read: then Vert.x answered it
        context.runOnContext(v -> GrpcIntake.end(() -> request.response()
            .end(HealthCheckResponse.newBuilder().setStatus(status).build())));
      } catch (RejectedExecutionException stopped) {
        // jipamd stopped while the store was asked: the caller is gone, nothing to answer
      }
    });
    if (!asked) {
      GrpcIntake.end(() -> request.response().end(HealthCheckResponse.newBuilder()
          .setStatus(ServingStatus.NOT_SERVING).build()));
    }
  }

  /** True when the store answers a read now. */
  public static boolean answers(IpamStore store) {
    try {
      store.capability(Probe.class).ifPresent(Probe::ping);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }
}
