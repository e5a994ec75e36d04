package io.jipam.server;

import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.core.ErrorCode;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.capability.LocalCalls;
import io.jipam.core.store.capability.NeverBlocks;
import io.jipam.server.cni.CniEndpoint;
import io.jipam.server.cni.UnixSocketTransport;
import io.jipam.server.cni.UnixSocketFile;
import io.jipam.server.grpc.Access;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.grpc.Health;
import io.jipam.server.grpc.IpamEndpoint;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.CoalescedReads;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.metrics.MetricsEndpoint;
import io.jipam.server.pools.NodeStores;
import io.jipam.server.pools.PoolRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.reflection.ReflectionService;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A running jipamd: the {@code jipam.v1.Ipam} service over one {@link IpamStore}, on a unix socket
 * (mode 0600; there also the plugin's CNI call, see {@link CniEndpoint}) and/or TCP (TLS, mutual
 * when a client CA is set; plain only with {@code insecure}), with the standard health
 * ({@link Health}) and server reflection services beside it.
 *
 * <p>Time bounds ({@link Settings#idleTimeout}): a connection on which nothing is decoded for that
 * long is closed (the listener's idle timeout; it counts decoded HTTP messages and frames, not
 * bytes, so half a header trickled a byte at a time is cut too); a CNI request whose body is not
 * complete within it is answered CNI error 11 and closed ({@link CniEndpoint}). gRPC calls are
 * bounded by their deadlines.
 *
 * <p>Store calls run on a bounded worker pool, with these exceptions: every call on a store of
 * {@link NeverBlocks} (the memory store) and the CNI calls of the unix socket on a store of {@link
 * LocalCalls} run on the event loop that decoded them (the latter without waiting for a pool's lock:
 * a call that would wait goes to the workers, {@link CniEndpoint}), and gRPC
 * Allocate and Release on a store of {@code AsyncChanges} (etcd) are queued from the event loop, with
 * no worker waiting for their commit (as many at once as the workers and their queue hold). {@link #close} stops
 * accepting, lets in-flight calls finish within the shutdown bound, then closes the store: the
 * server owns the store it is given.
 *
 * <p>Design: this class wires the parts and owns their lifetime (start, then the one shutdown
 * bound of {@link #stop}); how each listener is made and bound is {@link Listeners}'.
 */
final class IpamServer implements AutoCloseable {
  private final Vertx vertx;
  private final List<HttpServer> servers;
  private final ThreadPoolExecutor workers;
  private final NodeStores store;
  private final Settings settings;
  private final HttpServer tcpServer;
  private final int tcpPort;
  private final int metricsPort;
  private final UnixSocketFile socketFile;
  private final MetricsEndpoint metricsEndpoint;
  private final CoalescedReads<Boolean> healthChecks;
  private final UnixSocketTransport transport;
  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  private IpamServer(Vertx vertx, List<HttpServer> servers, ThreadPoolExecutor workers, NodeStores store,
      Settings settings, HttpServer tcpServer, int tcpPort, int metricsPort, MetricsEndpoint metricsEndpoint,
      CoalescedReads<Boolean> healthChecks, UnixSocketFile socketFile, UnixSocketTransport transport) {
    this.transport = transport;
    this.tcpServer = tcpServer;
    this.metricsPort = metricsPort;
    this.metricsEndpoint = metricsEndpoint;
    this.healthChecks = healthChecks;
    this.socketFile = socketFile;
    this.vertx = vertx;
    this.servers = servers;
    this.workers = workers;
    this.store = store;
    this.settings = settings;
    this.tcpPort = tcpPort;
  }

  /** How jipamd listens and runs. */
  record Settings(Path socket, String tcpHost, int tcpPort, boolean insecure, Path tlsCert, Path tlsKey,
      Path clientCa, int workers, int queue, long maxMessageBytes, Duration shutdownBound,
      Duration idleTimeout, String nodeName) {
    /** Serving the node {@link NodeName#local} names. */
    Settings(Path socket, String tcpHost, int tcpPort, boolean insecure, Path tlsCert, Path tlsKey,
        Path clientCa, int workers, int queue, long maxMessageBytes, Duration shutdownBound, Duration idleTimeout) {
      this(socket, tcpHost, tcpPort, insecure, tlsCert, tlsKey, clientCa, workers, queue, maxMessageBytes,
          shutdownBound, idleTimeout, null);
    }

    /** The node this jipamd serves, which sub-pool node selectors of CNI calls match; null when unknown. */
    String node() {
      return nodeName != null ? nodeName : NodeName.local(System.getenv());
    }

    Settings {
      if (socket == null && tcpHost == null) {
        throw IpamException.invalidConfig("jipamd listens nowhere: give a unix socket or a TCP address");
      }
      if (tcpHost != null && !insecure && (tlsCert == null || tlsKey == null)) {
        throw IpamException.invalidConfig("TCP listener %s:%d without TLS: give --tls-cert and --tls-key,"
            + " or --insecure to serve plain TCP", tcpHost, tcpPort);
      }
      if (clientCa != null && (tlsCert == null || tlsKey == null)) {
        throw IpamException.invalidConfig("--client-ca %s needs --tls-cert and --tls-key", clientCa);
      }
      if (workers < 1 || queue < 1) {
        throw IpamException.invalidConfig("workers %d and queue %d must be at least 1", workers, queue);
      }
    }

    static Settings unix(Path socket) {
      return new Settings(socket, null, 0, false, null, null, null, 8, 1024, 4L << 20, Duration.ofSeconds(10),
          Duration.ofSeconds(30));
    }

    Settings withTcp(String host, int port, boolean insecure, Path cert, Path key, Path ca) {
      return new Settings(socket, host, port, insecure, cert, key, ca, workers, queue, maxMessageBytes,
          shutdownBound, idleTimeout, nodeName);
    }
  }

  static IpamServer start(IpamStore store, Settings settings, CallLog log) {
    return start(store, settings, log, null, 0);
  }

  /**
   * As {@link #start(IpamStore, Settings, CallLog)}, and with {@code metricsHost} not null also
   * serves {@code GET /metrics} (Prometheus text format, plain HTTP) on that host and port (0 picks
   * one: {@link #metricsPort}).
   */
  static IpamServer start(IpamStore store, Settings settings, CallLog log, String metricsHost, int metricsPort) {
    return start(NodeStores.single(store), CallerIdentity.noOperatorCa(), settings, log, metricsHost, metricsPort,
        new PoolRegistry());
  }

  /** As the next, knowing only the pools named by calls since start. */
  static IpamServer start(NodeStores stores, CallerIdentity identity, Settings settings, CallLog log,
      String metricsHost, int metricsPort) {
    return start(stores, identity, settings, log, metricsHost, metricsPort, new PoolRegistry());
  }

  /**
   * As {@link #start(IpamStore, Settings, CallLog, String, int)}, with calls served by caller
   * ({@link Access}): each call's caller established by {@code identity} (whose operator CA the TLS
   * listener also trusts), each node's calls on its store of {@code stores}, knowing the pools of
   * {@code pools}. The server owns the stores.
   */
  static IpamServer start(NodeStores stores, CallerIdentity identity, Settings settings, CallLog log,
      String metricsHost, int metricsPort, PoolRegistry pools) {
    IpamStore store = stores.base();
    ThreadPoolExecutor workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 60,
        TimeUnit.SECONDS, new ArrayBlockingQueue<>(settings.queue()), r -> {
          Thread t = new Thread(r, "jipamd-store");
          t.setDaemon(true);
          return t;
        });
    Metrics metrics = new Metrics();
    metrics.watchCommits(store);
    stores.onEachNodeStore(metrics::watchCommits);
    CniEndpoint cni = new CniEndpoint(store, pools, workers, log, metrics, settings.idleTimeout(),
        settings.node());
    // no class-path file cache: jipam serves no files, and Vert.x would otherwise make a
    // vertx-cache-* dir in java.io.tmpdir that a killed process leaves behind
    // a node's jipamd (a unix socket and no TCP listener: the runtime's CNI calls and jipamctl)
    // runs one event loop that also accepts; one with a TCP listener (a central jipamd) two, and
    // Vert.x's own acceptor thread
    boolean node = settings.socket() != null && settings.tcpHost() == null;
    UnixSocketTransport transport = UnixSocketTransport.wrapDefault(cni, node);
    Vertx vertx = Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(node ? 1 : 2).setWorkerPoolSize(1)
        .setFileSystemOptions(new FileSystemOptions().setClassPathResolvingEnabled(false).setFileCachingEnabled(false)))
        .withTransport(transport).build();
    GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions()
        .setMaxMessageSize(settings.maxMessageBytes())
        .setScheduleDeadlineAutomatically(true));
    IpamEndpoint endpoint = new IpamEndpoint(new Access(identity, stores), pools, workers,
        settings.workers() + settings.queue(), log, metrics,
        neverBlocks(store) ? IpamEndpoint.Dispatch.EVENT_LOOP : IpamEndpoint.Dispatch.WORKERS);
    grpc.addService(endpoint.service());
    CoalescedReads<Boolean> healthChecks = new CoalescedReads<>("jipamd-health", () -> Health.answers(store));
    grpc.addService(Health.service(healthChecks));
    grpc.addService(ReflectionService.v1());
    List<HttpServer> servers = new ArrayList<>();
    UnixSocketFile socketFile = null;
    int tcpPort = 0;
    HttpServer tcpServer = null;
    int metricsActualPort = 0;
    MetricsEndpoint scrapes = metricsHost == null ? null
        : new MetricsEndpoint(() -> metrics.scrape(pools.all(), pools::subPool, store), healthChecks);
    try {
      if (scrapes != null) {
        HttpServer http = Listeners.metrics(vertx, scrapes, metricsHost, metricsPort);
        metricsActualPort = http.actualPort();
        servers.add(http);
      }
      if (settings.socket() != null) {
        socketFile = UnixSocketFile.claim(settings.socket());
        servers.add(Listeners.unix(vertx, settings, socketFile, cni, grpc));
      }
      if (settings.tcpHost() != null) {
        HttpServer tcp = Listeners.tcp(vertx, settings, identity.operatorCaFile(), grpc);
        tcpPort = tcp.actualPort();
        tcpServer = tcp;
        servers.add(tcp);
      }
    } catch (IOException | RuntimeException e) {
      vertx.close();
      workers.shutdownNow();
      if (scrapes != null) {
        scrapes.close();
      }
      healthChecks.close();
      if (socketFile != null) {
        socketFile.close();
      }
      if (e instanceof IpamException ipam) {
        throw ipam;
      }
      throw new IpamException(ErrorCode.IO_FAILURE, "cannot listen: " + IoMessages.describe(e), e);
    }
    return new IpamServer(vertx, servers, workers, stores, settings, tcpServer, tcpPort, metricsActualPort, scrapes,
        healthChecks, socketFile, transport);
  }

  /** The TCP listener, or null when jipamd has none. */
  HttpServer tcpServer() {
    return tcpServer;
  }

  /** Whether the store's calls never block ({@link NeverBlocks}: the memory store), so they may run on an event loop. */
  static boolean neverBlocks(IpamStore store) {
    return store.capability(NeverBlocks.class).isPresent();
  }

  /** The TCP port listened on (the real one when 0 was asked for); 0 without TCP. */
  int tcpPort() {
    return tcpPort;
  }

  /** The /metrics port (the real one when 0 was asked for); 0 without metrics. */
  int metricsPort() {
    return metricsPort;
  }

  Settings settings() {
    return settings;
  }

  /**
   * Stops accepting, waits up to the shutdown bound for in-flight calls (their answers are sent),
   * then closes the store, waiting for that until the same bound (at least a second). Calls still
   * running at the bound are abandoned, and so is a store's close: each store call is atomic, so
   * none is half-applied. Idempotent.
   */
  @Override
  public void close() {
    stop();
  }

  /**
   * {@link #close}, telling whether everything in flight finished, and the store closed, within
   * the shutdown bound (false also when already closed).
   */
  boolean stop() {
    if (!closed.compareAndSet(false, true)) {
      return false;
    }
    boolean clean = true;
    long bound = settings.shutdownBound().toMillis();
    // one bound for everything: every listener stops accepting at once and drains within it (one
    // after the other, each had the whole bound, and a later one went on taking new calls)
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(bound);
    List<java.util.concurrent.CompletableFuture<Void>> draining = new ArrayList<>();
    transport.stopAccepting(); // before Vert.x takes the servers' event loops away
    for (HttpServer s : servers) {
      draining.add(s.shutdown(bound, TimeUnit.MILLISECONDS).toCompletionStage().toCompletableFuture());
    }
    for (java.util.concurrent.CompletableFuture<Void> d : draining) {
      try {
        d.get(left(deadline) + 1000, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        clean = false; // the bound passed: go on closing
      } catch (InterruptedException e) {
        clean = false;
        Thread.currentThread().interrupt();
      }
    }
    workers.shutdown();
    if (metricsEndpoint != null) {
      metricsEndpoint.close();
    }
    healthChecks.close();
    try {
      clean &= workers.awaitTermination(left(deadline), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      clean = false;
      Thread.currentThread().interrupt();
    }
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(left(deadline) + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // closing anyway
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    clean &= closeWithin(store, deadline);
    if (socketFile != null) {
      socketFile.close();
    }
    return clean;
  }

  /**
   * Closes the store on a thread of its own and waits for it until the deadline, and at least a
   * second: a close that outlasts it (an etcd store waiting for commits abandoned at the shutdown
   * bound) is left to end with the JVM, which is safe since each commit is atomic. False when the
   * store did not close in time; a close that failed in time throws as it did.
   */
  private static boolean closeWithin(NodeStores store, long deadline) {
    Throwable[] failed = {null};
    Thread closer = new Thread(() -> {
      try {
        store.close();
      } catch (RuntimeException | Error e) {
        failed[0] = e;
      }
    }, "jipamd-store-close");
    closer.setDaemon(true);
    closer.start();
    try {
      closer.join(Math.max(1000, left(deadline)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    if (closer.isAlive()) {
      return false;
    }
    if (failed[0] instanceof RuntimeException e) {
      throw e;
    }
    if (failed[0] instanceof Error e) {
      throw e;
    }
    return true;
  }

  /** Milliseconds until {@code deadline} (nanoTime), at least 0. */
  private static long left(long deadline) {
    return Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
  }
}
