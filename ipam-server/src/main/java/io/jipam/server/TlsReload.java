package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.ReloadsTls;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.security.cert.X509Certificate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads jipamd's TLS files again while it runs, so that a renewed certificate takes effect without
 * a restart: on SIGHUP, and when the files' bytes change (looked at every {@link #CHECK_EVERY}).
 * The files are the TCP listener's ({@code --tls-cert}, {@code --tls-key}, {@code --client-ca},
 * {@code --operator-ca}) and those a remote store connects with ({@code --remote-cert}, {@code
 * --remote-key}, {@code --remote-ca}).
 *
 * <h2>Design</h2>
 * Each set of files is read once, and those bytes are checked as at start ({@link TlsFiles}) and
 * then used as they are, so a file replaced between the check and its use cannot slip past the
 * check. Files that fail it (a renewal caught half-written: a new certificate beside the old key)
 * change nothing; one log line says why, the previous files stay in use, and the set is tried again
 * at every look until it passes. The listener takes its new files before the operator CA changes
 * who counts as an operator, so a listener that fails to take them leaves both as they were. A
 * reload affects the connections made after it: connections already open keep the handshake they
 * made (a client whose CA was removed keeps its open connection until it closes; restart jipamd to
 * cut such connections at once). Bytes are compared, not modification times: Kubernetes updates a
 * mounted Secret by swapping a symlink, and a copy may keep a file's time.
 *
 * <p>Thread-safe: reloads run one at a time, under this object's lock, on one daemon thread
 * ({@link #start}) or on the caller's ({@link #reload}, {@link #reloadIfChanged}).
 */
final class TlsReload implements AutoCloseable {
  /** How often the files' bytes are compared with the last look. */
  static final Duration CHECK_EVERY = Duration.ofMinutes(1);

  /** One set of files and what taking them does: checks the bytes read, then uses them. */
  private static final class Part {
    final List<TlsFiles.Read> unread; // option and path of each file, no bytes
    final java.util.function.Consumer<List<TlsFiles.Read>> take;
    /** Digest of the bytes this set was last taken with (or found failing): null to take it again. */
    byte[] seen;

    Part(List<TlsFiles.Read> unread, java.util.function.Consumer<List<TlsFiles.Read>> take) {
      this.unread = unread;
      this.take = take;
    }

    /** The files as they are now; an unreadable one throws INVALID_CONFIG naming it. */
    List<TlsFiles.Read> read() {
      return unread.stream().map(f -> TlsFiles.Read.of(f.option(), f.path())).toList();
    }
  }

  private final List<Part> parts;
  private final CallLog log;
  private volatile ScheduledExecutorService thread;

  private TlsReload(List<Part> parts, CallLog log) {
    this.parts = parts;
    this.log = log;
    for (Part part : parts) {
      part.seen = digest(part);
    }
  }

  /**
   * The TLS files of {@code server}'s TCP listener (when it has TLS) and of {@code remote} (when it
   * connects with TLS files).
   *
   * @param server the running server, or null for a remote store's files alone
   * @param remote the store's way of taking renewed TLS files, or null
   * @param remoteTls the files {@code remote} connects with, or null
   */
  static TlsReload of(IpamServer server, IpamServer.Settings settings, CallerIdentity identity, ReloadsTls remote,
      RemoteStore.Tls remoteTls, CallLog log, Clock clock) {
    List<Part> parts = new ArrayList<>();
    HttpServer tcp = server == null ? null : server.tcpServer();
    if (tcp != null && settings.tlsCert() != null) {
      Path operatorCa = identity.operatorCaFile();
      parts.add(new Part(files("--tls-cert", settings.tlsCert(), "--tls-key", settings.tlsKey(), "--client-ca",
          settings.clientCa(), "--operator-ca", operatorCa), read -> takeListener(tcp, identity, read, clock)));
    }
    if (remote != null && remoteTls != null && (remoteTls.caFile() != null || remoteTls.certFile() != null)) {
      parts.add(new Part(files("--remote-ca", remoteTls.caFile(), "--remote-cert", remoteTls.certFile(),
          "--remote-key", remoteTls.keyFile()), read -> takeRemote(remote, read, clock)));
    }
    return new TlsReload(List.copyOf(parts), log);
  }

  /** Option and path pairs, the files not given left out. */
  private static List<TlsFiles.Read> files(Object... optionsAndPaths) {
    List<TlsFiles.Read> out = new ArrayList<>();
    for (int i = 0; i < optionsAndPaths.length; i += 2) {
      if (optionsAndPaths[i + 1] != null) {
        out.add(new TlsFiles.Read((String) optionsAndPaths[i], (Path) optionsAndPaths[i + 1], null));
      }
    }
    return List.copyOf(out);
  }

  private static TlsFiles.Read named(List<TlsFiles.Read> read, String option) {
    return read.stream().filter(r -> r.option().equals(option)).findFirst().orElse(null);
  }

  private static void takeListener(HttpServer tcp, CallerIdentity identity, List<TlsFiles.Read> read, Clock clock) {
    ListenerTls tls = new ListenerTls(named(read, "--tls-cert"), named(read, "--tls-key"),
        named(read, "--client-ca"), named(read, "--operator-ca"));
    Vertx vertx = TlsFiles.quietVertx();
    try {
      tls.check(vertx, clock);
      List<X509Certificate> operators = tls.operatorCa() == null ? null
          : identity.parseOperatorCa(tls.operatorCa().bytes());
      await(tcp.updateSSLOptions(tls.sslOptions(), true));
      if (operators != null) {
        identity.useOperatorCas(operators); // only once the listener trusts them
      }
    } finally {
      vertx.close();
    }
  }

  private static void takeRemote(ReloadsTls remote, List<TlsFiles.Read> read, Clock clock) {
    TlsFiles.Read ca = named(read, "--remote-ca");
    TlsFiles.Read cert = named(read, "--remote-cert");
    TlsFiles.Read key = named(read, "--remote-key");
    Vertx vertx = TlsFiles.quietVertx();
    try {
      if (cert != null) {
        TlsFiles.checkPair(vertx, cert, key, clock);
      }
      if (ca != null) {
        TlsFiles.checkCa(vertx, ca);
      }
    } finally {
      vertx.close();
    }
    remote.reloadTls(ca == null ? null : ca.bytes(), cert == null ? null : cert.bytes(),
        key == null ? null : key.bytes());
  }

  /** Whether there are files to read again. */
  boolean any() {
    return !parts.isEmpty();
  }

  /** Starts looking at the files every {@link #CHECK_EVERY}; nothing to do without files. */
  void start() {
    start(CHECK_EVERY);
  }

  /** Starts looking at the files every {@code every} (tests look more often); once. */
  synchronized void start(Duration every) {
    if (!any() || thread != null) {
      return;
    }
    ScheduledExecutorService t = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread named = new Thread(r, "jipamd-tls-reload");
      named.setDaemon(true);
      return named;
    });
    t.scheduleWithFixedDelay(this::reloadIfChanged, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    thread = t;
  }

  /** {@link #reload} on the reload thread (a signal handler's way), or at once when not started. */
  void requestReload(String why) {
    ScheduledExecutorService t = thread;
    if (t == null) {
      reload(why);
      return;
    }
    try {
      t.execute(() -> reload(why));
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      // closed: jipamd is stopping
    }
  }

  /**
   * Reads, checks and takes every set of files; logs one line per set. True when every set was
   * taken.
   */
  synchronized boolean reload(String why) {
    if (!any()) {
      log.info("TLS files not reloaded (" + why + "): jipamd uses none for its listener or a central jipamd"
          + " (an etcd store's are read when it starts: restart jipamd to take new ones)");
      return true;
    }
    boolean all = true;
    for (Part part : parts) {
      all &= take(part, why);
    }
    return all;
  }

  /**
   * {@link #reload} of the sets whose bytes changed since they were last taken, and of those that
   * failed then; false when there were none. Never throws (the periodic look must go on).
   */
  synchronized boolean reloadIfChanged() {
    boolean any = false;
    for (Part part : parts) {
      if (part.seen == null || !Arrays.equals(part.seen, digest(part))) {
        any = true;
        take(part, "changed");
      }
    }
    return any;
  }

  private boolean take(Part part, String why) {
    List<TlsFiles.Read> read = null;
    try {
      read = part.read();
      part.take.accept(read);
      part.seen = digest(read);
      log.info("TLS files reloaded (" + why + "): " + names(part.unread));
      return true;
    } catch (IpamException e) {
      part.seen = null;
      log.info("TLS files not reloaded (" + why + "): " + e.getMessage() + "; the previous ones stay in use");
    } catch (RuntimeException e) {
      part.seen = null;
      log.info("TLS files not reloaded (" + why + "): " + Printable.quote(String.valueOf(e))
          + "; the previous ones stay in use");
    }
    return false;
  }

  /** Digest of the files as they are now (an unreadable one counts as its own state). */
  private static byte[] digest(Part part) {
    List<TlsFiles.Read> now = new ArrayList<>();
    for (TlsFiles.Read f : part.unread) {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(f.path());
      } catch (IOException e) {
        bytes = null;
      }
      now.add(new TlsFiles.Read(f.option(), f.path(), bytes));
    }
    return digest(now);
  }

  /** SHA-256 over each file's path and bytes. */
  private static byte[] digest(List<TlsFiles.Read> files) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    for (TlsFiles.Read f : files) {
      sha.update(f.path().toString().getBytes(StandardCharsets.UTF_8));
      if (f.bytes() == null) {
        sha.update((byte) 0);
      } else {
        sha.update((byte) 1);
        sha.update(f.bytes());
      }
    }
    return sha.digest();
  }

  private static String names(List<TlsFiles.Read> files) {
    return String.join(", ", files.stream().map(f -> Printable.quote(f.path().toString())).toList());
  }

  private static void await(io.vertx.core.Future<?> future) {
    try {
      future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw IpamException.invalidConfig("the TCP listener did not take the new TLS files: %s",
          e instanceof ExecutionException ? e.getCause() : "no answer within 30 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw IpamException.invalidConfig("interrupted applying the TLS files");
    }
  }

  /** Stops looking; a reload running now is interrupted where it waits. Not under the lock. */
  @Override
  public void close() {
    ScheduledExecutorService t = thread;
    if (t != null) {
      t.shutdownNow();
    }
  }
}
