package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Which CNI calls on jipamd's socket define a network's pool: an ADD the store took, as on gRPC.
 * A DEL, GC, CHECK or STATUS with other ranges (the runtime's cached config of a pod from before
 * the network's config changed and jipamd restarted) is served with its own ranges and fixes none;
 * the ADD with the new ranges then defines the pool, and a later call naming other ranges again is
 * refused with code 7.
 */
class CniEndpointDefinitionsTest {
  static final String OLD = "{'cniVersion':'1.1.0','name':'pin','ipam':{'type':'jipam','subnet':'198.19.100.0/24'}}";
  static final String NEW = OLD.replace("198.19.100.0/24", "198.19.101.0/24");

  static byte[] body(String command, String id, String conf) {
    String env = "CNI_COMMAND=" + command + (id == null ? "" : "\nCNI_CONTAINERID=" + id
        + "\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0") + "\nCNI_PATH=/opt/cni/bin";
    return (env + "\n\n" + conf.replace('\'', '"')).getBytes(StandardCharsets.UTF_8);
  }

  static String text(CniEndpoint.Reply r) {
    return r.summary() + " " + new String(r.output(), StandardCharsets.UTF_8);
  }

  @org.junit.jupiter.api.Test
  void run_environmentRefused_summaryNamesNoCommand() {
    CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(),
        new Metrics(), Duration.ofSeconds(30), "node-1");
    CniEndpoint.Reply r = cni.run(("CNI_PATH=/opt/cni/bin\n\n" + NEW.replace('\'', '"')).getBytes(StandardCharsets.UTF_8));
    assertEquals(1, r.exit(), text(r));
    assertTrue(r.summary().startsWith("- outcome=error INVALID_ENVIRONMENT: "), r.summary()); // was "null outcome=..."
  }

  /** A failed call's log line names its network and attachment, as a successful one's does. */
  @org.junit.jupiter.api.Test
  void run_addFails_summaryNamesPoolAndAttachment() {
    CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(),
        new Metrics(), Duration.ofSeconds(30), "node-1");
    String tiny = NEW.replace("198.19.101.0/24", "192.0.2.0/30");
    assertEquals(0, cni.run(body("ADD", "first", tiny)).exit());
    CniEndpoint.Reply r = cni.run(body("ADD", "second", tiny));
    assertEquals(1, r.exit(), text(r));
    assertTrue(r.summary().startsWith("ADD pool=pin attachment=second/eth0 outcome=error POOL_EXHAUSTED: "), r.summary());
  }

  @ParameterizedTest
  @ValueSource(strings = {"DEL", "GC", "STATUS", "CHECK"})
  void run_otherCommandWithOldRanges_definesNothingAddWithNewRangesDefines(String command) {
    CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(),
        new Metrics(), Duration.ofSeconds(30), "node-1");
    String id = List.of("GC", "STATUS").contains(command) ? null : "old-pod";
    String conf = command.equals("GC") ? OLD.replace("}}", "},'cni.dev/valid-attachments':[]}") : OLD;
    CniEndpoint.Reply old = cni.run(body(command, id, conf));
    // CHECK of an attachment the store does not hold fails; it still must define nothing
    assertTrue(command.equals("CHECK") || old.exit() == 0, text(old));

    CniEndpoint.Reply add = cni.run(body("ADD", "new-pod", NEW));
    assertEquals(0, add.exit(), text(add));
    assertTrue(text(add).contains("198.19.101.2"), text(add));

    CniEndpoint.Reply again = cni.run(body("ADD", "other-pod", OLD));
    assertEquals(1, again.exit(), text(again));
    assertTrue(text(again).contains("\"code\": 7") && text(again).contains("A pool's ranges and order are fixed while jipamd runs"),
        text(again));
  }

  /**
   * After the network's ranges changed in its config (a new rangeEnd), the runtime's DEL, GC, CHECK
   * or STATUS naming the new ranges, or the old ones it cached, runs with its own config as in
   * direct mode: DEL and GC release (they were refused with code 7 until jipamd restarted, the
   * addresses staying allocated).
   */
  @ParameterizedTest
  @ValueSource(strings = {"DEL", "GC", "STATUS"})
  void run_otherCommandAfterTheRangesChanged_servedWithItsOwnConfig(String command) {
    CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(),
        new Metrics(), Duration.ofSeconds(30), "node-1");
    String changed = OLD.replace("'}}", "','rangeEnd':'198.19.100.200'}}");
    CniEndpoint.Reply add = cni.run(body("ADD", "pod-1", OLD));
    assertEquals(0, add.exit(), text(add));
    String id = List.of("GC", "STATUS").contains(command) ? null : "pod-1";
    String conf = command.equals("GC") ? changed.replace("}}", "},'cni.dev/valid-attachments':[]}") : changed;
    CniEndpoint.Reply other = cni.run(body(command, id, conf));
    assertEquals(0, other.exit(), text(other));
    if (!command.equals("STATUS")) {
      CniEndpoint.Reply again = cni.run(body("ADD", "pod-2", OLD));
      assertTrue(text(again).contains("198.19.100.2/"), "released, so handed out again: " + text(again));
    }
  }

  /**
   * The address policy is not part of a pool's definition: an operator who edits the network's
   * sticky rule or reuse delay while pods run gets the new policy on each call, and the runtime's
   * DEL with the config it cached at ADD still releases (both were refused with code 7).
   */
  @ParameterizedTest
  @ValueSource(strings = {",'sticky':{'pods':['db/*'],'holdSeconds':600}", ",'reuseDelaySeconds':60"})
  void run_policyChangedWhilePodsRun_eachCallServedWithItsOwnPolicy(String policy) {
    CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, CallLog.quiet(),
        new Metrics(), Duration.ofSeconds(30), "node-1");
    String with = NEW.replace("'}}", "'" + policy + "}}");
    String[][] calls = {{"ADD", "pod-1", with}, {"ADD", "pod-2", with}, {"DEL", "pod-1", NEW}, {"ADD", "pod-3", NEW},
        {"DEL", "pod-2", with}, {"ADD", "pod-4", with}};
    for (String[] call : calls) {
      CniEndpoint.Reply r = cni.run(body(call[0], call[1], call[2]));
      assertEquals(0, r.exit(), String.join(" ", call[0], call[1]) + ": " + text(r));
    }
  }
}
