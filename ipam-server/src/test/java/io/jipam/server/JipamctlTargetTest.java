package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code show} and {@code release} refuse an argument that names no address and no container, as
 * a usage error before anything is opened: an empty one was an empty filter, which matched every
 * allocation, so a script's {@code release "$CID" --yes} with CID unset released every address of
 * every pool.
 */
class JipamctlTargetTest {
  @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir;

  /**
   * A socket file no jipamd listens on (one killed with SIGKILL leaves it): one line saying the
   * connection was refused and why that happens, then the hint whole; the transport's exception
   * text (which cut the hint off at the message bound) is not in it.
   */
  @Test
  void list_staleSocketFile_oneLineSayingRefusedWithTheWholeHint() throws Exception {
    java.nio.file.Path socket = dir.resolve("stale.sock");
    try (java.nio.channels.ServerSocketChannel s = java.nio.channels.ServerSocketChannel.open(
        java.net.StandardProtocolFamily.UNIX)) {
      s.bind(java.net.UnixDomainSocketAddress.of(socket)); // closed without removing its file
    }
    CtlRun r = CtlRun.of("--server", "unix:" + socket, "list");
    assertEquals(1, r.exit(), r.toString());
    String line = r.err().strip();
    assertEquals(1, line.lines().count(), r.toString());
    assertTrue(line.contains("jipamd at unix:" + socket + " refused the connection (a socket file no jipamd listens on")
        && line.endsWith("--etcd-config FILE"), r.toString());
    assertTrue(!line.contains("Exception"), r.toString());
  }

  @Test
  void showAndRelease_emptyOrNoContainer_usageErrorNothingOpened() {
    for (List<String> command : List.of(List.of("release", "", "--yes"), List.of("release", "/eth0", "--yes"),
        List.of("release", "", "--dry-run"), List.of("show", ""), List.of("show", "/eth0"))) {
      // a jipamd that does not exist: a usage error is found before it would be asked
      List<String> args = new java.util.ArrayList<>(List.of("--server", "unix:/nonexistent/jipam.sock"));
      args.addAll(command);
      CtlRun r = CtlRun.of(args.toArray(String[]::new));
      assertEquals(2, r.exit(), command + ": " + r);
      assertTrue(r.err().contains("names no address and no container") && r.err().strip().lines().count() == 1,
          command + ": " + r);
    }
  }
}
