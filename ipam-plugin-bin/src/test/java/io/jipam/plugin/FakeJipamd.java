package io.jipam.plugin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for jipamd's unix socket that answers every request with the same scripted bytes
 * (garbage, an oversized answer, nothing at all), for the daemon clients' fault tests. It reads
 * each request whole (by its Content-Length) before answering, keeps what it received, and closes
 * the connection after the answer; with a null answer it never answers and keeps the connection
 * open (a hung jipamd). {@link #unread} makes one that never reads the request: it waits a moment,
 * writes its answer (if any) and closes, so the kernel resets the connection under the client.
 * Closing it closes every connection.
 */
final class FakeJipamd implements AutoCloseable {
  final Path socket;
  private final ServerSocketChannel server;
  private final List<SocketChannel> open = new CopyOnWriteArrayList<>();
  /** The bodies of the requests received whole, in order. */
  final List<byte[]> requests = new CopyOnWriteArrayList<>();
  private final Thread acceptor;
  /** Whether it reads each request before answering. */
  private final boolean reads;

  FakeJipamd(Path socket, byte[] answer) throws IOException {
    this(socket, answer, true);
  }

  /** One that answers {@code answer} (null: nothing) without reading the request, then closes. */
  static FakeJipamd unread(Path socket, byte[] answer) throws IOException {
    return new FakeJipamd(socket, answer, false);
  }

  private FakeJipamd(Path socket, byte[] answer, boolean reads) throws IOException {
    this.socket = socket;
    this.reads = reads;
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    acceptor = new Thread(() -> serve(answer), "fake-jipamd");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  static byte[] bytes(String latin1) {
    return latin1.getBytes(StandardCharsets.ISO_8859_1);
  }

  private void serve(byte[] answer) {
    while (server.isOpen()) {
      SocketChannel c;
      try {
        c = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      open.add(c);
      Thread t = new Thread(() -> answer(c, answer), "fake-jipamd-conn");
      t.setDaemon(true);
      t.start();
    }
  }

  private void answer(SocketChannel c, byte[] answer) {
    try {
      if (!reads) {
        Thread.sleep(200); // the request arrives, unread: closing then resets the connection
        if (answer != null) {
          c.write(ByteBuffer.wrap(answer));
        }
        c.close();
        return;
      }
      byte[] body = readRequest(c);
      if (body != null) {
        requests.add(body);
      }
      if (answer == null) {
        return; // hung: the connection stays open until close()
      }
      ByteBuffer out = ByteBuffer.wrap(answer);
      while (out.hasRemaining()) {
        c.write(out);
      }
      c.close();
    } catch (IOException e) {
      // the client went away: nothing to answer
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The request's body, read by its Content-Length; null when the client stopped early. */
  private static byte[] readRequest(SocketChannel c) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    ByteBuffer in = ByteBuffer.allocate(65536);
    int headEnd = -1;
    long length = -1;
    while (true) {
      if (headEnd >= 0 && all.size() >= headEnd + 4 + length) {
        byte[] a = all.toByteArray();
        return java.util.Arrays.copyOfRange(a, headEnd + 4, (int) (headEnd + 4 + length));
      }
      in.clear();
      if (c.read(in) < 0) {
        return null;
      }
      all.write(in.array(), 0, in.position());
      if (headEnd < 0) {
        String text = all.toString(StandardCharsets.ISO_8859_1);
        headEnd = text.indexOf("\r\n\r\n");
        if (headEnd >= 0) {
          int at = text.toLowerCase(java.util.Locale.ROOT).indexOf("content-length:");
          length = Long.parseLong(text.substring(at + 15, text.indexOf('\r', at)).trim());
        }
      }
    }
  }

  /** Stops listening but leaves the socket file: what a jipamd killed with SIGKILL leaves. */
  void closeKeepingFile() throws IOException {
    stopListening();
    for (SocketChannel c : open) {
      c.close();
    }
  }

  @Override
  public void close() throws IOException {
    closeKeepingFile();
    Files.deleteIfExists(socket);
  }

  /**
   * Closes the listener and waits for the acceptor to leave {@code accept}: until it has, the
   * kernel keeps the listening socket alive, and a client's connect in that window succeeds and is
   * then reset ("Connection reset" where a stale socket must give "Connection refused").
   */
  private void stopListening() throws IOException {
    server.close();
    try {
      acceptor.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for the fake jipamd's acceptor to stop", e);
    }
    if (acceptor.isAlive()) {
      throw new IOException("the fake jipamd's acceptor did not leave accept within 10 s");
    }
  }
}
