package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.jipam.core.store.capability.ListPages;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.GetOption;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.net.IpAddress;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.pools.NodeStores;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.TestCerts;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * A central jipamd on a real etcd, on TCP with mutual TLS, a client CA for nodes and an operator
 * CA, and its clients with real certificates: each node's allocations are recorded under the node
 * of its certificate, in that node's blocks; a node's GC keeps the other nodes' attachments; a
 * node asking for another node's attachment, impersonating another node, or calling an
 * operator's method is refused PERMISSION_DENIED and nothing is written; the operator may do all
 * of it. With plain TCP, the node a client names is taken as given.
 */
@Timeout(120)
class NodeIdentityIT {
  @TempDir static Path shared;
  private static Etcd etcd;
  private static TestCerts certs;
  private static Client raw;

  @TempDir Path dir;
  private final String prefix = "/identity-" + UUID.randomUUID();
  private final Pool pool = TestPools.pool("pods", AllocationOrder.ROUND_ROBIN, "198.18.12.0/22");
  private final List<AutoCloseable> open = new ArrayList<>();
  private IpamServer central;

  @BeforeAll
  static void start() throws Exception {
    etcd = Etcd.single();
    certs = TestCerts.make(shared).ca("operator-ca").client("node-a", "ca").client("node-b", "ca")
        .client("admin", "operator-ca").client("a b", "ca").intermediate("ops-int", "operator-ca")
        .client("alice", "ops-int");
    raw = Client.builder().endpoints(etcd.endpoint()).build();
  }

  @AfterAll
  static void stop() throws Exception {
    if (raw != null) {
      raw.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private IpamServer central(boolean tls) {
    IpamServer server = central(etcd, tls ? certs : null, prefix, "central-0");
    open.add(server);
    return server;
  }

  /**
   * A central jipamd on {@code etcd} under {@code prefix}, a store per calling node, on TCP: with
   * {@code certs} mutual TLS (nodes from "ca", operators from "operator-ca"), else plain.
   */
  static IpamServer central(Etcd etcd, TestCerts certs, String prefix, String replica) {
    boolean tls = certs != null;
    NodeStores stores = NodeStores.perNode(EtcdStores.openShared(
        EtcdStoreConfig.of(List.of(etcd.endpoint()), replica).withPrefix(prefix)));
    IpamServer.Settings settings = new IpamServer.Settings(null, "127.0.0.1", 0, !tls,
        tls ? certs.pem("server") : null, tls ? certs.key("server") : null, tls ? certs.pem("ca") : null, 8, 1024,
        4L << 20, Duration.ofSeconds(10), Duration.ofSeconds(30));
    return IpamServer.start(stores, tls ? CallerIdentity.withOperatorCa(certs.pem("operator-ca"))
        : CallerIdentity.noOperatorCa(), settings, CallLog.quiet(), null, 0);
  }

  /** The central jipamd's TCP address, with {@code cert}'s client certificate (null: plain TCP). */
  static RemoteStore.Target target(IpamServer server, TestCerts certs, String cert, Duration timeout) {
    RemoteStore.Target target = RemoteStore.Target.parse("127.0.0.1:" + server.tcpPort()).withTimeout(timeout);
    return cert == null ? target
        : target.withTls(new RemoteStore.Tls(certs.pem("ca"), certs.pem(cert), certs.key(cert)));
  }

  /** A client of the central jipamd with {@code cert}'s certificate, naming {@code node} (null: none). */
  private RemoteStore client(IpamServer server, String cert, String node) {
    RemoteStore s = RemoteStore.connect(target(server, certs, cert, Duration.ofSeconds(10)), node);
    open.add(s);
    return s;
  }

  private static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }

  private static void allocated(AllocationOutcome outcome) {
    assertInstanceOf(AllocationOutcome.Allocated.class, outcome, outcome::toString);
  }

  @Test
  void calls_ofTwoNodeCertificates_recordedUnderEachNodeAndGcKeepsTheOtherNodes() {
    central = central(true);
    RemoteStore a = client(central, "node-a", "node-a");
    RemoteStore b = client(central, "node-b", null); // the certificate alone names the node
    RemoteStore operator = client(central, "admin", null);
    for (String id : List.of("a1", "a2")) {
      allocated(a.allocate(pool, AllocationRequest.of(att(id))));
    }
    for (String id : List.of("b1", "b2")) {
      allocated(b.allocate(pool, AllocationRequest.of(att(id))));
    }
    assertEquals(Map.of("a1", "node-a", "a2", "node-a", "b1", "node-b", "b2", "node-b"), nodes(operator, null));
    assertEquals(Set.of("node-a", "node-b"), owners(operator), "blocks affine to the real nodes only");
    assertEquals(Map.of("a1", "node-a", "a2", "node-a"), nodes(a, null), "a node lists its own only");

    List<Allocation> gc = a.retainOnly(pool, Set.of(att("a1")));
    assertEquals(List.of(att("a2")), gc.stream().map(Allocation::attachment).toList());
    assertEquals(Map.of("a1", "node-a", "b1", "node-b", "b2", "node-b"), nodes(operator, null),
        "node A's GC keeps node B's pods");
  }

  @Test
  void nodeCertificate_actingForAnotherNodeOrAsOperator_permissionDeniedAndNothingWritten() throws Exception {
    central = central(true);
    RemoteStore b = client(central, "node-b", "node-b");
    allocated(b.allocate(pool, AllocationRequest.of(att("b1"))));
    RemoteStore a = client(central, "node-a", "node-a");
    allocated(a.allocate(pool, AllocationRequest.of(att("a1"))));
    RemoteStore impostor = client(central, "node-a", "node-b");
    RemoteStore badCn = client(central, "a b", null);
    Map<String, Long> before = keys();
    Map<String, Executable> refused = new TreeMap<>();
    refused.put("allocate as node-b", () -> impostor.allocate(pool, AllocationRequest.of(att("x1"))));
    refused.put("gc as node-b", () -> impostor.retainOnly(pool, Set.of()));
    refused.put("find B's attachment", () -> a.find(pool, att("b1")));
    refused.put("release B's attachment", () -> a.release(pool, att("b1")));
    refused.put("allocate B's attachment", () -> a.allocate(pool, AllocationRequest.of(att("b1"))));
    refused.put("list node-b", () -> a.list(pool, new ListPages.Filter("", "", "", "", "node-b")));
    refused.put("reclaim node-b", () -> a.reclaimNode("node-b", ReclaimPolicy.FORCE));
    refused.put("audit", () -> a.audit(pool));
    refused.put("lift a fence", () -> a.liftFence("node-b"));
    IpAddress some = IpAddress.parse("198.18.12.9");
    refused.put("reserve", () -> a.reserve(pool, some, new PodRef("db", "db-0"), false));
    refused.put("unreserve", () -> a.unreserve(pool, some));
    refused.put("end a hold", () -> a.endHold(pool, some));
    refused.put("list claims", () -> a.claims(pool));
    refused.put("retire a pool", () -> a.retire(pool.name()));
    refused.put("certificate CN not a node name", () -> badCn.allocate(pool, AllocationRequest.of(att("y1"))));
    for (Map.Entry<String, Executable> e : refused.entrySet()) {
      IpamException x = assertThrows(IpamException.class, e.getValue(), e.getKey());
      assertEquals(ErrorCode.PERMISSION_DENIED, x.code(), e.getKey() + ": " + x.getMessage());
      assertEquals(103, x.code().cniCode());
    }
    assertEquals(before, keys(), "a refused call writes nothing");
    assertEquals(1, b.find(pool, att("b1")).size());
  }

  /**
   * The role follows signatures from the client's certificate up: an operator's certificate from
   * an intermediate of the operator CA is an operator's (it was read as a node named by its CN),
   * and a node that appends an operator's (public) certificate to its chain stays a node.
   */
  @Test
  void certificateChains_intermediateOrAppendedCertificate_roleBySignatureFromTheLeaf() throws Exception {
    central = central(true);
    RemoteStore a = client(central, "node-a", null);
    allocated(a.allocate(pool, AllocationRequest.of(att("a1"))));
    RemoteStore.Target base = RemoteStore.Target.parse("127.0.0.1:" + central.tcpPort()).withTimeout(Duration.ofSeconds(10));
    RemoteStore alice = RemoteStore.connect(base.withTls(new RemoteStore.Tls(certs.pem("ca"),
        certs.chain("alice", "ops-int"), certs.key("alice"))));
    open.add(alice);
    assertEquals(List.of(), alice.audit(pool), "an operator through an intermediate");
    assertEquals(Map.of("a1", "node-a"), nodes(alice, null));
    RemoteStore dressedUp = RemoteStore.connect(base.withTls(new RemoteStore.Tls(certs.pem("ca"),
        certs.chain("node-a", "admin"), certs.key("node-a"))));
    open.add(dressedUp);
    IpamException e = assertThrows(IpamException.class, () -> dressedUp.audit(pool));
    assertTrue(e.code() == ErrorCode.PERMISSION_DENIED || e.code() == ErrorCode.TRY_AGAIN_LATER, e.getMessage());
  }

  @Test
  void operatorCertificate_crossNodeCalls_allowed() {
    central = central(true);
    RemoteStore a = client(central, "node-a", null);
    RemoteStore b = client(central, "node-b", null);
    allocated(a.allocate(pool, AllocationRequest.of(att("a1"))));
    allocated(b.allocate(pool, AllocationRequest.of(att("b1"))));
    RemoteStore operator = client(central, "admin", null);
    assertEquals(List.of(), operator.audit(pool));
    assertEquals(1, operator.find(pool, att("b1")).size());
    var report = operator.reclaimNode("node-a", ReclaimPolicy.FORCE);
    assertEquals(1, report.allocationsReleased());
    assertEquals(Map.of("b1", "node-b"), nodes(operator, null), "exactly node A's released");
    assertTrue(operator.liftFence("node-a"));
    RemoteStore gcForB = client(central, "admin", "node-b");
    assertEquals(1, gcForB.retainOnly(pool, Set.of()).size(), "RetainOnly for a named node");
    assertEquals(Map.of(), nodes(operator, null));
  }

  /** A List filter that is no node name is bad input, for a node as for an operator: not a refusal of another node. */
  @Test
  void list_nodeFilterNotANodeName_invalidForNodeAndOperatorAlike() {
    central = central(false);
    RemoteStore node = client(central, null, "node-a");
    RemoteStore operator = client(central, null, null);
    for (RemoteStore caller : List.of(node, operator)) {
      IpamException x = assertThrows(IpamException.class,
          () -> caller.list(pool, new ListPages.Filter("", "", "", "", "node/b")));
      assertEquals(ErrorCode.INVALID_CONFIG, x.code(), x.getMessage());
      assertTrue(x.getMessage().contains("List node filter") && x.getMessage().contains("node/b"), x.getMessage());
    }
  }

  @Test
  void insecure_nodeNamedByTheClient_takenAsGiven() {
    central = central(false);
    RemoteStore a = client(central, null, "node-a");
    RemoteStore b = client(central, null, "node-b");
    allocated(a.allocate(pool, AllocationRequest.of(att("a1"))));
    allocated(b.allocate(pool, AllocationRequest.of(att("b1"))));
    IpamException x = assertThrows(IpamException.class, () -> a.release(pool, att("b1")));
    assertEquals(ErrorCode.PERMISSION_DENIED, x.code());
    assertEquals(Map.of("a1", "node-a", "b1", "node-b"), nodes(client(central, null, null), null));
  }

  /**
   * List through the central jipamd in pages of 40 (etcd pages from the token, nodes from the
   * page's handles): every allocation once, in address order, with its node; a node filter pages
   * the same way; jipamctl follows the pages.
   */
  @Test
  void list_pagesOf40OfTwoNodes_eachAllocationOnceWithItsNode() throws Exception {
    central = central(false);
    RemoteStore a = client(central, null, "node-a");
    RemoteStore b = client(central, null, "node-b");
    for (int i = 0; i < 130; i++) {
      allocated((i % 3 == 0 ? b : a).allocate(pool, AllocationRequest.of(att("p" + i))));
    }
    RemoteStore operator = client(central, null, null);
    List<ListPages.Listed> listed = new ArrayList<>();
    int pages = 0;
    IpAddress after = null;
    do {
      ListPages.Page page = operator.page(pool, ListPages.Filter.ALL, after, 40);
      assertTrue(page.allocations().size() <= 40, page.toString());
      listed.addAll(page.allocations());
      after = page.next();
      pages++;
    } while (after != null);
    assertEquals(4, pages);
    assertEquals(130, listed.size());
    Map<String, String> expected = new TreeMap<>();
    for (int i = 0; i < 130; i++) {
      expected.put("p" + i, i % 3 == 0 ? "node-b" : "node-a");
    }
    Map<String, String> got = new TreeMap<>();
    listed.forEach(x -> assertNull(got.put(x.allocation().attachment().containerId(), x.node()), x.toString()));
    assertEquals(expected, got);
    List<IpAddress> addresses = listed.stream().map(x -> x.allocation().address()).toList();
    assertEquals(addresses.stream().sorted().toList(), addresses, "address order");
    assertEquals(44, nodes(operator, "node-b").size());
    assertTrue(nodes(operator, "node-b").values().stream().allMatch("node-b"::equals));
    CtlRun list = CtlRun.of("--server", "127.0.0.1:" + central.tcpPort(), "--insecure", "list");
    assertEquals(0, list.exit(), list.toString());
    assertEquals(130, list.out().lines().filter(l -> l.contains("/eth0")).count(), list.out());
  }

  @Test
  void dataUnderAReplicasName_shownForWhatItIs_keptByNodeGcAndReclaimedByTheOperator() throws Exception {
    central = central(true);
    // as a central jipamd before node identity wrote it: under its own node name (here: an
    // operator naming no node, which runs on jipamd's own store)
    RemoteStore operator = client(central, "admin", null);
    allocated(operator.allocate(pool, AllocationRequest.of(att("old1"))));
    RemoteStore a = client(central, "node-a", "node-a");
    allocated(a.allocate(pool, AllocationRequest.of(att("a1"))));
    assertEquals(Map.of("old1", "central-0", "a1", "node-a"), nodes(operator, null), "listed under the replica");
    assertEquals(List.of(), a.retainOnly(pool, Set.of()).stream().filter(x -> x.attachment().equals(att("old1")))
        .toList(), "no node's GC touches it");
    CtlRun list = ctl("list", "--node", "central-0");
    assertTrue(list.exit() == 0 && list.out().contains("old1/eth0"), list.toString());
    CtlRun reclaim = ctl("reclaim-node", "central-0", "--force");
    assertEquals(0, reclaim.exit(), reclaim.toString());
    assertEquals(Map.of(), nodes(operator, null));
  }

  @Test
  void jipamctlGc_asNamedNodeWithTheOperatorCertificate_releasesThatNodesOnly() throws Exception {
    central = central(true);
    allocated(client(central, "node-a", null).allocate(pool, AllocationRequest.of(att("a1"))));
    allocated(client(central, "node-b", null).allocate(pool, AllocationRequest.of(att("b1"))));
    Path valid = java.nio.file.Files.writeString(dir.resolve("valid"), "# none\n");
    CtlRun gc = ctl("gc", "--pool", "pods", "--valid", valid.toString(), "--as-node", "node-b", "--allow-empty",
        "--yes");
    assertEquals(0, gc.exit(), gc.toString());
    assertEquals(Map.of("a1", "node-a"), nodes(client(central, "admin", null), null));
    CtlRun asNode = CtlRun.of("--server", "127.0.0.1:" + central.tcpPort(), "--ca", certs.pem("ca").toString(),
        "--cert", certs.pem("node-a").toString(), "--key", certs.key("node-a").toString(), "--as-node", "node-b",
        "gc", "--pool", "pods", "--valid", valid.toString(), "--allow-empty", "--yes");
    assertEquals(1, asNode.exit(), asNode.toString());
    assertTrue(asNode.err().contains("PERMISSION_DENIED"), asNode.toString());
  }

  /** jipamctl against the central jipamd with the operator's certificate. */
  private CtlRun ctl(String... args) {
    List<String> all = new ArrayList<>(List.of("--server", "127.0.0.1:" + central.tcpPort(), "--ca",
        certs.pem("ca").toString(), "--cert", certs.pem("admin").toString(), "--key", certs.key("admin").toString()));
    all.addAll(List.of(args));
    return CtlRun.of(all.toArray(String[]::new));
  }

  /** Each listed attachment's container ID and node. */
  private Map<String, String> nodes(RemoteStore s, String node) {
    Map<String, String> out = new TreeMap<>();
    ListPages.Filter q = node == null ? ListPages.Filter.ALL : new ListPages.Filter("", "", "", "", node);
    for (ListPages.Listed l : s.list(pool, q)) {
      out.put(l.allocation().attachment().containerId(), l.node());
    }
    return out;
  }

  private Set<String> owners(RemoteStore s) {
    Set<String> out = new java.util.TreeSet<>();
    s.status(pool).blocks().forEach(blk -> out.add(blk.owner()));
    return out;
  }

  /** Every key under the test's prefix with its mod revision, but the node's seen records and tickets. */
  private Map<String, Long> keys() throws Exception {
    Map<String, Long> out = new TreeMap<>();
    ByteSequence p = ByteSequence.from(prefix, StandardCharsets.UTF_8);
    raw.getKVClient().get(p, GetOption.builder().isPrefix(true).build()).get().getKvs()
        .forEach(kv -> out.put(kv.getKey().toString(StandardCharsets.UTF_8), kv.getModRevision()));
    return out;
  }
}
