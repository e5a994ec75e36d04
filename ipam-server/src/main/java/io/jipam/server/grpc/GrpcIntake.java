package io.jipam.server.grpc;

import io.jipam.api.GrpcErrors;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.GrpcServerRequest;
import java.nio.charset.StandardCharsets;

/**
 * What jipamd takes in as a gRPC request, on every listener, before a service sees it:
 * uncompressed messages only, each decoded here by its method's decoder.
 *
 * <table>
 *   <caption>Requests refused, and how</caption>
 *   <tr><th>request</th><th>answer</th></tr>
 *   <tr><td>{@code grpc-encoding} other than {@code identity} (gzip, deflate, snappy, anything)</td>
 *       <td>UNIMPLEMENTED, jipam code DECODE_FAILURE (6), naming the encoding; {@code
 *       grpc-accept-encoding: identity}; the body is not read</td></tr>
 *   <tr><td>a message that does not decode as the method's request (including one flagged
 *       compressed with no {@code grpc-encoding}: its bytes are read as they are)</td>
 *       <td>INVALID_ARGUMENT, DECODE_FAILURE, naming the method and the decoder's reason</td></tr>
 *   <tr><td>a unary call of no message, or of more than one</td>
 *       <td>the same, at the request's end, naming how many; the call does not run</td></tr>
 * </table>
 *
 * <h2>Design</h2>
 * Vert.x's gRPC server (5.0.7) takes these requests badly: it inflates a gzip message with no
 * bound (a 3 MB message of zeros becomes 3 GB, held until the heap or direct memory runs out, so
 * every other call of the moment can fail too); it throws {@code UnsupportedOperationException}
 * on the event loop for a message flagged compressed with no {@code grpc-encoding}, or with an
 * encoding it lacks, logs it with a stack trace and never answers the call; and it cancels the
 * stream, with no status, when a message does not decode. None of jipam's clients compresses, so
 * jipamd refuses compression, as the gRPC spec asks of a server for an encoding it does not
 * take, and tells the caller which it does.
 *
 * <p>Stateless; the handlers run on the request's event loop.
 */
public final class GrpcIntake {
  static final String ENCODING = "grpc-encoding";
  static final String ACCEPT_ENCODING = "grpc-accept-encoding";
  static final String IDENTITY = "identity";

  private GrpcIntake() {}

  /**
   * {@code grpc}, taking only requests whose messages are uncompressed: a request naming another
   * encoding is answered here; a request naming none is marked {@code identity}, which is what no
   * encoding means; and every answer says {@code grpc-accept-encoding: identity}.
   */
  public static Handler<HttpServerRequest> uncompressedOnly(Handler<HttpServerRequest> grpc) {
    return req -> {
      String encoding = req.getHeader(ENCODING);
      if (encoding != null && !encoding.equals(IDENTITY)) { // gRPC on HTTP/2, or gRPC-Web on HTTP/1.1 too
        String type = req.getHeader("content-type");
        refuse(req.response(), type != null && type.startsWith("application/grpc") ? type : "application/grpc", encoding);
        return;
      }
      if (encoding == null) {
        req.headers().set(ENCODING, IDENTITY);
      }
      HttpServerResponse response = req.response();
      // Vert.x says gzip on HTTP/2 and nothing on gRPC-Web
      response.headersEndHandler(v -> response.headers().set(ACCEPT_ENCODING, IDENTITY));
      grpc.handle(req);
    };
  }

  /**
   * Hands the one message of the unary call {@code request} to {@code handler}, decoded as {@code
   * method}'s request, once the client has sent the whole request (half-closed), so each call runs
   * once. A message that does not decode is refused at once; no message, or more than one, is
   * refused at the request's end: {@code refused} gets a {@code DECODE_FAILURE} naming the method
   * (and answers it), and {@code handler} is not called. Messages after the first are counted, not
   * decoded. Sets the request's message and end handlers; both run on its event loop.
   */
  public static <Req, Resp> void onMessage(GrpcServerRequest<Req, Resp> request, ServiceMethod<Req, Resp> method,
      Handler<Req> handler, Handler<IpamException> refused) {
    Unary<Req> call = new Unary<>();
    request.messageHandler(raw -> {
      if (call.refused || ++call.messages > 1) {
        return;
      }
      try {
        call.message = decode(method, raw);
      } catch (IpamException e) {
        call.refused = true;
        refused.handle(e);
      }
    });
    request.endHandler(v -> {
      if (call.refused) {
        return;
      }
      if (call.messages == 1) {
        handler.handle(call.message);
      } else {
        refused.handle(new IpamException(ErrorCode.DECODE_FAILURE, method.fullMethodName() + " request has "
            + (call.messages == 0 ? "no message" : call.messages + " messages") + ": a unary call takes exactly one"));
      }
    });
  }

  /** What a unary call has sent so far; used on its event loop only. */
  private static final class Unary<Req> {
    Req message;
    long messages;
    boolean refused;
  }

  /**
   * Runs {@code answer}, which ends a call's response, unless the call has ended already: its
   * deadline passed (Vert.x answered DEADLINE_EXCEEDED) or the client cancelled or reset it.
   * Then the answer is dropped, with no exception for Vert.x to log, and this returns false.
   * Called on the call's event loop.
   */
  public static boolean end(Runnable answer) {
    try {
      answer.run();
      return true;
    } catch (IllegalStateException ended) { // "The stream has been closed", "Trailers already sent"
      return false;
    }
  }

  /** The message decoded as {@code method}'s request; DECODE_FAILURE when it is compressed or does not decode. */
  static <Req> Req decode(ServiceMethod<Req, ?> method, GrpcMessage raw) {
    if (!IDENTITY.equals(raw.encoding())) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, method.fullMethodName() + " request is compressed ("
          + Printable.quote(raw.encoding()) + "): jipamd takes uncompressed messages only");
    }
    try {
      return method.decoder().decode(raw);
    } catch (RuntimeException e) { // CodecException, or what a decoder throws on hostile bytes
      Throwable reason = e.getCause() != null ? e.getCause() : e;
      throw new IpamException(ErrorCode.DECODE_FAILURE, method.fullMethodName() + " request of "
          + raw.payload().length() + " bytes is not a valid message: "
          + Printable.quote(String.valueOf(reason.getMessage())), e);
    }
  }

  /** Answers the call at once, trailers only, in its own content type: UNIMPLEMENTED for the encoding. */
  private static void refuse(HttpServerResponse response, String contentType, String encoding) {
    IpamException e = new IpamException(ErrorCode.DECODE_FAILURE, "grpc-encoding " + Printable.quote(encoding)
        + " is not taken: jipamd takes uncompressed messages only (grpc-encoding identity)");
    response.putHeader("content-type", contentType)
        .putHeader(ACCEPT_ENCODING, IDENTITY)
        .putHeader("grpc-status", Integer.toString(GrpcStatus.UNIMPLEMENTED.code))
        .putHeader("grpc-message", percentEncoded(e.getMessage()))
        .putHeader(GrpcErrors.DETAILS_TRAILER, GrpcErrors.details(GrpcStatus.UNIMPLEMENTED, e))
        .end();
  }

  /** {@code grpc-message}'s encoding: UTF-8, every byte outside {@code ' '..'~'} and {@code '%'} as {@code %XX}. */
  static String percentEncoded(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c >= ' ' && c <= '~' && c != '%') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }
}
