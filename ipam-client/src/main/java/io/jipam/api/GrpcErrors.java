package io.jipam.api;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.api.v1.ErrorDetail;
import io.jipam.api.v1.Status;
import io.vertx.core.MultiMap;
import io.vertx.grpc.common.GrpcStatus;
import java.util.Base64;

/**
 * jipam's {@link ErrorCode} at the gRPC edge, both ways.
 *
 * <p>A failed call carries its error three times: the gRPC status code (for generic clients), the
 * status message (the exception's message) and, in the {@code grpc-status-details-bin} trailer, a
 * {@code google.rpc.Status}-compatible message whose one detail is a {@code jipam.v1.ErrorDetail}
 * with the code's name and its CNI number. A client that finds the detail rebuilds exactly the
 * {@link IpamException} the server raised; one that does not (a transport failure, a proxy) maps
 * the status code.
 *
 * <table>
 *   <caption>ErrorCode to gRPC status</caption>
 *   <tr><th>ErrorCode</th><th>gRPC status</th></tr>
 *   <tr><td>INVALID_CONFIG, UNSUPPORTED_FIELD, INVALID_ENVIRONMENT, DECODE_FAILURE, INCOMPATIBLE_VERSION</td><td>INVALID_ARGUMENT</td></tr>
 *   <tr><td>UNKNOWN_CONTAINER</td><td>NOT_FOUND</td></tr>
 *   <tr><td>TRY_AGAIN_LATER, NOT_AVAILABLE</td><td>UNAVAILABLE</td></tr>
 *   <tr><td>POOL_EXHAUSTED</td><td>RESOURCE_EXHAUSTED</td></tr>
 *   <tr><td>ADDRESS_UNAVAILABLE, ALLOCATION_MISMATCH</td><td>FAILED_PRECONDITION</td></tr>
 *   <tr><td>PERMISSION_DENIED</td><td>PERMISSION_DENIED</td></tr>
 *   <tr><td>IO_FAILURE, INTERNAL</td><td>INTERNAL</td></tr>
 * </table>
 */
public final class GrpcErrors {
  public static final String DETAILS_TRAILER = "grpc-status-details-bin";

  private GrpcErrors() {}

  public static GrpcStatus status(ErrorCode code) {
    return switch (code) {
      case INVALID_CONFIG, UNSUPPORTED_FIELD, INVALID_ENVIRONMENT, DECODE_FAILURE, INCOMPATIBLE_VERSION ->
          GrpcStatus.INVALID_ARGUMENT;
      case UNKNOWN_CONTAINER -> GrpcStatus.NOT_FOUND;
      case TRY_AGAIN_LATER, NOT_AVAILABLE -> GrpcStatus.UNAVAILABLE;
      case POOL_EXHAUSTED -> GrpcStatus.RESOURCE_EXHAUSTED;
      case ADDRESS_UNAVAILABLE, ALLOCATION_MISMATCH -> GrpcStatus.FAILED_PRECONDITION;
      case PERMISSION_DENIED -> GrpcStatus.PERMISSION_DENIED;
      case IO_FAILURE, INTERNAL -> GrpcStatus.INTERNAL;
    };
  }

  /** The trailer value describing the error (base64, as gRPC sends binary metadata). */
  public static String details(GrpcStatus status, IpamException e) {
    ErrorDetail detail = ErrorDetail.newBuilder()
        .setCode(e.code().name())
        .setCniCode(e.code().cniCode())
        .setMessage(String.valueOf(e.getMessage()))
        .build();
    Status s = Status.newBuilder()
        .setCode(status.code)
        .setMessage(String.valueOf(e.getMessage()))
        .addDetails(Any.pack(detail))
        .build();
    return Base64.getEncoder().withoutPadding().encodeToString(s.toByteArray());
  }

  /**
   * The exception a failed call stands for: the one in its details when there is one, else one
   * mapped from the status (UNAVAILABLE and DEADLINE_EXCEEDED: try again later; anything else:
   * internal).
   */
  public static IpamException exception(GrpcStatus status, String message, MultiMap trailers, String method) {
    String raw = trailers == null ? null : trailers.get(DETAILS_TRAILER);
    if (raw != null) {
      try {
        Status s = Status.parseFrom(Base64.getDecoder().decode(raw.trim()));
        for (Any any : s.getDetailsList()) {
          if (any.is(ErrorDetail.class)) {
            ErrorDetail d = any.unpack(ErrorDetail.class);
            ErrorCode code = codeOf(d.getCode());
            if (code != null) {
              return new IpamException(code, d.getMessage());
            }
          }
        }
      } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
        // fall through to the status code
      }
    }
    String text = "jipamd " + method + ": " + status + (message == null || message.isEmpty() ? "" : ": " + message);
    if (status == GrpcStatus.PERMISSION_DENIED) {
      return new IpamException(ErrorCode.PERMISSION_DENIED, text);
    }
    ErrorCode code = status == GrpcStatus.UNAVAILABLE || status == GrpcStatus.DEADLINE_EXCEEDED
        || status == GrpcStatus.RESOURCE_EXHAUSTED || status == GrpcStatus.CANCELLED
        ? ErrorCode.TRY_AGAIN_LATER : ErrorCode.INTERNAL;
    return new IpamException(code, text);
  }

  private static ErrorCode codeOf(String name) {
    for (ErrorCode c : ErrorCode.values()) {
      if (c.name().equals(name)) {
        return c;
      }
    }
    return null;
  }
}
