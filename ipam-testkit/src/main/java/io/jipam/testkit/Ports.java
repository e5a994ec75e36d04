package io.jipam.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * Free TCP ports on loopback, as the kernel hands them out for port 0. A port is free when asked;
 * another process may take it before the caller binds it, which the kernel's sequential
 * assignment of ephemeral ports makes rare. Thread-safe.
 */
public final class Ports {
  private Ports() {}

  /** One free loopback port. */
  public static int free() {
    return free(1)[0];
  }

  /** {@code n} distinct free loopback ports (held open together while chosen, so no two are equal). */
  public static int[] free(int n) {
    int[] out = new int[n];
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        held.add(s);
        out[i] = s.getLocalPort();
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("no free loopback port", e);
    } finally {
      for (ServerSocket s : held) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing a listening socket we opened; nothing to do
        }
      }
    }
  }
}
