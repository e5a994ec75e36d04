package io.jipam.plugin;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.JsonFields;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The plugin's daemon mode: forwards the CNI call to the node's jipamd over its unix socket and
 * hands back what to print and the exit code, so the store (and for etcd, jetcd, gRPC and Netty)
 * is never loaded by the one-shot process.
 *
 * <table>
 *   <caption>ipam.daemon</caption>
 *   <tr><th>value</th><th>meaning</th></tr>
 *   <tr><td>absent</td><td>direct mode: the plugin opens the store itself</td></tr>
 *   <tr><td>{@code {"socket": PATH, "timeoutSeconds": N}}</td><td>always through jipamd at PATH
 *       (default {@link #DEFAULT_SOCKET}); N bounds the whole exchange (default 10)</td></tr>
 *   <tr><td>{@code "auto"}</td><td>through jipamd when {@link #DEFAULT_SOCKET} exists, direct
 *       otherwise</td></tr>
 * </table>
 *
 * <p>The wire is HTTP/1.1 over the JDK's {@code SocketChannel} (no gRPC, Netty or TLS classes):
 * {@code POST /cni/v1}, body = the CNI_* variables as {@code NAME=value} lines, an empty line, and
 * stdin as read; the answer's {@code Jipam-Exit} header is the exit code and its body what to
 * print. A missing socket, a refused connection, no complete answer within the bound, or an answer
 * that is not one are CNI error 11 (try again later): the runtime retries, and since jipamd runs
 * each call atomically and ADD and DEL are idempotent, nothing is ever half-applied.
 *
 * <p>On the plugin's exec path: no lambdas, regexes or indy string concatenation (see
 * docs/plugin.md for why).
 */
final class DaemonClient {
  static final String DEFAULT_SOCKET = "/run/jipam/jipam.sock";
  static final long DEFAULT_TIMEOUT_SECONDS = 10;
  private static final int MAX_ANSWER = 1 << 20;

  private DaemonClient() {}

  /** Where to forward, from the parsed network config; null for direct mode. */
  static Target target(Object parsedConfig) {
    if (!(parsedConfig instanceof Map<?, ?> top) || !(top.get("ipam") instanceof Map<?, ?> rawIpam)) {
      return null;
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> ipam = (Map<String, Object>) rawIpam;
    Object daemon = ipam.get("daemon");
    if (daemon == null) {
      return null;
    }
    if ("auto".equals(daemon)) {
      return Files.exists(Path.of(DEFAULT_SOCKET)) ? new Target(DEFAULT_SOCKET, DEFAULT_TIMEOUT_SECONDS) : null;
    }
    if (!(daemon instanceof Map)) {
      throw IpamException.invalidConfig("ipam.daemon must be \"auto\" or an object with \"socket\"");
    }
    Map<String, Object> d = JsonFields.object(ipam, "daemon", "ipam");
    String socket = JsonFields.string(d, "socket", "ipam.daemon");
    Long timeout = JsonFields.integer(d, "timeoutSeconds", "ipam.daemon");
    if (timeout != null && (timeout < 1 || timeout > 300)) {
      throw IpamException.invalidConfig("ipam.daemon.timeoutSeconds %d is not 1 to 300", timeout);
    }
    String path = socket == null || socket.isEmpty() ? DEFAULT_SOCKET : socket;
    checkSocketPath(path);
    return new Target(path, timeout == null ? DEFAULT_TIMEOUT_SECONDS : timeout);
  }

  /** The longest socket path the JDK connects to: sockaddr_un's 108 bytes less two (jipamd's bound too). */
  static final int MAX_SOCKET_PATH_BYTES = 106;

  /**
   * Refuses a socket no call could ever reach, as the config error it is (code 7), rather than
   * "try again later": a relative path (it would depend on the runtime's working directory), a NUL,
   * or a path longer than the JDK takes. The shim hands such configs to this plugin.
   */
  private static void checkSocketPath(String path) {
    if (path.indexOf('\0') >= 0) {
      throw IpamException.invalidConfig("ipam.daemon.socket %s holds a NUL character",
          io.jipam.core.store.Printable.quote(path));
    }
    if (!path.startsWith("/")) {
      throw IpamException.invalidConfig("ipam.daemon.socket %s is not an absolute path",
          io.jipam.core.store.Printable.quote(path));
    }
    int bytes = path.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      throw IpamException.invalidConfig("ipam.daemon.socket %s is %d bytes long: a unix socket's path takes at most %d",
          io.jipam.core.store.Printable.quote(path), bytes, MAX_SOCKET_PATH_BYTES);
    }
  }

  record Target(String socket, long timeoutSeconds) {}

  record Reply(byte[] output, int exit) {}

  /**
   * Sends the call and waits for the answer, at most the target's timeout.
   *
   * @throws IpamException TRY_AGAIN_LATER when jipamd cannot be reached or does not answer in time
   */
  static Reply call(Target target, Map<String, String> env, byte[] stdin) {
    // the time the watchdog below gives up, which jipamd is told: it applies nothing after it
    byte[] request = request(env, stdin, System.currentTimeMillis() + target.timeoutSeconds() * 1000);
    SocketChannel channel;
    try {
      channel = SocketChannel.open(StandardProtocolFamily.UNIX);
    } catch (IOException e) {
      throw unreachable(target, reason(e));
    }
    Watchdog watchdog = new Watchdog(channel, target.timeoutSeconds() * 1000);
    watchdog.start();
    boolean answered = false;
    try {
      channel.connect(UnixDomainSocketAddress.of(target.socket()));
      ByteBuffer out = ByteBuffer.wrap(request);
      while (out.hasRemaining()) {
        channel.write(out);
      }
      ByteArrayOutputStream answer = new ByteArrayOutputStream(1024);
      ByteBuffer in = ByteBuffer.allocate(8192);
      while (channel.read(in) >= 0) {
        answer.write(in.array(), 0, in.position());
        in.clear();
        if (answer.size() > MAX_ANSWER) {
          throw unreachable(target, "answer over " + MAX_ANSWER + " bytes");
        }
      }
      Reply reply = parse(target, answer.toByteArray());
      answered = true;
      return reply;
    } catch (IOException e) {
      if (watchdog.fired) {
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "jipamd at " + target.socket()
            + " did not answer within " + target.timeoutSeconds() + " s; try again later");
      }
      throw unreachable(target, reason(e));
    } finally {
      watchdog.interrupt();
      // after a complete answer the channel is left open: the process halts right after and the
      // kernel closes it, while closing it here loads NIO's network classes (InetAddress, socket
      // options, method handles), about 10 ms of a one-shot call
      if (!answered) {
        try {
          channel.close();
        } catch (IOException e) {
          // closing a socket that failed anyway
        }
      }
    }
  }

  /**
   * What went wrong, as the system says it (the JDK's message for a failed socket call is the
   * system's error text, such as "Connection refused"): no Java class names, so that the native
   * shim, which forwards daemon-mode calls without a JVM, words the same failure the same way.
   */
  private static String reason(IOException e) {
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  private static IpamException unreachable(Target target, String why) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "cannot reach jipamd at " + target.socket() + ": "
        + why + "; try again later");
  }

  /**
   * The HTTP request: the CNI_* variables as lines, an empty line and {@code stdin}, and the time
   * the caller gives up on the call ({@code Jipam-Deadline}, milliseconds since the epoch; jipamd
   * applies nothing of a call after it, since the runtime goes on, a DEL after a failed ADD, once
   * told it failed), as the shim builds it.
   */
  static byte[] request(Map<String, String> env, byte[] stdin, long deadlineMillis) {
    StringBuilder body = new StringBuilder(256);
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (e.getKey().startsWith("CNI_") && e.getValue() != null) {
        body.append(e.getKey()).append('=');
        String v = e.getValue();
        for (int i = 0; i < v.length(); i++) {
          char c = v.charAt(i);
          if (c == '\\') {
            body.append("\\\\");
          } else if (c == '\n') {
            body.append("\\n");
          } else {
            body.append(c);
          }
        }
        body.append('\n');
      }
    }
    body.append('\n');
    byte[] head = body.toString().getBytes(StandardCharsets.UTF_8);
    int length = head.length + stdin.length;
    byte[] line = ("POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nContent-Type: application/octet-stream\r\n"
        + "Jipam-Deadline: " + deadlineMillis + "\r\nConnection: close\r\nContent-Length: " + length + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    byte[] all = new byte[line.length + length];
    System.arraycopy(line, 0, all, 0, line.length);
    System.arraycopy(head, 0, all, line.length, head.length);
    System.arraycopy(stdin, 0, all, line.length + head.length, stdin.length);
    return all;
  }

  /** Reads the HTTP answer: status 200, a Jipam-Exit header, a Content-Length or chunked body. */
  static Reply parse(Target target, byte[] answer) {
    int headEnd = indexOf(answer, 0);
    if (headEnd < 0) {
      throw unreachable(target, "incomplete answer (" + answer.length + " bytes)");
    }
    String head = new String(answer, 0, headEnd, StandardCharsets.ISO_8859_1);
    if (!head.startsWith("HTTP/1.1 200") && !head.startsWith("HTTP/1.0 200")) {
      int eol = head.indexOf('\r');
      throw unreachable(target, "answered \"" + (eol < 0 ? head : head.substring(0, eol)) + "\"");
    }
    String exitText = header(head, "jipam-exit");
    if (exitText == null || (!exitText.equals("0") && !exitText.equals("1"))) {
      throw unreachable(target, "answer without a valid Jipam-Exit header");
    }
    int bodyStart = headEnd + 4;
    byte[] body;
    String chunked = header(head, "transfer-encoding");
    if (chunked != null && chunked.equalsIgnoreCase("chunked")) {
      body = dechunk(target, answer, bodyStart);
    } else {
      String length = header(head, "content-length");
      int n;
      try {
        n = length == null ? answer.length - bodyStart : Integer.parseInt(length);
      } catch (NumberFormatException e) {
        n = -1;
      }
      if (n < 0 || (long) bodyStart + n > answer.length) {
        throw unreachable(target, "answer body shorter than its Content-Length " + length);
      }
      body = new byte[n];
      System.arraycopy(answer, bodyStart, body, 0, n);
    }
    return new Reply(body, exitText.charAt(0) - '0');
  }

  private static byte[] dechunk(Target target, byte[] answer, int at) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int i = at;
    while (true) {
      int eol = -1;
      for (int j = i; j + 1 < answer.length; j++) {
        if (answer[j] == '\r' && answer[j + 1] == '\n') {
          eol = j;
          break;
        }
      }
      if (eol < 0) {
        throw unreachable(target, "truncated chunked answer");
      }
      String sizeText = new String(answer, i, eol - i, StandardCharsets.ISO_8859_1);
      int semi = sizeText.indexOf(';');
      int size;
      try {
        size = Integer.parseInt((semi < 0 ? sizeText : sizeText.substring(0, semi)).trim(), 16);
      } catch (NumberFormatException e) {
        throw unreachable(target, "bad chunk size \"" + sizeText + "\"");
      }
      if (size < 0) {
        throw unreachable(target, "bad chunk size \"" + sizeText + "\"");
      }
      if (size == 0) {
        return out.toByteArray();
      }
      if ((long) eol + 2 + size > answer.length) {
        throw unreachable(target, "truncated chunk");
      }
      out.write(answer, eol + 2, size);
      i = eol + 2 + size + 2;
    }
  }

  private static int indexOf(byte[] a, int from) {
    for (int i = from; i + 3 < a.length; i++) {
      if (a[i] == '\r' && a[i + 1] == '\n' && a[i + 2] == '\r' && a[i + 3] == '\n') {
        return i;
      }
    }
    return -1;
  }

  /** The value of a header (name in lower case), or null. */
  private static String header(String head, String lowerName) {
    int at = 0;
    while (true) {
      int eol = head.indexOf("\r\n", at);
      if (eol < 0) {
        return null;
      }
      int start = eol + 2;
      int end = head.indexOf("\r\n", start);
      String line = end < 0 ? head.substring(start) : head.substring(start, end);
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT).equals(lowerName)) {
        return line.substring(colon + 1).trim();
      }
      at = start;
    }
  }

  /** Closes the channel when the bound passes, which ends a blocked connect, read or write. */
  private static final class Watchdog extends Thread {
    private final SocketChannel channel;
    private final long millis;
    private final Object lock = new Object();
    volatile boolean fired;

    Watchdog(SocketChannel channel, long millis) {
      super("jipam-daemon-timeout");
      setDaemon(true);
      this.channel = channel;
      this.millis = millis;
    }

    /**
     * Waits on a monitor rather than in {@code Thread.sleep}, whose JFR event class the start-up
     * cache cannot hold (it would be read from the JDK's image on every call).
     */
    @Override
    public void run() {
      long deadline = System.nanoTime() + millis * 1_000_000L;
      synchronized (lock) {
        for (long left = millis; left > 0; left = (deadline - System.nanoTime()) / 1_000_000L) {
          try {
            lock.wait(left);
          } catch (InterruptedException e) {
            return;
          }
        }
      }
      fired = true;
      try {
        channel.close();
      } catch (IOException e) {
        // the blocked call fails either way
      }
    }
  }
}
