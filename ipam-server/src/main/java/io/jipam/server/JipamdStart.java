package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.capability.ReloadsTls;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.pools.NodeStores;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * jipamd's start sequence and life, once {@link Jipamd} has read and checked its options: the
 * signal handlers, the warm-up, the store, the server, the TLS reload, serving until SIGTERM or
 * SIGINT, and the bounded stop.
 *
 * <p>Contract: {@link #run} is called once, on the main thread, and blocks until jipamd has
 * stopped; it returns the exit code (0 after a clean stop, 1 when in-flight calls or the store's
 * close outlasted the shutdown bound, or the JVM is exiting another way) and throws the {@link
 * io.jipam.core.IpamException} of a store or listener that cannot start, having closed what it
 * opened. Its log lines are jipamd's ({@code ready}, {@code stopped}, ...), which scripts and
 * tests wait for.
 */
final class JipamdStart {
  private final IpamServer.Settings settings;
  private final StoreFactory.StoreSettings storeSettings;
  private final CallerIdentity identity;
  /** The remote store's TLS, or null. */
  private final RemoteStore.Tls remoteTls;
  private final CallLog log;
  /** Where /metrics is served; null: nowhere. */
  private final String metricsHost;
  private final int metricsPort;
  private final int warmUpPairs;
  private final int shutdownSeconds;
  /** Signalled when jipamd should stop; the signal handlers count it down. */
  private final CountDownLatch stop = new CountDownLatch(1);

  JipamdStart(IpamServer.Settings settings, StoreFactory.StoreSettings storeSettings, CallerIdentity identity,
      RemoteStore.Tls remoteTls, CallLog log, String metricsHost, int metricsPort, int warmUpPairs,
      int shutdownSeconds) {
    this.settings = settings;
    this.storeSettings = storeSettings;
    this.identity = identity;
    this.remoteTls = remoteTls;
    this.log = log;
    this.metricsHost = metricsHost;
    this.metricsPort = metricsPort;
    this.warmUpPairs = warmUpPairs;
    this.shutdownSeconds = shutdownSeconds;
  }

  /** Starts, serves until a signal, stops; the exit code. */
  int run() throws InterruptedException {
    // SIGTERM and SIGINT stop jipamd through the latch, so that it exits 0 after a clean stop
    // (the JVM's own handler exits 143, leaving the socket, its pid file or the warm-up's scratch
    // dir); from here on, so that a signal during the start-up is a clean stop too
    for (String signal : List.of("TERM", "INT")) {
      sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> stop.countDown());
    }
    // SIGHUP reads the TLS files again (TlsReload) once serving; before that there is nothing to
    // read again (the JVM's own handler would exit 129)
    java.util.concurrent.atomic.AtomicReference<TlsReload> tlsReload = new java.util.concurrent.atomic.AtomicReference<>();
    sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s -> {
      TlsReload reload = tlsReload.get();
      if (reload == null) {
        log.info("SIGHUP before serving: nothing to read again");
      } else {
        reload.requestReload("SIGHUP");
      }
    });
    if (warmUpPairs > 0) {
      WarmUp.Done warm = WarmUp.run(warmUpPairs, Duration.ofSeconds(20), log, () -> stop.getCount() == 0);
      log.info("warmed up: " + warm.pairs() + " ADD+DEL pairs in " + warm.took().toMillis() + " ms");
    }
    if (stop.getCount() == 0) {
      log.info("stopped before serving");
      return 0;
    }
    NodeStores backing = StoreFactory.openNodeStores(storeSettings);
    String actsFor = storeSettings.node();
    IpamServer server;
    try {
      server = IpamServer.start(backing, identity, settings, log, metricsHost, metricsPort,
          StoreFactory.pools(storeSettings, log));
    } catch (RuntimeException e) {
      backing.close();
      throw e;
    }
    TlsReload reload = TlsReload.of(server, settings, identity,
        backing.base().capability(ReloadsTls.class).orElse(null), remoteTls, log, java.time.Clock.systemUTC());
    reload.start();
    tlsReload.set(reload);
    // the hook covers any other way the JVM ends; a signal since the start ends the await at once
    Thread hook = new Thread(() -> {
      log.info("stopping: finishing in-flight calls (at most " + shutdownSeconds + " s)");
      server.close();
      log.info("stopped");
    }, "jipamd-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    log.info("serving store " + storeSettings.type()
        + (actsFor != null ? " (" + storeSettings.remote() + ", as node " + actsFor + ")" : "")
        + (settings.socket() != null ? " on unix:" + settings.socket() : "")
        + (settings.tcpHost() != null ? " on " + settings.tcpHost() + ":" + server.tcpPort()
            + (settings.tlsCert() == null ? " (plain TCP)" : settings.clientCa() == null ? " (TLS)" : " (mutual TLS)")
            : ""));
    if (metricsHost != null) {
      log.info("metrics on http://" + metricsHost + ":" + server.metricsPort() + "/metrics");
    }
    log.info("ready");
    stop.await();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException exiting) {
      return 1; // the JVM is exiting another way; the hook stops the server
    }
    log.info("stopping: finishing in-flight calls (at most " + shutdownSeconds + " s)");
    reload.close();
    if (server.stop()) {
      log.info("stopped");
      return 0;
    }
    log.info("stopped: in-flight calls or the store's close did not finish within --shutdown-timeout "
        + shutdownSeconds + " s");
    return 1;
  }
}
