package io.jipam.bench.tools;

import java.io.ByteArrayOutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.LockSupport;

/**
 * CNI calls sent to a jipamd's unix socket from this one process, with no process started per
 * call: the shim's request (one connection per call, {@code Connection: close}), ADD then DEL of
 * each attachment, {@code GAP_MS} milliseconds of pause after each call. What jipamd's own time per
 * call is without the exec of a shim between calls, back to back ({@code GAP_MS} 0) or after an idle
 * pause (bench/scripts/jipamd-cni-gaps.sh reads jipamd's call log for the figures).
 * {@code CniCallLoop SOCKET PAIRS GAP_MS PREFIX}; exits 1 at the first call not answered with exit 0.
 */
public final class CniCallLoop {
  private CniCallLoop() {}

  public static void main(String[] args) throws Exception {
    String socket = args[0];
    int pairs = Integer.parseInt(args[1]);
    long gapNanos = (long) (Double.parseDouble(args[2]) * 1_000_000);
    String prefix = args[3];
    String config = "{\"cniVersion\":\"1.0.0\",\"name\":\"calls\",\"ipam\":{\"type\":\"jipam\",\"daemon\":"
        + "{\"socket\":\"" + socket + "\"},\"subnet\":\"198.18.0.0/24\"}}";
    for (int i = 0; i < pairs; i++) {
      for (String command : new String[] {"ADD", "DEL"}) {
        String answer = call(socket, command, prefix + i, config);
        if (!answer.contains("Jipam-Exit: 0\r\n")) {
          System.err.println("CniCallLoop: " + command + " " + prefix + i + " answered: " + answer);
          System.exit(1);
        }
        if (gapNanos > 0) {
          LockSupport.parkNanos(gapNanos);
        }
      }
    }
  }

  /** One call as the shim sends it; the whole answer, as text. */
  static String call(String socket, String command, String id, String config) throws Exception {
    String environment = "CNI_COMMAND=" + command + "\nCNI_CONTAINERID=" + id
        + "\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0\nCNI_PATH=/usr/lib/cni";
    byte[] body = (environment + "\n\n" + config).getBytes(StandardCharsets.UTF_8);
    byte[] head = ("POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nContent-Length: " + body.length
        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      ByteBuffer request = ByteBuffer.allocate(head.length + body.length).put(head).put(body).flip();
      while (request.hasRemaining()) {
        channel.write(request);
      }
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      ByteBuffer buffer = ByteBuffer.allocate(8192);
      while (channel.read(buffer.clear()) > 0) {
        answer.write(buffer.array(), 0, buffer.position());
      }
      return answer.toString(StandardCharsets.UTF_8);
    }
  }
}
