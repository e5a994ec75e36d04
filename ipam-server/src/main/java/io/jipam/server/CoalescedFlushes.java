package io.jipam.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.vertx.core.http.HttpConnection;

/**
 * One socket write for the answers an event loop writes in one go on an HTTP/2 connection, not one
 * per answer. Calls answered together (an etcd transaction answers every change it carried, and
 * each answer is a task on the connection's event loop) each ended their stream with a flush, so
 * each cost a {@code writev} system call (and, under TLS, a record of its own); the profile of a
 * central jipamd had 12% of its CPU in {@code writev} alone. Netty's {@link
 * FlushConsolidationHandler}, put just below the HTTP/2 codec, turns those flushes into one, run as
 * the next task of the event loop (and at once after {@value #MOST_PENDING} flushes): the answers
 * wait at most for the tasks already queued before it. Flushes while a read is in progress are
 * joined at the end of the read, as Netty does there anyway.
 *
 * <p>Reaches the connection's Netty channel through Vert.x's connection class (its public
 * {@code channel()}); a connection of another kind is left as it is.
 */
final class CoalescedFlushes {
  /** Flushes after which the pending writes go out at once. */
  static final int MOST_PENDING = 64;

  private CoalescedFlushes() {}

  /** Installs the handler on an HTTP/2 connection just established (on its event loop). */
  static void install(HttpConnection connection) {
    if (!(connection instanceof io.vertx.core.net.impl.ConnectionBase base)) {
      return;
    }
    ChannelPipeline pipeline = base.channel().pipeline();
    ChannelHandlerContext codec = pipeline.context(Http2ConnectionHandler.class);
    if (codec != null && pipeline.get(FlushConsolidationHandler.class) == null) {
      pipeline.addBefore(codec.name(), "jipam-coalesced-flushes", new FlushConsolidationHandler(MOST_PENDING, true));
    }
  }
}
