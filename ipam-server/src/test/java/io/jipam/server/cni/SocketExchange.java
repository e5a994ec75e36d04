package io.jipam.server.cni;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A test client's exchange on a unix socket: the request's bytes in one write, then all the server sends. */
public final class SocketExchange {
  private SocketExchange() {}

  /**
   * Sends {@code request} in one write (then, with {@code halfClose}, shuts down the sending half)
   * and reads until the server closes the connection; the bytes read, as ISO-8859-1 text.
   */
  public static String exchange(Path socket, byte[] request, boolean halfClose) throws IOException {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      ByteBuffer out = ByteBuffer.wrap(request);
      while (out.hasRemaining()) {
        ch.write(out);
      }
      if (halfClose) {
        ch.shutdownOutput();
      }
      ByteArrayOutputStream in = new ByteArrayOutputStream();
      ByteBuffer buf = ByteBuffer.allocate(8192);
      while (ch.read(buf) >= 0) {
        in.write(buf.array(), 0, buf.position());
        buf.clear();
      }
      return in.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
