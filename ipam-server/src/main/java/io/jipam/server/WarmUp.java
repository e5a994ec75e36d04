package io.jipam.server;

import io.jipam.core.ErrorCode;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.cni.CniEndpoint;
import io.jipam.server.metrics.CallLog;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;

/**
 * Warms jipamd's CNI path before it serves: ADD+DEL pairs sent as the shim sends them (one
 * connection per call, {@code POST /cni/v1}) to a scratch {@link IpamServer} on a scratch unix
 * socket and a scratch file store, both in a new temp dir that is deleted afterwards. The JIT's
 * profiles and compiled code are per class, not per server, so the real server's first calls run
 * compiled code instead of the interpreter's and the compiler's (a fresh jipamd otherwise spends
 * two to three times its steady CPU per call over its first thousands of calls,
 * docs/benchmarks-shim.md).
 *
 * <p>Touches nothing of the real store, socket or pools. Bounded: at most {@code pairs} pairs and
 * at most {@code bound} of wall time. A failure of the warm-up is logged and ignored: it only
 * costs speed. Not thread-safe (run once, before serving).
 */
final class WarmUp {
  private WarmUp() {}

  /** What a warm-up did: pairs completed and how long it took. */
  record Done(int pairs, Duration took) {}

  /** Runs up to {@code pairs} ADD+DEL pairs within {@code bound}; never throws. */
  static Done run(int pairs, Duration bound, CallLog log) {
    return run(pairs, bound, log, () -> false);
  }

  /** {@link #run(int, Duration, CallLog)}, ending early (its scratch dir deleted) once {@code stopped}. */
  static Done run(int pairs, Duration bound, CallLog log, java.util.function.BooleanSupplier stopped) {
    long start = System.nanoTime();
    if (pairs <= 0) {
      return new Done(0, Duration.ZERO);
    }
    Path dir = null;
    int done = 0;
    try {
      dir = Files.createTempDirectory("jipamd-warm-up");
      Path socket = dir.resolve("s.sock");
      IpamServer.Settings settings = IpamServer.Settings.unix(socket);
      try (IpamServer server = IpamServer.start(HostLocalStores.openWriteThrough(dir.resolve("data"), FileSync.NONE),
          settings, CallLog.quiet())) {
        String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"warm-up\",\"ipam\":{\"type\":\"jipam\","
            + "\"daemon\":{\"socket\":\"" + socket + "\"},\"subnet\":\"198.18.0.0/24\","
            + "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}";
        long deadline = start + bound.toNanos();
        for (; done < pairs && System.nanoTime() < deadline && !stopped.getAsBoolean(); done++) {
          call(socket, "ADD", "w" + done, conf);
          call(socket, "DEL", "w" + done, withPrevResult(conf, done));
        }
      }
    } catch (IOException | RuntimeException e) {
      log.info("warm-up stopped after " + done + " pairs: " + IoMessages.describe(e));
    } finally {
      if (dir != null) {
        delete(dir);
      }
    }
    return new Done(done, Duration.ofNanos(System.nanoTime() - start));
  }

  /**
   * {@code conf} (a JSON object) with a {@code prevResult} as a runtime adds it to a DEL: an address
   * of the /24 that differs with {@code n}. Such a config is sent once, so jipamd reads it afresh
   * (its config reading gets warm) where it keeps the ADD's config read ({@code ParsedConfigs}).
   */
  static String withPrevResult(String conf, int n) {
    return conf.substring(0, conf.lastIndexOf('}')) + ",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{"
        + "\"address\":\"198.18.0." + (2 + Math.floorMod(n, 250)) + "/24\"}]}}";
  }

  /** One call as the shim makes it; throws unless jipamd answers exit 0. */
  static void call(Path socket, String command, String container, String conf) throws IOException {
    int exit = exit(socket, command, container, conf);
    if (exit != 0) {
      throw new IpamException(ErrorCode.INTERNAL, "warm-up " + command + " was answered exit " + exit);
    }
  }

  /** One call as the shim makes it: the plugin's exit code jipamd answers; throws without an answer. */
  static int exit(Path socket, String command, String container, String conf) throws IOException {
    byte[] body = ("CNI_COMMAND=" + command + "\nCNI_CONTAINERID=" + container + "\nCNI_IFNAME=eth0\n"
        + "CNI_NETNS=/var/run/netns/warm-up\nCNI_PATH=/usr/lib/cni\n\n" + conf).getBytes(StandardCharsets.UTF_8);
    byte[] head = ("POST " + CniEndpoint.PATH + " HTTP/1.1\r\nHost: jipamd\r\nContent-Type: application/octet-stream\r\n"
        + "Connection: close\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ByteBuffer out = ByteBuffer.allocate(head.length + body.length).put(head).put(body).flip();
      while (out.hasRemaining()) {
        ch.write(out);
      }
      ByteBuffer in = ByteBuffer.allocate(8192);
      while (ch.read(in) >= 0 && in.hasRemaining()) {
        // read the answer to its end (jipamd closes: Connection: close)
      }
      String answer = new String(in.array(), 0, in.position(), StandardCharsets.ISO_8859_1);
      String lower = answer.toLowerCase(java.util.Locale.ROOT);
      int at = lower.indexOf("jipam-exit: ");
      if (!answer.startsWith("HTTP/1.1 200") || at < 0 || at + 13 > lower.length()) {
        throw new IpamException(ErrorCode.INTERNAL, "warm-up " + command + " was answered "
            + answer.lines().findFirst().orElse("nothing"));
      }
      return lower.charAt(at + 12) - '0';
    }
  }

  static void delete(Path dir) {
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.delete(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
          Files.delete(d);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      // a temp dir left behind costs nothing but its few files
    }
  }
}
