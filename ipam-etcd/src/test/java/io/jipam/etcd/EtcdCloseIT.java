package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PodRef;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Closing a store while its callers are busy: the close ends the calls (each with an
 * {@link IpamException}), and no task of the client's shutdown meets event loops that have ended
 * (Netty's "Force-closing a channel whose registration task was not accepted", gRPC's records with
 * a {@link RejectedExecutionException}). The etcd module's tests have no SLF4J binding, so Netty and
 * gRPC log through java.util.logging, where a handler here sees them. Only those records count:
 * the handler is the JVM's, and other classes' fault tests beside this one make gRPC warn.
 */
@ExtendWith(EtcdExtension.class)
class EtcdCloseIT {
  private static final Logger NETTY = Logger.getLogger("io.netty");
  private static final Logger GRPC = Logger.getLogger("io.grpc");

  private final Etcd etcd;
  private final ConcurrentLinkedQueue<LogRecord> warnings = new ConcurrentLinkedQueue<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      boolean endedLoops = r.getThrown() instanceof RejectedExecutionException
          || String.valueOf(r.getMessage()).startsWith("Force-closing a channel");
      if (r.getLevel().intValue() >= Level.WARNING.intValue() && endedLoops) {
        warnings.add(r);
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  EtcdCloseIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @BeforeEach
  void listen() {
    NETTY.addHandler(capture);
    GRPC.addHandler(capture);
  }

  @AfterEach
  void stopListening() {
    NETTY.removeHandler(capture);
    GRPC.removeHandler(capture);
  }

  @Test
  @Timeout(120)
  void close_callersBusy_endsTheirCallsNoTaskMeetsEndedLoops() throws Exception {
    String prefix = "/jipam-close-" + UUID.randomUUID();
    Pool pool = TestPools.pool("close", AllocationOrder.ROUND_ROBIN, "198.18.0.0/22");
    for (int round = 0; round < 12; round++) {
      EtcdStore store = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-" + round).withPrefix(prefix));
      AtomicLong done = new AtomicLong();
      List<Thread> callers = new ArrayList<>();
      for (int c = 0; c < 4; c++) {
        String name = "r" + round + "c" + c;
        Thread caller = new Thread(() -> {
          try {
            for (int i = 0; ; i++) {
              Attachment att = new Attachment(name + "-" + i, "eth0");
              store.allocate(pool, new AllocationRequest(att, List.of(), new PodRef("ns", name)));
              store.release(pool, att);
              done.incrementAndGet();
            }
          } catch (IpamException | IllegalStateException closed) {
            // the close ended this caller's call
          }
        }, name);
        caller.setDaemon(true); // a failed assertion below must not leave the test JVM running
        caller.start();
        callers.add(caller);
      }
      long target = 5 + round;
      try {
        Await.until(() -> done.get() >= target, Duration.ofSeconds(30), () -> "pairs done: " + done.get());
      } finally {
        store.close();
      }
      for (Thread t : callers) {
        t.join(10_000);
        assertTrue(!t.isAlive(), "a caller is still in a call 10 s after the close");
      }
    }
    assertEquals(List.of(), warnings.stream().map(r -> r.getLoggerName() + ": " + r.getMessage()).toList());
  }
}
