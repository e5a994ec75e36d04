package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A CNI call that reaches jipamd's store after its client's deadline (less the margin) is refused
 * with code 11 and changes nothing: held in jipamd (paused, its workers busy) after the client gave
 * up, it would run out of order with the runtime's next call (a late ADD after the DEL, leaking its
 * address). One in time, or from a client that sends no deadline, runs. The header as the fast path
 * reads it: {@code CniFastPathTest}; with real processes: {@code ShimFaultIT}.
 */
class CniEndpointDeadlineTest {
  private static final String CONF = "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"ipam\":{\"type\":\"jipam\","
      + "\"subnet\":\"198.18.0.0/29\"}}";

  private static byte[] call(String command, String id) {
    return ("CNI_COMMAND=" + command + "\nCNI_CONTAINERID=" + id + "\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0"
        + "\nCNI_PATH=/p\n\n" + CONF).getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void serve_deadlinePassedInTimeOrNone_refusedChangingNothingOrRun() {
    long now = System.currentTimeMillis();
    record Row(String name, long deadline, boolean runs) {}
    for (Row row : List.of(new Row("passed a minute ago", now - 60_000, false),
        new Row("within the margin", now + CniEndpoint.DEADLINE_MARGIN_MILLIS / 5, false),
        new Row("ten seconds ahead", now + 10_000, true), new Row("none sent", 0, true))) {
      IpamStore store = MemoryStores.open();
      CniEndpoint cni = new CniEndpoint(store, new PoolRegistry(), Runnable::run, CallLog.quiet(), new Metrics(),
          Duration.ofSeconds(30), "node-1");
      CniEndpoint.Reply[] add = new CniEndpoint.Reply[1];
      cni.serve(call("ADD", "c1"), System.nanoTime(), row.deadline, r -> add[0] = r);
      String out = new String(add[0].output(), StandardCharsets.UTF_8);
      if (row.runs) {
        assertEquals(0, add[0].exit(), row.name + ": " + out);
      } else {
        assertEquals(1, add[0].exit(), row.name + ": " + out);
        assertTrue(out.contains("\"code\": 11") && out.contains("not applied: the call reached jipamd's store "),
            row.name + ": " + out);
      }
      // the next ADD gets the first address when the refused one took nothing, the second otherwise
      CniEndpoint.Reply[] next = new CniEndpoint.Reply[1];
      cni.serve(call("ADD", "c2"), System.nanoTime(), 0, r -> next[0] = r);
      String nextOut = new String(next[0].output(), StandardCharsets.UTF_8);
      assertTrue(nextOut.contains(row.runs ? "198.18.0.3/29" : "198.18.0.2/29"), row.name + ": " + nextOut);
    }
  }

  @Test
  void deadline_headerValues_parsedOrNone() {
    assertEquals(1_800_000_000_123L, CniEndpoint.deadline("1800000000123"));
    for (String bad : new String[] {null, "", "-5", "12a", " 12", "1".repeat(19), "0x10"}) {
      assertEquals(0, CniEndpoint.deadline(bad), String.valueOf(bad));
    }
  }
}
