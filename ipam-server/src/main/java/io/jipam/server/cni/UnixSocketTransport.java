package io.jipam.server.cni;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelOption;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.InternetProtocolFamily;
import io.vertx.core.net.ClientOptionsBase;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.util.concurrent.ThreadFactory;

/**
 * The transport Vert.x would pick (native when present, else NIO), with two changes to the
 * connections of jipamd's unix socket and one to every listener's stop; everything else is the
 * wrapped transport's. jipamd ships
 * Netty's native epoll transport (lib/server); it falls back to NIO where that library cannot load
 * (a {@code noexec} temp dir, another architecture). The native transport took about a tenth less
 * of a central jipamd's CPU per call than NIO (docs/benchmarks-jipamd.md, session 20).
 *
 * <ul>
 *   <li><b>The CNI call first.</b> Each connection's pipeline starts with a {@link CniFastPath},
 *       which serves the plugin's canonical CNI request without Vert.x's HTTP server and hands
 *       anything else on to it, whose handlers join the connection only then.
 *   <li><b>Half-closed connections kept open.</b> A client that sends its whole request and then
 *       shuts down its sending half ({@code shutdown(SHUT_WR)}) still gets its answer. Netty closes
 *       a connection at the end of its input unless half-closure is allowed, and its NIO
 *       domain-socket channel ignores {@code ALLOW_HALF_CLOSURE} (4.2: only TCP channels honour
 *       it), so the call ran and its answer was lost. Here the end of input on a domain-socket
 *       connection stops reading from it instead ({@link EndOfInputHandle}): what arrived is
 *       served, the answer is written, and the connection closes as it would have (after the
 *       answer, or by the idle timeout).
 *   <li><b>Quiet refusal at stop.</b> After {@link #stopAccepting}, every server (unix socket and
 *       TCP) closes a connection it accepts before handing it to Vert.x. Vert.x removes a stopping
 *       server's event loops before its listener closes; a connection accepted in between could not
 *       be registered, and Netty logged that with a stack trace on every busy stop. The client sees
 *       the connection closed unanswered, as it would have then (the shim: CNI error 11, try again).
 * </ul>
 */
public final class UnixSocketTransport implements io.vertx.core.transport.Transport {
  private final io.vertx.core.transport.Transport base;
  private final Spi spi;
  /** Set by {@link #stopAccepting}: connections accepted from then on are closed at once. */
  private final java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();

  private UnixSocketTransport(io.vertx.core.transport.Transport base, CniEndpoint cni, boolean acceptOnEventLoop) {
    this.base = base;
    this.spi = new Spi(base.implementation(), cni, stopping, acceptOnEventLoop);
  }

  /**
   * From now on, every server on this transport closes the connections it accepts, unanswered,
   * before Vert.x sees them; connections accepted earlier are served as before. For a stop: call it
   * before the servers' shutdown. Thread-safe; idempotent.
   */
  public void stopAccepting() {
    stopping.set(true);
    spi.refuse.drain();
  }

  /**
   * The wrapped default transport, its unix-socket connections serving CNI calls on {@code cni}
   * first. With {@code acceptOnEventLoop} (a node's jipamd on one event loop) Vert.x's acceptor
   * group is its event loop group: a connection is accepted on the loop that serves it, with no
   * hand-off between two threads (5 to 7 % less CPU per CNI call, and its own time about 0.12 ms
   * less at the median: docs/benchmarks-shim.md, session 26).
   */
  public static UnixSocketTransport wrapDefault(CniEndpoint cni, boolean acceptOnEventLoop) {
    io.vertx.core.transport.Transport nativeOne = io.vertx.core.transport.Transport.nativeTransport();
    return wrap(nativeOne != null && nativeOne.available() ? nativeOne : io.vertx.core.transport.Transport.NIO,
        cni, acceptOnEventLoop);
  }

  /** {@code base}, its unix-socket connections serving CNI calls on {@code cni} first. */
  static UnixSocketTransport wrap(io.vertx.core.transport.Transport base, CniEndpoint cni, boolean acceptOnEventLoop) {
    return new UnixSocketTransport(base, java.util.Objects.requireNonNull(cni, "cni"), acceptOnEventLoop);
  }

  @Override
  public String name() {
    return base.name();
  }

  @Override
  public boolean available() {
    return base.available();
  }

  @Override
  public Throwable unavailabilityCause() {
    return base.unavailabilityCause();
  }

  @Override
  public io.vertx.core.spi.transport.Transport implementation() {
    return spi;
  }

  /**
   * Reports the end of input (a read of -1) as a read of nothing, after turning the connection's
   * auto-read off: the channel then stops reading instead of closing, and stays open for the
   * answer. A connection is closed later by the server as usual (after a {@code Connection:
   * close} answer, or by the idle timeout). A connection that ends before it sent a byte has
   * nothing to answer and closes at once, as Netty closes it (before, each one of a probe or a
   * client that gave up held its descriptor until the idle timeout, and a few thousand of them
   * ran jipamd out of descriptors). An {@link RecvByteBufAllocator.ExtendedHandle}, as the
   * epoll transport requires of every handle (its config throws on any other; with a plain
   * delegating handle the shim's calls on epoll were reset unanswered).
   */
  static final class EndOfInputHandle extends RecvByteBufAllocator.DelegatingHandle
      implements RecvByteBufAllocator.ExtendedHandle {
    private ChannelConfig config;
    private boolean received;

    EndOfInputHandle(RecvByteBufAllocator.Handle delegate) {
      super(delegate);
    }

    @Override
    public void reset(ChannelConfig config) {
      this.config = config;
      super.reset(config);
    }

    @Override
    public void lastBytesRead(int bytes) {
      if (bytes < 0 && config != null && received) {
        config.setAutoRead(false);
        super.lastBytesRead(0);
      } else {
        received |= bytes > 0;
        super.lastBytesRead(bytes);
      }
    }

    @Override
    public boolean continueReading(io.netty.util.UncheckedBooleanSupplier maybeMoreDataSupplier) {
      return delegate() instanceof RecvByteBufAllocator.ExtendedHandle extended
          ? extended.continueReading(maybeMoreDataSupplier) : delegate().continueReading();
    }
  }

  /**
   * On the listening channel, before Netty's acceptor: closes each accepted connection once the
   * transport is stopping, without handing it on (Netty's acceptor would log the failed
   * registration with a stack trace). Shared by the listeners of one transport.
   */
  @ChannelHandler.Sharable
  static final class RefuseWhenStopping extends ChannelInboundHandlerAdapter {
    private final java.util.concurrent.atomic.AtomicBoolean stopping;
    /** The event loops of the listening channels this handler is on: their acceptors. */
    private final java.util.Set<io.netty.channel.EventLoop> acceptors =
        java.util.concurrent.ConcurrentHashMap.newKeySet();

    RefuseWhenStopping(java.util.concurrent.atomic.AtomicBoolean stopping) {
      this.stopping = stopping;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      acceptors.add(ctx.channel().eventLoop());
    }

    /**
     * Once {@code stopping} is set: waits (at most a second each) until every acceptor has finished
     * the connection it may have been handing on when the flag was set, so that the servers'
     * shutdown cannot take the event loops away from a registration already under way (Netty
     * logged that with a stack trace: a race this closes). Not from an acceptor's own thread.
     */
    void drain() {
      for (io.netty.channel.EventLoop loop : acceptors) {
        if (!loop.inEventLoop() && !loop.isShuttingDown()) {
          loop.submit(() -> { }).awaitUninterruptibly(1000);
        }
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (stopping.get() && msg instanceof Channel accepted) {
        accepted.unsafe().closeForcibly(); // not registered yet: closing is all there is to do
        return;
      }
      ctx.fireChannelRead(msg);
    }
  }

  /**
   * Delegates every call; on every server, refuses connections once stopping ({@link
   * RefuseWhenStopping}); on a domain-socket server, keeps half-closed connections open and serves
   * each connection with a {@link CniFastPath}, which adds the handlers Vert.x sets up (its child
   * handler, set before this is asked to configure the bootstrap) only when it hands a connection on.
   */
  private static final class Spi implements io.vertx.core.spi.transport.Transport {
    private final io.vertx.core.spi.transport.Transport d;
    private final CniEndpoint cni;
    final RefuseWhenStopping refuse;

    Spi(io.vertx.core.spi.transport.Transport d, CniEndpoint cni, java.util.concurrent.atomic.AtomicBoolean stopping,
        boolean acceptOnEventLoop) {
      this.d = d;
      this.cni = cni;
      this.refuse = new RefuseWhenStopping(stopping);
      this.acceptOnEventLoop = acceptOnEventLoop;
    }

    @Override
    public void configure(NetServerOptions options, boolean domainSocket, ServerBootstrap bootstrap) {
      d.configure(options, domainSocket, bootstrap);
      ChannelHandler listening = bootstrap.config().handler(); // Vert.x's own, if it sets one
      bootstrap.handler(new ChannelInitializer<Channel>() {
        @Override
        protected void initChannel(Channel ch) {
          if (listening != null) {
            ch.pipeline().addLast(listening);
          }
          ch.pipeline().addLast("jipam-refuse-when-stopping", refuse);
        }
      });
      if (domainSocket) {
        Object configured = bootstrap.config().childOptions().get(ChannelOption.RCVBUF_ALLOCATOR);
        RecvByteBufAllocator base = configured instanceof RecvByteBufAllocator r ? r : new AdaptiveRecvByteBufAllocator();
        bootstrap.childOption(ChannelOption.RCVBUF_ALLOCATOR, (RecvByteBufAllocator) () ->
            new EndOfInputHandle(base.newHandle()));
        ChannelHandler vertx = bootstrap.config().childHandler();
        if (vertx == null) {
          throw new IllegalStateException("Vert.x set no child handler before configuring the unix socket's server");
        }
        java.time.Duration idle = java.time.Duration.ofMillis(options.getIdleTimeoutUnit().toMillis(options.getIdleTimeout()));
        bootstrap.childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast("jipam-cni", new CniFastPath(cni, vertx, idle)); // Vert.x's only when handed on
          }
        });
      }
    }

    @Override
    public void configure(ClientOptionsBase options, int connectTimeout, boolean domainSocket,
        io.netty.bootstrap.Bootstrap bootstrap) {
      d.configure(options, connectTimeout, domainSocket, bootstrap);
    }

    @Override
    public void configure(DatagramChannel channel, io.vertx.core.datagram.DatagramSocketOptions options) {
      d.configure(channel, options);
    }

    @Override
    public boolean supportsDomainSockets() {
      return d.supportsDomainSockets();
    }

    @Override
    public boolean supportFileRegion() {
      return d.supportFileRegion();
    }

    @Override
    public boolean isAvailable() {
      return d.isAvailable();
    }

    @Override
    public Throwable unavailabilityCause() {
      return d.unavailabilityCause();
    }

    @Override
    public java.net.SocketAddress convert(SocketAddress address) {
      return d.convert(address);
    }

    @Override
    public SocketAddress convert(java.net.SocketAddress address) {
      return d.convert(address);
    }

    @Override
    public IoHandlerFactory ioHandlerFactory() {
      return d.ioHandlerFactory();
    }

    /** Whether Vert.x's acceptor group is its event loop group ({@link #wrapDefault}). */
    private final boolean acceptOnEventLoop;
    /** The event loop group Vert.x asked for (it asks before the acceptor group). */
    private EventLoopGroup ioGroup;

    @Override
    public EventLoopGroup eventLoopGroup(int type, int threads, ThreadFactory factory, int ioRatio) {
      if (acceptOnEventLoop && type == io.vertx.core.spi.transport.Transport.ACCEPTOR_EVENT_LOOP_GROUP
          && ioGroup != null) {
        return ioGroup; // shut down twice at Vert.x's close: the second is a no-op
      }
      EventLoopGroup group = d.eventLoopGroup(type, threads, factory, ioRatio);
      if (type == io.vertx.core.spi.transport.Transport.IO_EVENT_LOOP_GROUP) {
        ioGroup = group;
      }
      return group;
    }

    @Override
    public DatagramChannel datagramChannel() {
      return d.datagramChannel();
    }

    @Override
    public DatagramChannel datagramChannel(InternetProtocolFamily family) {
      return d.datagramChannel(family);
    }

    @Override
    public ChannelFactory<? extends io.netty.channel.Channel> channelFactory(boolean domainSocket) {
      return d.channelFactory(domainSocket);
    }

    @Override
    public ChannelFactory<? extends ServerChannel> serverChannelFactory(boolean domainSocket) {
      return d.serverChannelFactory(domainSocket);
    }
  }
}
