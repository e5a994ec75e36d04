package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Ports;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jipamctl on a real etcd, each command twice: through a jipamd on etcd ({@code --server}) and
 * opening the store itself ({@code --etcd-config}). node-a holds three addresses in its block,
 * node-b one in its own: usage per block and node, list by node, show, check, release, gc,
 * reclaim-node and lift-fence.
 */
@Timeout(120)
class JipamctlEtcdIT {
  @TempDir static Path shared;
  static Etcd etcd;
  @TempDir Path dir;
  Path config;
  IpamServer jipamd;
  final List<EtcdStore> stores = new ArrayList<>();
  // a /25 in /26 blocks: node-a gets .0/26 (62 usable), node-b .64/26 (63 usable)
  static final Pool POOL = IpamServerTest.pool("cluster", "198.18.70.0/25");

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = Etcd.single();
  }

  @AfterAll
  static void stopEtcd() throws Exception {
    etcd.close();
  }

  String prefix;

  @BeforeEach
  void populate() throws Exception {
    prefix = "/ctl-" + UUID.randomUUID();
    config = dir.resolve("etcd.json");
    Files.writeString(config, new JsonObject().put("endpoints", new JsonArray().add(etcd.endpoint())).put("node", "node-a")
        .put("prefix", prefix).put("timeoutMillis", 5000).encode());
    EtcdStore a = open("node-a", prefix);
    EtcdStore b = open("node-b", prefix);
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (true) { // etcd may still be starting
      try {
        a.usage(POOL);
        break;
      } catch (IpamException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
    for (int i = 0; i < 3; i++) {
      a.allocate(POOL, new AllocationRequest(new Attachment("a" + i, "eth0"), List.of(), new PodRef("ns", "pa" + i)));
    }
    b.allocate(POOL, new AllocationRequest(new Attachment("b0", "eth0"), List.of(), new PodRef("ns", "pb0")));
    jipamd = IpamServer.start(EtcdStores.open(EtcdStoreConfig.fromJson(new JsonObject(Files.readString(config)).getMap())),
        IpamServer.Settings.unix(dir.resolve("j.sock")), CallLog.quiet());
  }

  private EtcdStore open(String node, String prefix) {
    EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(List.of(etcd.endpoint()), node).withPrefix(prefix));
    stores.add(s);
    return s;
  }

  @AfterEach
  void close() {
    jipamd.close();
    stores.forEach(EtcdStore::close);
  }

  CtlRun ctl(String mode, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    if (mode.equals("direct")) {
      all.addAll(List.of("--etcd-config", config.toString()));
    } else {
      all.addAll(List.of("--server", "unix:" + dir.resolve("j.sock")));
    }
    return CtlRun.of(all.toArray(String[]::new));
  }

  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void usage_etcd_perRangeSetBlockAndNode(String mode) {
    CtlRun json = ctl(mode, "usage", "-o", "json");
    assertEquals(0, json.exit(), json.toString());
    JsonObject p = new JsonArray(json.out()).getJsonObject(0);
    assertEquals(4, p.getJsonArray("rangeSets").getJsonObject(0).getInteger("used"), json.out());
    assertEquals("121", p.getJsonArray("rangeSets").getJsonObject(0).getString("free"), json.out());
    JsonArray blocks = p.getJsonArray("blocks");
    assertEquals(2, blocks.size(), json.out());
    assertEquals(new JsonObject().put("rangeSet", 0).put("block", "198.18.70.0/26").put("node", "node-a").put("used", 3)
        .put("free", "59").put("utilisation", 0.0484), blocks.getJsonObject(0));
    assertEquals("198.18.70.64/26", blocks.getJsonObject(1).getString("block"));
    assertEquals("node-b", blocks.getJsonObject(1).getString("node"));
    assertEquals(1, blocks.getJsonObject(1).getInteger("used"));
    JsonArray nodes = p.getJsonArray("nodes");
    assertEquals(List.of("node-a", "node-b"), nodes.stream().map(o -> ((JsonObject) o).getString("node")).toList());
    assertEquals(1, nodes.getJsonObject(0).getInteger("blocks"));
    assertEquals(3, nodes.getJsonObject(0).getInteger("used"));

    CtlRun text = ctl(mode, "usage");
    assertEquals(0, text.exit(), text.toString());
    assertTrue(text.out().contains("BLOCK") && text.out().contains("198.18.70.64/26") && text.out().contains("node-b")
        && text.out().contains("[#"), text.out());
    CtlRun pools = ctl(mode, "pools");
    assertEquals(0, pools.exit(), pools.toString());
    assertTrue(pools.out().contains("cluster") && pools.out().contains("198.18.70.0/26"), pools.out());
  }

  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void list_byNode_onlyThatNodesAllocationsWithTheirNode(String mode) {
    CtlRun b = ctl(mode, "list", "--node", "node-b", "-o", "json");
    assertEquals(0, b.exit(), b.toString());
    JsonArray rows = new JsonArray(b.out());
    assertEquals(1, rows.size(), b.out());
    assertEquals("b0", rows.getJsonObject(0).getString("containerId"));
    assertEquals("node-b", rows.getJsonObject(0).getString("node"));
    CtlRun all = ctl(mode, "list");
    assertEquals(0, all.exit(), all.toString());
    assertEquals(3, all.out().lines().filter(l -> l.contains("node-a")).count(), all.out());
    CtlRun show = ctl(mode, "show", "a1/eth0");
    assertEquals(0, show.exit(), show.toString());
    assertTrue(show.out().contains("ns/pa1") && show.out().contains("node-a"), show.out());
    CtlRun check = ctl(mode, "check");
    assertEquals(0, check.exit(), check.toString());
    assertTrue(check.out().contains("1 pools, 4 allocations: clean"), check.out());
  }

  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void releaseGcReclaim_etcd_changeWhatTheySay(String mode) throws Exception {
    CtlRun release = ctl(mode, "release", "a0/eth0", "--yes");
    assertEquals(0, release.exit(), release.toString());
    Path valid = dir.resolve("valid");
    Files.writeString(valid, "a2/eth0\n");
    // gc on etcd touches only the store's node (node-a): a1 goes, b0 (node-b) stays
    CtlRun gcDry = ctl(mode, "gc", "--pool", "cluster", "--valid", valid.toString(), "--dry-run");
    assertEquals(0, gcDry.exit(), gcDry.toString());
    assertEquals(1, gcDry.out().lines().count(), gcDry.out());
    assertTrue(gcDry.out().startsWith("would release") && gcDry.out().contains("a1/eth0"), gcDry.out());
    CtlRun gc = ctl(mode, "gc", "--pool", "cluster", "--valid", valid.toString(), "--yes");
    assertEquals(0, gc.exit(), gc.toString());
    assertEquals(gcDry.out().replace("would release", "released"), gc.out());
    CtlRun left = ctl(mode, "list", "-o", "json");
    assertEquals(List.of("a2", "b0"), new JsonArray(left.out()).stream()
        .map(o -> ((JsonObject) o).getString("containerId")).toList(), left.out());

    CtlRun dry = ctl(mode, "reclaim-node", "node-b", "--dry-run", "--force");
    assertEquals(0, dry.exit(), dry.toString());
    assertTrue(dry.out().contains("would release") && dry.out().contains("b0/eth0"), dry.out());
    CtlRun refused = ctl(mode, "reclaim-node", "node-b");
    assertEquals(1, refused.exit(), refused.toString());
    CtlRun forced = ctl(mode, "reclaim-node", "node-b", "--force");
    assertEquals(0, forced.exit(), forced.toString());
    assertTrue(forced.out().contains("released") && forced.out().contains("b0/eth0"), forced.out());
    CtlRun lift = ctl(mode, "lift-fence", "node-b");
    assertEquals(0, lift.exit(), lift.toString());
    assertTrue(lift.out().contains("lifted"), lift.out());
  }

  /**
   * reclaim-node of a network with a sticky rule: the gone node's sticky pod keeps its address as
   * a hold (etcd keeps no rules: jipamctl takes them from --conf, jipamd from the pools it serves),
   * its other pod's address is free.
   */
  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void reclaimNode_stickyNetwork_stickyPodsAddressHeld(String mode) throws Exception {
    String json = ("{'cniVersion':'1.1.0','name':'sticky','ipam':{'type':'jipam','ranges':[[{'subnet':'198.18.71.0/26'}]],"
        + "'sticky':{'pods':['db/*'],'holdSeconds':900,'maxHeldPercent':100}}}").replace('\'', '"');
    Path conf = Files.writeString(dir.resolve("sticky.conf"), json);
    Pool sticky = io.jipam.core.cni.NetworkConfig.from(io.jipam.core.cni.JsonReader.parse(
        json.getBytes(java.nio.charset.StandardCharsets.UTF_8))).ipam().pool();
    EtcdStore b = stores.get(1);
    b.allocate(sticky, new AllocationRequest(new Attachment("s0", "eth0"), List.of(), new PodRef("db", "db-0")));
    b.allocate(sticky, new AllocationRequest(new Attachment("s1", "eth0"), List.of(), new PodRef("web", "web-0")));
    CtlRun forced;
    if (mode.equals("direct")) {
      forced = ctl(mode, "reclaim-node", "node-b", "--force", "--conf", conf.toString());
    } else {
      try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + dir.resolve("j.sock")))) {
        // jipamd serves the pool, with its rules, once it allocated from it (a read defines nothing)
        Attachment probe = new Attachment("probe", "eth0");
        remote.allocate(sticky, new AllocationRequest(probe, List.of(), new PodRef("web", "probe")));
        remote.release(sticky, probe);
      }
      forced = ctl(mode, "reclaim-node", "node-b", "--force");
    }
    assertEquals(0, forced.exit(), forced.toString());
    assertTrue(forced.out().contains("s0/eth0") && forced.out().contains("s1/eth0"), forced.out());
    List<io.jipam.core.store.Claim> claims = stores.get(0).capability(io.jipam.core.store.capability.Claims.class)
        .orElseThrow().claims(sticky);
    assertEquals(1, claims.size(), claims.toString());
    assertEquals(io.jipam.core.store.Claim.Kind.HOLD, claims.get(0).kind());
    assertEquals(new PodRef("db", "db-0"), claims.get(0).pod());
    assertEquals(List.of(), stores.get(0).list(sticky), "both allocations released");
  }

  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void check_handleDeletedBehindTheStore_blockEntryWithoutHandleFound(String mode) throws Exception {
    try (io.etcd.jetcd.Client client = io.etcd.jetcd.Client.builder().endpoints(etcd.endpoint()).build()) {
      client.getKVClient().delete(io.etcd.jetcd.ByteSequence.from(prefix + "/v2/handles/cluster/a1/eth0",
          java.nio.charset.StandardCharsets.UTF_8)).get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
    CtlRun check = ctl(mode, "check");
    assertEquals(1, check.exit(), check.toString());
    assertTrue(check.out().contains("198.18.70.3 to a1/eth0, whose handle does not list it"), check.out());
    // and the node's copy of the handle, left behind, names it
    assertTrue(check.out().contains("lists a1/eth0, which has no handle"), check.out());
    assertTrue(check.out().contains("2 findings"), check.out());
  }

  @Test
  void etcdConfig_unreachable_exitOneTryAgainLaterBounded() throws Exception {
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, new JsonObject().put("endpoints", new JsonArray().add("http://127.0.0.1:"
        + Ports.free())).put("node", "n").put("timeoutMillis", 1000).encode());
    long start = System.nanoTime();
    CtlRun r = CtlRun.of("usage", "--etcd-config", bad.toString());
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.err().contains("TRY_AGAIN_LATER"), r.err());
    assertTrue(System.nanoTime() - start < 15_000_000_000L, "took too long");
  }

  @Test
  void jipamdOnFileStore_usageHasNoBlocksAndListByNodeRefused() throws Exception {
    try (IpamServer files = IpamServer.start(io.jipam.hostlocal.HostLocalStores.open(dir.resolve("data")),
        IpamServer.Settings.unix(dir.resolve("f.sock")), CallLog.quiet());
         RemoteStore r = RemoteStore.connect(RemoteStore.Target.parse("unix:" + dir.resolve("f.sock")))) {
      r.allocate(POOL, AllocationRequest.of(new Attachment("f0", "eth0")));
      assertFalse(r.status(POOL).hasBlocks());
      assertNull(r.pools().get(0).blocks());
      CtlRun byNode = CtlRun.of("list", "--node", "node-a", "--server", "unix:" + dir.resolve("f.sock"));
      assertEquals(1, byNode.exit(), byNode.toString());
      assertTrue(byNode.err().contains("UNSUPPORTED_FIELD") && byNode.err().contains("records no node"), byNode.err());
    }
  }
}
