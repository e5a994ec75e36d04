package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.GrpcErrors;
import io.jipam.core.store.capability.ListPages;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.ctl.Jipamctl;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Etcd;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * ReclaimNode, its dry run and LiftFence through jipamd and jipamctl, on a real etcd: node-b's
 * jipamd allocates; the operator talks to node-a's jipamd.
 */
@Timeout(120)
class ReclaimNodeIT {
  @TempDir static Path dir;
  static Etcd etcd;
  static IpamServer nodeA;
  static IpamServer nodeB;
  static RemoteStore b;
  static final Pool POOL = IpamServerTest.pool("reclaim", "198.18.30.0/24");

  @BeforeAll
  static void start() throws Exception {
    etcd = Etcd.single();
    nodeA = IpamServer.start(EtcdStores.open(EtcdStoreConfig.of(List.of(etcd.endpoint()), "node-a")),
        IpamServer.Settings.unix(dir.resolve("a.sock")), CallLog.quiet());
    // node-b's wall clock is 2 s behind node-a's: its commits look 2 s old to the operator, so a
    // quiet period of 1 s has passed without waiting for it
    nodeB = IpamServer.start(EtcdStores.open(EtcdStoreConfig.of(List.of(etcd.endpoint()), "node-b"),
        Clock.offset(Clock.systemUTC(), Duration.ofSeconds(-2))),
        IpamServer.Settings.unix(dir.resolve("b.sock")), CallLog.quiet());
    b = RemoteStore.connect(RemoteStore.Target.parse("unix:" + dir.resolve("b.sock")));
    EtcdReplicasIT.awaitEtcd(b, POOL);
  }

  @AfterAll
  static void stop() throws Exception {
    if (b != null) {
      b.close();
    }
    for (IpamServer s : new IpamServer[] {nodeA, nodeB}) {
      if (s != null) {
        s.close();
      }
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  record Run(int exit, String out, String err) {}

  static Run ctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Jipamctl.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 2];
    all[0] = "--server";
    all[1] = "unix:" + dir.resolve("a.sock");
    System.arraycopy(args, 0, all, 2, args.length);
    return new Run(cl.execute(all), out.toString(), err.toString());
  }

  static String allocate(String id) {
    AllocationOutcome out = b.allocate(POOL, AllocationRequest.of(new Attachment(id, "eth0")));
    return assertInstanceOf(AllocationOutcome.Allocated.class, out).allocations().get(0).address().toString();
  }

  @Test
  void reclaimNode_liveNode_refusedUnlessForcedThenFencedUntilLifted() throws Exception {
    String first = allocate("live-1");
    String second = allocate("live-2");

    Run dry = ctl("reclaim-node", "node-b", "--dry-run");
    assertEquals(1, dry.exit(), dry.out() + dry.err());
    assertTrue(dry.out().contains("would be refused"), dry.out());
    assertTrue(dry.out().contains("would release") && dry.out().contains(first) && dry.out().contains(second),
        dry.out());
    assertEquals(2, b.list(POOL).size(), "a dry run changes nothing");

    Run refused = ctl("reclaim-node", "node-b");
    assertEquals(1, refused.exit(), refused.out() + refused.err());
    assertTrue(refused.err().contains("refused") && refused.err().contains("s ago (at 20"), refused.err());
    assertTrue(refused.err().contains("node node-b not reclaimed: if you know it is gone, run the same command with"
        + " --force") && refused.err().strip().lines().count() == 1, refused.err());
    assertEquals(2, b.list(POOL).size(), "a refused reclaim changes nothing");
    allocate("live-3"); // not fenced: node-b still allocates

    Run forcedDry = ctl("-o", "json", "reclaim-node", "node-b", "--dry-run", "--force");
    assertEquals(0, forcedDry.exit(), forcedDry.out() + forcedDry.err());
    JsonObject preview = new JsonObject(forcedDry.out());
    assertEquals(3, preview.getJsonArray("released").size(), preview.encode());
    assertTrue(preview.getBoolean("dryRun") && preview.getBoolean("looksAlive") && preview.getBoolean("forced"));
    assertFalse(preview.getBoolean("wouldRefuse"));
    assertEquals(3, b.list(POOL).size(), "a forced dry run changes nothing either");

    Run forced = ctl("-o", "json", "reclaim-node", "node-b", "--force");
    assertEquals(0, forced.exit(), forced.out() + forced.err());
    JsonObject report = new JsonObject(forced.out());
    assertEquals(3, report.getJsonArray("released").size(), report.encode());
    assertTrue(report.getBoolean("forced"), report.encode());
    assertTrue(report.getString("lastSeen").startsWith("20"), report.encode());
    assertTrue(report.getInteger("blocksDeleted") + report.getInteger("blocksOrphaned") >= 1, report.encode());
    assertEquals(List.of(), b.list(POOL));

    IpamException fenced = assertThrows(IpamException.class, () -> allocate("after-fence"));
    assertEquals(ErrorCode.NOT_AVAILABLE, fenced.code(), fenced.getMessage());

    Run lift = ctl("lift-fence", "node-b");
    assertEquals(0, lift.exit(), lift.err());
    assertTrue(lift.out().contains("fence of node node-b lifted"), lift.out());
    Run again = ctl("lift-fence", "node-b");
    assertTrue(again.out().contains("had no fence"), again.out());
    allocate("after-lift");

    // a short quiet period: a node quiet for longer (node-b's clock is 2 s behind) is reclaimed without --force
    Run quiet = ctl("reclaim-node", "node-b", "--quiet-period", "1");
    assertEquals(0, quiet.exit(), quiet.out() + quiet.err());
    assertTrue(quiet.out().contains("released ") && !quiet.out().contains("forced"), quiet.out());
    assertEquals(List.of(), b.list(POOL));
    assertTrue(ctl("lift-fence", "node-b").out().contains("lifted"));
  }

  @Test
  void reclaimNode_neverSeenNode_dryRunEmptyAndNotRefused() {
    Run dry = ctl("-o", "json", "reclaim-node", "node-never", "--dry-run");
    assertEquals(0, dry.exit(), dry.out() + dry.err());
    JsonObject preview = new JsonObject(dry.out());
    assertEquals(0, preview.getJsonArray("released").size());
    assertFalse(preview.getBoolean("wouldRefuse"));
    assertEquals(null, preview.getString("lastSeen"));
  }

  @Test
  void reclaimNode_negativeQuietPeriod_usageErrorNamingIt() {
    Run r = ctl("reclaim-node", "node-x", "--quiet-period", "-3");
    assertEquals(2, r.exit(), r.out() + r.err());
    assertTrue(r.err().contains("--quiet-period -3"), r.err());
  }

  /** Every key in etcd: a call refused before it reaches the store adds none. */
  static java.util.Set<String> etcdKeys() throws Exception {
    String body = "{\"key\":\"AA==\",\"range_end\":\"AA==\",\"keys_only\":true}";
    java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(etcd.endpoint() + "/v3/kv/range"))
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    java.util.Set<String> keys = new java.util.TreeSet<>();
    io.vertx.core.json.JsonArray kvs = new JsonObject(r.body()).getJsonArray("kvs", new io.vertx.core.json.JsonArray());
    for (int i = 0; i < kvs.size(); i++) {
      keys.add(new String(java.util.Base64.getDecoder().decode(kvs.getJsonObject(i).getString("key")),
          java.nio.charset.StandardCharsets.UTF_8));
    }
    return keys;
  }

  static final List<String> BAD_NODES = List.of("../../x", "n".repeat(300), "a/b", "_x", ".", "x\u001b[2J");

  @Test
  void reclaimNodeLiftFenceList_badNodeName_invalidArgumentQuotingItNothingWritten() throws Exception {
    Pool other = IpamServerTest.pool("reclaim-bad", "198.18.31.0/24");
    java.util.Set<String> before = etcdKeys();
    for (String bad : BAD_NODES) {
      String quoted = io.jipam.core.store.Printable.quote(bad);
      IpamException reclaim = assertThrows(IpamException.class, () -> b.reclaimNode(bad,
          io.jipam.core.store.capability.ReclaimPolicy.FORCE));
      assertEquals(ErrorCode.INVALID_CONFIG, reclaim.code(), reclaim.getMessage());
      assertTrue(reclaim.getMessage().contains("ReclaimNode: invalid node name " + quoted), reclaim.getMessage());
      IpamException lift = assertThrows(IpamException.class, () -> b.liftFence(bad));
      assertEquals(ErrorCode.INVALID_CONFIG, lift.code(), lift.getMessage());
      assertTrue(lift.getMessage().contains("LiftFence: invalid node name " + quoted), lift.getMessage());
      IpamException list = assertThrows(IpamException.class, () -> b.page(other,
          new ListPages.Filter("", "", "", "", bad), null, 0));
      assertEquals(ErrorCode.INVALID_CONFIG, list.code(), list.getMessage());
      assertTrue(list.getMessage().contains("invalid node name " + quoted), list.getMessage());
    }
    assertEquals(io.vertx.grpc.common.GrpcStatus.INVALID_ARGUMENT, GrpcErrors.status(ErrorCode.INVALID_CONFIG));
    assertEquals(before, etcdKeys(), "a refused call writes nothing");
  }

  @Test
  void jipamctl_badNodeName_usageErrorOneLine() throws Exception {
    java.util.Set<String> before = etcdKeys();
    for (String bad : BAD_NODES) {
      for (String[] args : List.of(new String[] {"reclaim-node", "--force", bad}, new String[] {"lift-fence", bad},
          new String[] {"list", "--node", bad})) {
        Run r = ctl(args);
        assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("invalid node name " + io.jipam.core.store.Printable.quote(bad)), r.err());
      }
    }
    assertEquals(before, etcdKeys());
  }
}
