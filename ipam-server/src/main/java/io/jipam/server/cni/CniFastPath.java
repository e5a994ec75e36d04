package io.jipam.server.cni;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The plugin's CNI call served straight from the bytes of a unix-socket connection, without Vert.x's
 * HTTP server, when the connection's first read brings exactly the request both clients send (the
 * shim and the JVM plugin's daemon client): one {@code POST /cni/v1 HTTP/1.1} with a {@code
 * Content-Length}, {@code Connection: close}, and its whole body, nothing more. Anything else, or a
 * request that has not arrived whole by the end of that first read, is handed on unchanged, every
 * byte of it, to the HTTP server behind this handler ({@link CniEndpoint#handle}, gRPC), which
 * serves it as it serves every request: its bounds, time limits and error answers are all still
 * that server's.
 *
 * <h2>Design</h2>
 * A CNI call through Vert.x cost a node's jipamd about 0.06 ms of its event loop's time decoding the
 * request into HTTP objects and 0.12 ms writing the answer through them (a profile and a split of
 * the call, docs/benchmarks-shim.md, session 11): most of what the call cost beside the file store's
 * own work. The canonical request is
 * small and arrives in one write, so its first read is almost always the whole of it; the answer is
 * the same bytes Vert.x writes for that request: status 200, {@code Jipam-Exit}, {@code connection:
 * close}, {@code content-length} and the body, after which the connection is closed. Taking only
 * complete requests in the first read keeps this handler free of time bounds: a client that
 * trickles or stops never reaches it.
 *
 * <p>The HTTP server's handlers join the pipeline only when a connection is handed on ({@code
 * server}, added behind this handler and told the connection is active, as at its accept): setting
 * them up for every connection cost a node's jipamd about 0.03 ms of its event loop per CNI call
 * (a profile, session 27) and their close path as much again, for connections they never serve.
 * Until then this handler bounds the connection itself: one that sends nothing whole for {@code
 * idle} is closed, as the server's idle timeout would have.
 *
 * <p>One instance per connection, first in its pipeline; used on the connection's event loop only
 * (the answer may come from a worker: it is written through the channel, which hands it over).
 */
final class CniFastPath extends ChannelInboundHandlerAdapter {
  /** The request line both clients send. */
  private static final byte[] REQUEST_LINE = "POST /cni/v1 HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
  /** The most the request line and headers may take here: Vert.x's default limit on headers. */
  static final int MAX_HEAD = 8192;

  private final CniEndpoint cni;
  /** The HTTP server's handler, added at the hand-over; null when it is in the pipeline already. */
  private final io.netty.channel.ChannelHandler server;
  /** How long a connection may wait for its request before it is closed (with {@code server} only). */
  private final long idleNanos;
  private io.netty.util.concurrent.ScheduledFuture<?> idle;
  private ByteBuf burst;
  private long start;
  /** The request was taken here: nothing more is read or passed on. */
  private boolean taken;

  /** In front of handlers that are in the pipeline already. */
  CniFastPath(CniEndpoint cni) {
    this(cni, null, java.time.Duration.ZERO);
  }

  /** In front of {@code server}, which joins the pipeline when a connection is handed on. */
  CniFastPath(CniEndpoint cni, io.netty.channel.ChannelHandler server, java.time.Duration idle) {
    this.cni = cni;
    this.server = server;
    this.idleNanos = idle.toNanos();
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    if (server != null && idleNanos > 0) {
      idle = ctx.executor().schedule(() -> {
        if (!taken) {
          ctx.close(); // nothing whole arrived within the idle timeout, and no one else bounds it yet
        }
      }, idleNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }
    ctx.fireChannelActive();
  }

  /**
   * A connection still without the server's handlers (reset while its call ran, say) ends here
   * quietly rather than at the pipeline's tail, which logs it as unhandled.
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (server != null && ctx.pipeline().last() == this) {
      ctx.close();
    } else {
      ctx.fireExceptionCaught(cause);
    }
  }

  private void cancelIdle() {
    if (idle != null) {
      idle.cancel(false);
      idle = null;
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (taken) {
      ReferenceCountUtil.release(msg); // one request per connection: its answer is on its way
      return;
    }
    if (!(msg instanceof ByteBuf in)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (burst == null) {
      start = System.nanoTime();
      burst = in;
    } else {
      burst = ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), burst, in);
    }
    if (!startsLikeTheRequest(burst)) {
      handOver(ctx);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (taken) {
      return;
    }
    if (burst == null) {
      ctx.fireChannelReadComplete();
      return;
    }
    Request request = Request.of(burst);
    if (request == null) {
      handOver(ctx);
      ctx.fireChannelReadComplete();
      return;
    }
    taken = true;
    cancelIdle(); // the call's own time bound answers it
    ctx.channel().config().setAutoRead(false); // one request per connection
    byte[] body = new byte[request.length()];
    burst.getBytes(request.bodyStart(), body);
    burst.release();
    burst = null;
    long started = start;
    cni.serve(body, started, request.deadline(), reply -> ctx.writeAndFlush(answer(ctx, reply.output(), reply.exit()))
        .addListener((ChannelFutureListener) written -> {
          if (!written.isSuccess()) {
            cni.unanswered(reply, started); // the client gave up (its time bound) or was killed
          }
          written.channel().close();
        }));
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    release();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    release();
    cancelIdle();
    ctx.fireChannelInactive();
  }

  private void release() {
    if (burst != null) {
      burst.release();
      burst = null;
    }
  }

  /**
   * Passes what arrived on to the HTTP server behind this handler (first adding its handlers, told
   * the connection is active), and leaves the pipeline.
   */
  private void handOver(ChannelHandlerContext ctx) {
    ByteBuf what = burst;
    burst = null;
    cancelIdle();
    if (server != null) {
      ctx.pipeline().addAfter(ctx.name(), null, server);
      ctx.fireChannelActive();
    }
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(what);
  }

  /** Whether the bytes so far could still be the request line (all of them, or its start). */
  private static boolean startsLikeTheRequest(ByteBuf buf) {
    int n = Math.min(buf.readableBytes(), REQUEST_LINE.length);
    int at = buf.readerIndex();
    for (int i = 0; i < n; i++) {
      if (buf.getByte(at + i) != REQUEST_LINE[i]) {
        return false;
      }
    }
    return true;
  }

  /** The answer as Vert.x writes it to a {@code Connection: close} request. */
  static ByteBuf answer(ChannelHandlerContext ctx, byte[] output, int exit) {
    byte[] head = ("HTTP/1.1 200 OK\r\nJipam-Exit: " + exit + "\r\nconnection: close\r\ncontent-length: "
        + output.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    ByteBuf out = ctx.alloc().buffer(head.length + output.length);
    return out.writeBytes(head).writeBytes(output);
  }

  /**
   * A whole canonical request: where its body starts in the buffer and how long it is.
   *
   * @param bodyStart absolute index of the body's first byte
   * @param deadline its {@code Jipam-Deadline} (milliseconds since the epoch), 0 when it has none or
   *     one that is not a number ({@link CniEndpoint#deadline})
   */
  record Request(int bodyStart, int length, long deadline) {
    /**
     * The request the buffer holds, or null when it holds anything else: another method, path or
     * version; no end of headers within {@link #MAX_HEAD}; a header line without a colon or folded;
     * no {@code Content-Length}, two, or one that is not digits or over {@link CniEndpoint#MAX_BODY};
     * no {@code Connection: close}; a {@code Transfer-Encoding}, {@code Expect} or {@code Upgrade};
     * fewer or more bytes than the headers and the body.
     */
    static Request of(ByteBuf buf) {
      int from = buf.readerIndex();
      int end = buf.writerIndex();
      if (end - from < REQUEST_LINE.length || !startsLikeTheRequest(buf)) {
        return null;
      }
      int line = from + REQUEST_LINE.length;
      long length = -1;
      long deadline = 0;
      boolean close = false;
      while (true) {
        int eol = lineEnd(buf, line, Math.min(end, from + MAX_HEAD));
        if (eol < 0) {
          return null;
        }
        if (eol == line) { // the empty line: end of headers
          int bodyStart = eol + 2;
          if (length < 0 || !close || end - bodyStart != length) {
            return null;
          }
          return new Request(bodyStart, (int) length, deadline);
        }
        String text = buf.toString(line, eol - line, StandardCharsets.ISO_8859_1);
        int colon = text.indexOf(':');
        if (colon <= 0 || text.charAt(0) == ' ' || text.charAt(0) == '\t') {
          return null;
        }
        String name = text.substring(0, colon).toLowerCase(Locale.ROOT);
        String value = text.substring(colon + 1).strip();
        switch (name) {
          case "content-length" -> {
            if (length >= 0 || value.isEmpty() || value.length() > 10 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
              return null;
            }
            length = Long.parseLong(value);
            if (length > CniEndpoint.MAX_BODY) {
              return null;
            }
          }
          case "connection" -> close = value.equalsIgnoreCase("close");
          case "jipam-deadline" -> deadline = CniEndpoint.deadline(value);
          case "transfer-encoding", "expect", "upgrade" -> {
            return null;
          }
          default -> {
            if (name.indexOf(' ') >= 0 || name.indexOf('\t') >= 0) {
              return null;
            }
          }
        }
        line = eol + 2;
      }
    }

    /** Index of the CR of the next CRLF at or after {@code from} and before {@code limit}, or -1. */
    private static int lineEnd(ByteBuf buf, int from, int limit) {
      for (int i = from; i + 1 < limit; i++) {
        byte b = buf.getByte(i);
        if (b == '\r') {
          return buf.getByte(i + 1) == '\n' ? i : -1;
        }
        if (b == '\n') {
          return -1; // a bare LF: not the clients' request
        }
      }
      return -1;
    }
  }
}
