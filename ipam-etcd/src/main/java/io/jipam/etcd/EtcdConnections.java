package io.jipam.etcd;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.KV;
import io.grpc.netty.GrpcSslContexts;
import io.jipam.core.IpamException;
import io.jipam.core.tls.PemKeys;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import javax.net.ssl.X509KeyManager;

/**
 * The connection an {@link EtcdClient}'s calls go out on, replaced by a new one after a call got no
 * answer by its deadline ({@link #afterTimeout}), and closed with every connection it replaced.
 *
 * <h2>Why a timeout replaces the connection</h2>
 * A member that hangs with its connections open (a paused process, a frozen machine) stays in the
 * client's round robin, and a store whose calls come in a fixed rhythm (a failed commit, then a
 * lease grant that lands on the same member each time) found no other member for as long as gRPC's
 * keep-alive takes to give up on that connection (10 s + 5 s): no call succeeded for about 15 s
 * though the other members had elected a leader within one. A new channel's connection to a hung
 * member never completes its HTTP/2 handshake, so the new channel sends every call to the others
 * until it answers again. Only with several endpoints, and at most once per store timeout (at least
 * 1 s). The replaced connection stays open for calls already sent on it (and the lease keep-alives
 * it carries) for another such period, then is closed; a call still waiting on it then ends as
 * cancelled (TRY_AGAIN_LATER, its outcome unknown, as after a timeout).
 *
 * <p>Thread-safe: {@link #current} is a volatile read; replacing and closing hold this object's
 * lock, and no connection is closed under it.
 */
final class EtcdConnections implements AutoCloseable {
  /** How long {@link #close} waits for the connections' event loops to end. */
  static final long CLOSE_WAIT_MILLIS = 2_000;
  /**
   * gRPC's channel logger, kept (a JUL logger nobody references can be collected with its filter),
   * with a filter that drops one record: the "Panic!" a channel logs when its shutdown, still going
   * on as jetcd closes the Vert.x right after it (see {@link Connection#close}), finds the event
   * loop it would flush its goodbye on already terminated.
   * Nothing is lost then (the connection is being closed), and the plugin's stderr must stay empty.
   * Every other record passes.
   */
  private static final java.util.logging.Logger CHANNEL_LOG = quietAboutTerminatedLoops(
      java.util.logging.Logger.getLogger("io.grpc.internal.ManagedChannelImpl"));

  private static java.util.logging.Logger quietAboutTerminatedLoops(java.util.logging.Logger log) {
    java.util.logging.Filter previous = log.getFilter();
    log.setFilter(r -> {
      Throwable t = r.getThrown();
      if (t instanceof java.util.concurrent.RejectedExecutionException
          && "event executor terminated".equals(t.getMessage())) {
        return false;
      }
      return previous == null || previous.isLoggable(r);
    });
    return log;
  }

  /** What a new connection is built from; used under this object's lock. */
  private final ClientBuilder builder;
  /** The connection every call starts on: read once per call. */
  private volatile Connection conn;
  /** Connections a reconnect replaced, closed once every call that could still be on them has ended. */
  private final Set<Connection> replaced = ConcurrentHashMap.newKeySet();
  /** When the connection was last replaced (nanoTime); guarded by this object's lock. */
  private long reconnectedAt;
  /** The least time between two reconnects, and how long a replaced connection stays open. */
  private final long reconnectGapNanos;
  private final boolean severalEndpoints;
  private boolean closed;
  private final LongSupplier nanoTime;

  /**
   * Opens the first connection to the config's endpoints, with its TLS and authentication; jetcd
   * starts each call on {@code starter}.
   *
   * @throws IpamException {@code INVALID_CONFIG} when the TLS files cannot be loaded
   */
  EtcdConnections(EtcdStoreConfig config, ExecutorService starter, LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.builder = builder(config, starter);
    this.severalEndpoints = config.endpoints().size() > 1;
    this.reconnectGapNanos = Math.max(1_000_000_000L, config.timeout().toNanos());
    this.reconnectedAt = nanoTime.getAsLong() - reconnectGapNanos;
    this.conn = Connection.open(builder);
  }

  private static ClientBuilder builder(EtcdStoreConfig config, ExecutorService starter) {
    ClientBuilder builder = Client.builder()
        .endpoints(config.endpoints().toArray(String[]::new))
        .connectTimeout(config.timeout())
        .retryMaxDuration(config.timeout())
        // jetcd's retry policy needs delay < max delay < max duration; its defaults (500 ms,
        // 2.5 s) exceed short timeouts, which the config allows down to 100 ms
        .retryDelay(retryDelayMillis(config.timeout()))
        .retryMaxDelay(2 * retryDelayMillis(config.timeout()))
        .keepaliveTime(java.time.Duration.ofSeconds(10))
        .keepaliveTimeout(java.time.Duration.ofSeconds(5))
        .maxInboundMessageSize(256 * 1024 * 1024)
        // each call starts on the caller's thread, not with a hand-off to a pool thread
        .executorService(starter);
    if (config.tls() != null) {
      try {
        SslContextBuilder ssl = GrpcSslContexts.forClient();
        if (config.tls().ca() != null) {
          ssl.trustManager(config.tls().ca().toFile());
        }
        if (config.tls().cert() != null) {
          X509KeyManager pem = pemKeys(config.tls().cert(), config.tls().key());
          if (pem != null) {
            ssl.keyManager(PemKeys.factory(pem));
          } else { // Netty reads them, or names what is wrong
            ssl.keyManager(config.tls().cert().toFile(), config.tls().key().toFile());
          }
        }
        builder.sslContext(ssl.build());
      } catch (Exception e) {
        throw IpamException.invalidConfig("etcd tls: cannot load %s: %s (the key must be PEM PKCS#8)",
            config.tls(), e.getMessage());
      }
    }
    if (config.user() != null) {
      builder.user(io.etcd.jetcd.ByteSequence.from(config.user(), StandardCharsets.UTF_8))
          .password(io.etcd.jetcd.ByteSequence.from(config.password(), StandardCharsets.UTF_8));
    }
    return builder;
  }

  /** The first retry delay: jetcd's 500 ms, or less so that two delays fit in {@code timeout}. */
  static long retryDelayMillis(java.time.Duration timeout) {
    return Math.max(1, Math.min(500, timeout.toMillis() / 4));
  }

  /**
   * One jetcd client and the Vert.x it runs on, made here so that {@link #close} can wait for its
   * event loops to end (jetcd closes the Vert.x it is given with the client, so each connection has
   * its own). The Vert.x is taken as {@code VertxInternal} (Vert.x's integration interface, which
   * every Vert.x it makes implements) for its event-loop groups.
   */
  record Connection(Client client, io.vertx.core.internal.VertxInternal vertx, KV kv, io.etcd.jetcd.Lease leases) {
    static Connection open(ClientBuilder builder) {
      // no class-path file cache: jipam serves no files, and Vert.x would otherwise make a
      // vertx-cache-* dir in java.io.tmpdir that a killed process leaves behind
      io.vertx.core.internal.VertxInternal vertx = (io.vertx.core.internal.VertxInternal) io.vertx.core.Vertx.vertx(
          new io.vertx.core.VertxOptions().setFileSystemOptions(new io.vertx.core.file.FileSystemOptions()
              .setClassPathResolvingEnabled(false).setFileCachingEnabled(false)));
      try {
        Client client = builder.vertx(vertx).build();
        return new Connection(client, vertx, client.getKVClient(), client.getLeaseClient());
      } catch (RuntimeException e) {
        vertx.close();
        throw e;
      }
    }

    /**
     * Closes it; returns the future of its event loops' end. The client goes first, while the
     * loops still run: its channel's shutdown may start a transport a call had asked for (a
     * subchannel that was idle), and on ended loops Netty refuses that registration and logs a
     * warning with a stack trace. jetcd's close then closes the Vert.x, whose loops end once they
     * have run what is queued on them.
     */
    java.util.concurrent.CompletableFuture<Void> close() {
      try {
        client.close(); // shuts the channel down, then closes the Vert.x
      } finally {
        vertx.close(); // at once when jetcd closed it already
      }
      return java.util.concurrent.CompletableFuture.allOf(
          ended(vertx.eventLoopGroup()), ended(vertx.acceptorEventLoopGroup()));
    }

    private static java.util.concurrent.CompletableFuture<Void> ended(io.netty.channel.EventLoopGroup loops) {
      java.util.concurrent.CompletableFuture<Void> ended = new java.util.concurrent.CompletableFuture<>();
      loops.terminationFuture().addListener(f -> ended.complete(null));
      return ended;
    }
  }

  /** The connection a call starts on now. */
  Connection current() {
    return conn;
  }

  /**
   * After a call got no answer by its deadline: replaces the connection with a new one (see the
   * class's javadoc for when and why) and closes the replaced one a period later.
   */
  void afterTimeout() {
    Connection old;
    synchronized (this) {
      long now = nanoTime.getAsLong();
      if (!severalEndpoints || closed || now - reconnectedAt < reconnectGapNanos) {
        return;
      }
      reconnectedAt = now;
      old = conn;
      try {
        conn = Connection.open(builder);
      } catch (RuntimeException e) {
        return; // the old connection goes on; the next timeout tries again
      }
      replaced.add(old);
    }
    CompletableFuture.delayedExecutor(reconnectGapNanos, TimeUnit.NANOSECONDS).execute(() -> {
      if (replaced.remove(old)) {
        old.close();
      }
    });
  }

  /**
   * Closes the connection (and any a reconnect replaced) and waits (at most {@value
   * #CLOSE_WAIT_MILLIS} ms) until their event loops have ended. Why wait: jetcd only starts closing
   * its Vert.x, and a JVM that exits while threads sit in native code (the event loops' {@code
   * epoll_wait}) waits up to 300 ms for them: a plugin call on etcd printed its result and then
   * spent 0.3 s exiting. No reconnect after this.
   */
  @Override
  public void close() {
    // the connections are closed outside the lock: a caller waiting for one may hold a lease
    // slot's lock, which the end of a keep-alive closed here may need
    Connection last;
    synchronized (this) {
      closed = true;
      last = conn;
    }
    List<java.util.concurrent.CompletableFuture<Void>> ends = new ArrayList<>();
    ends.add(last.close());
    for (Connection old : List.copyOf(replaced)) {
      if (replaced.remove(old)) {
        ends.add(old.close());
      }
    }
    try {
      java.util.concurrent.CompletableFuture.allOf(ends.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
          .get(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // closed as far as it goes within the bound: the connections are shut either way
    }
  }

  /**
   * The client certificate and key as {@link PemKeys} reads them, or null when it cannot. Netty's
   * own reader's PKCS#12 round trip cost 61 ms of CPU per TLS context on C1, and 170 ms more for a
   * process's first (the JVM plugin's one call on etcd): an EC pair, measured against this.
   */
  private static X509KeyManager pemKeys(Path cert, Path key) {
    try {
      return PemKeys.keyManager(Files.readAllBytes(cert), Files.readAllBytes(key));
    } catch (IOException e) {
      return null;
    }
  }
}
