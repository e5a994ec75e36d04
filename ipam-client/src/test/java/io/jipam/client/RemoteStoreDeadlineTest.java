package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * RemoteStore's deadline is the caller's bound: a jipamd that accepts the connection and then says
 * nothing (hung, or too slow to finish its HTTP/2 handshake) costs a caller no more than the
 * deadline, for a call that is not retried (Allocate) and for one that is (Release).
 */
@Timeout(60)
class RemoteStoreDeadlineTest {
  static final Duration DEADLINE = Duration.ofMillis(1000);
  /** Scheduling slack on a loaded machine; far less than the time a second connection attempt would add. */
  static final long SLACK_MILLIS = 400;

  @TempDir Path dir;

  @Test
  void call_jipamdAcceptsButNeverAnswers_tryAgainLaterWithinTheDeadline() throws Exception {
    Path socket = dir.resolve("silent.sock");
    Pool pool = TestPools.pool("silent", AllocationOrder.ROUND_ROBIN, "198.18.90.0/24");
    List<SocketChannel> accepted = new ArrayList<>();
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            accepted.add(server.accept()); // and never read or write
          }
        } catch (Exception e) {
          // closed
        }
      }, "silent-acceptor");
      acceptor.setDaemon(true);
      acceptor.start();
      try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(DEADLINE))) {
        Attachment a = new Attachment("c1", "eth0");
        for (String method : List.of("allocate", "release")) {
          long start = System.nanoTime();
          IpamException e = assertThrows(IpamException.class, () -> {
            if (method.equals("allocate")) {
              remote.allocate(pool, AllocationRequest.of(a));
            } else {
              remote.release(pool, a);
            }
          });
          long millis = (System.nanoTime() - start) / 1_000_000;
          assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
          assertTrue(RemoteStore.unanswered(e), e.getMessage());
          assertTrue(millis <= DEADLINE.toMillis() + SLACK_MILLIS, method + " took " + millis + " ms against a deadline of "
              + DEADLINE.toMillis() + " ms: " + e.getMessage());
        }
      }
    } finally {
      for (SocketChannel c : accepted) {
        c.close();
      }
    }
  }
}
