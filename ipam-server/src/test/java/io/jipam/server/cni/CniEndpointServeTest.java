package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

/**
 * {@link CniEndpoint#serve} when the answer cannot be delivered: a call abandoned at jipamd's
 * shutdown bound ends after the connection's event loop has ended, and handing its reply over
 * throws {@link RejectedExecutionException}. The call is done (the store's change stands); it is
 * logged as not answered, and nothing is thrown on the worker.
 */
class CniEndpointServeTest {
  static final String CONF = "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"ipam\":{\"type\":\"jipam\","
      + "\"subnet\":\"198.18.0.0/29\"}}";

  @Test
  void serve_eventLoopEndedBeforeTheAnswer_loggedNotAnsweredNothingThrown() {
    IpamStore store = MemoryStores.open();
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    CniEndpoint cni = new CniEndpoint(store, new PoolRegistry(), Runnable::run,
        new CallLog(new PrintStream(logged, true, StandardCharsets.UTF_8), true), new Metrics(), Duration.ofSeconds(30),
        "node-1");
    byte[] body = ("CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n"
        + CONF).getBytes(StandardCharsets.UTF_8);
    cni.serve(body, System.nanoTime(), reply -> {
      throw new RejectedExecutionException("event executor terminated");
    });
    String log = logged.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("call method=CNI/ADD pool=net attachment=c1/eth0")
        && log.contains("outcome=ok not answered: jipamd stopped before the call ended"), log);
    assertEquals(1, log.lines().count(), log);
    assertEquals(1, store.list(io.jipam.core.testing.TestPools.pool("net",
        io.jipam.core.alloc.AllocationOrder.ROUND_ROBIN, "198.18.0.0/29")).size(), "the call's change stands");
  }
}
