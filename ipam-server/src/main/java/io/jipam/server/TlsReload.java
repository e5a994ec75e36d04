package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.ReloadsTls;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
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
 * Each set of files is checked as at start ({@link TlsFiles}) before anything changes. Files that
 * fail the check (a renewal caught half-written: a new certificate beside the old key) change
 * nothing; one log line says why, the previous files stay in use, and the next change is tried
 * again. A reload affects the connections made after it; connections already open keep the
 * certificates they were made with. Bytes are compared, not modification times: Kubernetes
 * updates a mounted Secret by swapping a symlink, and a copy may keep a file's time.
 *
 * <p>Thread-safe: reloads run one at a time on one daemon thread ({@link #start}), or on the
 * caller's thread for {@link #reload} and {@link #reloadIfChanged}, under this object's lock.
 */
final class TlsReload implements AutoCloseable {
  /** How often the files' bytes are compared with the last look. */
  static final Duration CHECK_EVERY = Duration.ofMinutes(1);

  /** One set of files and what reading them again does. */
  private record Part(List<Path> files, Runnable check, Runnable apply) {}

  private final List<Part> parts;
  private final CallLog log;
  private volatile ScheduledExecutorService thread;
  /** Digest of every file's bytes as last looked at. */
  private byte[] seen;

  private TlsReload(List<Part> parts, CallLog log) {
    this.parts = parts;
    this.log = log;
    this.seen = digest();
  }

  /**
   * The TLS files of {@code server}'s TCP listener (when it has TLS) and of {@code remote} (when it
   * connects with TLS files).
   *
   * @param server the running server, or null for a remote store's files alone
   * @param remote the store's way of reading its TLS files again, or null
   * @param remoteTls the files {@code remote} connects with, or null
   */
  static TlsReload of(IpamServer server, IpamServer.Settings settings, CallerIdentity identity, ReloadsTls remote,
      RemoteStore.Tls remoteTls, CallLog log, Clock clock) {
    List<Part> parts = new ArrayList<>();
    HttpServer tcp = server == null ? null : server.tcpServer();
    if (tcp != null && settings.tlsCert() != null) {
      Path operatorCa = identity.operatorCaFile();
      parts.add(new Part(present(settings.tlsCert(), settings.tlsKey(), settings.clientCa(), operatorCa),
          () -> TlsFiles.check(settings.tlsCert(), settings.tlsKey(), settings.clientCa(), operatorCa, clock),
          () -> {
            identity.reloadOperatorCa();
            await(tcp.updateSSLOptions(IpamServer.withTls(new HttpServerOptions(), settings, operatorCa)
                .getSslOptions(), true));
          }));
    }
    if (remote != null && remoteTls != null && (remoteTls.caFile() != null || remoteTls.certFile() != null)) {
      parts.add(new Part(present(remoteTls.caFile(), remoteTls.certFile(), remoteTls.keyFile()),
          () -> TlsFiles.checkRemote(remoteTls.caFile(), remoteTls.certFile(), remoteTls.keyFile(), clock),
          remote::reloadTls));
    }
    return new TlsReload(List.copyOf(parts), log);
  }

  private static List<Path> present(Path... files) {
    return Arrays.stream(files).filter(Objects::nonNull).toList();
  }

  /** Whether there are files to read again. */
  boolean any() {
    return !parts.isEmpty();
  }

  /** Starts looking at the files every {@link #CHECK_EVERY}; nothing to do without files. */
  synchronized void start() {
    if (!any() || thread != null) {
      return;
    }
    thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "jipamd-tls-reload");
      t.setDaemon(true);
      return t;
    });
    long every = CHECK_EVERY.toMillis();
    thread.scheduleWithFixedDelay(this::reloadIfChanged, every, every, TimeUnit.MILLISECONDS);
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
   * Checks every set of files and applies the ones that pass; logs one line per set. True when
   * every set was reloaded.
   */
  synchronized boolean reload(String why) {
    seen = digest();
    if (!any()) {
      log.info("TLS files not reloaded (" + why + "): jipamd uses none");
      return true;
    }
    boolean all = true;
    for (Part part : parts) {
      try {
        part.check.run();
        part.apply.run();
        log.info("TLS files reloaded (" + why + "): " + names(part.files));
      } catch (IpamException e) {
        all = false;
        log.info("TLS files not reloaded (" + why + "): " + e.getMessage() + "; the previous ones stay in use");
      }
    }
    return all;
  }

  /** {@link #reload} when some file's bytes changed since the last look; false when none did. */
  synchronized boolean reloadIfChanged() {
    if (Arrays.equals(seen, digest())) {
      return false;
    }
    reload("changed");
    return true;
  }

  /** SHA-256 over every file's path and bytes; nothing (and no security provider loaded) without files. */
  private byte[] digest() {
    if (parts.isEmpty()) {
      return new byte[0];
    }
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    for (Part part : parts) {
      for (Path file : part.files) {
        sha.update(file.toString().getBytes(StandardCharsets.UTF_8));
        try {
          sha.update((byte) 1);
          sha.update(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
          sha.update((byte) 0);
        } catch (IOException e) {
          sha.update((byte) 2);
        }
      }
    }
    return sha.digest();
  }

  private static String names(List<Path> files) {
    return String.join(", ", files.stream().map(f -> Printable.quote(f.toString())).toList());
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

  @Override
  public synchronized void close() {
    if (thread != null) {
      thread.shutdownNow();
    }
  }
}
