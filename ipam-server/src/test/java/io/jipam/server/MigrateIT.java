package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.testkit.Etcd;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code jipamctl migrate} between a data dir written by the reference host-local and a real etcd:
 * dry run writes nothing, a real run copies every attachment with its addresses and is clean by
 * check, a second run writes nothing, an address another attachment holds refuses the whole run,
 * and back into a data dir host-local's DEL releases what was copied; {@code -o json} carries the
 * same per pool, parsed with jackson.
 */
@Timeout(120)
class MigrateIT {
  @TempDir static Path shared;
  static Etcd etcd;
  @TempDir Path dir;
  Path data;
  Path etcdConfig;
  Path conf;
  String prefix;
  final List<EtcdStore> stores = new ArrayList<>();
  static final Pool POOL = JipamctlDataDirIT.POOL; // "hl", 198.18.60.0/24

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = Etcd.single();
  }

  @AfterAll
  static void stopEtcd() throws Exception {
    etcd.close();
  }

  @BeforeEach
  void hostLocalAddsThree() throws Exception {
    HostLocalExec.assumePresent();
    data = dir.resolve("data");
    conf = dir.resolve("hl.conflist");
    Files.writeString(conf, new JipamctlDataDirIT().conflist(data));
    for (int i = 0; i < 3; i++) {
      HostLocalExec.Result r = HostLocalExec.run("ADD", "c" + i, "eth0", netconf(data));
      assertEquals(0, r.exit(), r.out());
    }
    prefix = "/migrate-" + UUID.randomUUID();
    etcdConfig = dir.resolve("etcd.json");
    Files.writeString(etcdConfig, new JsonObject().put("endpoints", new JsonArray().add(etcd.endpoint()))
        .put("node", "node-a").put("prefix", prefix).put("timeoutMillis", 5000).encode());
    EtcdStore probe = etcdStore("node-a");
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (true) { // etcd may still be starting
      try {
        probe.ping();
        break;
      } catch (IpamException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }

  static String netconf(Path data) {
    return ("{'cniVersion':'1.0.0','name':'hl','type':'bridge',"
        + "'ipam':{'type':'host-local','dataDir':'" + data + "','ranges':[[{'subnet':'198.18.60.0/24'}]]}}")
        .replace('\'', '"');
  }

  EtcdStore etcdStore(String node) {
    EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(List.of(etcd.endpoint()), node).withPrefix(prefix));
    stores.add(s);
    return s;
  }

  @AfterEach
  void close() {
    stores.forEach(EtcdStore::close);
  }

  CtlRun migrate(Path from, Path to, String... more) {
    List<String> args = new ArrayList<>(List.of("migrate", "--from", from.toString(), "--to", to.toString(),
        "--conf", conf.toString()));
    args.addAll(List.of(more));
    return CtlRun.of(args.toArray(String[]::new));
  }

  static List<String> addresses(List<Allocation> list) {
    return list.stream().map(a -> a.address() + "=" + a.attachment()).toList();
  }

  static final List<String> THREE = List.of("198.18.60.2=c0/eth0", "198.18.60.3=c1/eth0", "198.18.60.4=c2/eth0");

  @Test
  void migrate_dryRun_printsEachAttachmentWritesNothing() {
    CtlRun dry = migrate(data, etcdConfig, "--dry-run");
    assertEquals(0, dry.exit(), dry.toString());
    assertEquals(3, dry.out().lines().filter(l -> l.startsWith("hl: would write")).count(), dry.out());
    assertTrue(dry.out().contains("hl: would write c1/eth0 198.18.60.3 pod -"), dry.out());
    EtcdStore s = etcdStore("node-z");
    assertEquals(List.of(), s.definedPools(), "a dry run defined the pool");
  }

  @Test
  void migrate_intoEtcdThenAgainThenBack_addressesKeptIdempotentHostLocalDelWorks() throws Exception {
    CtlRun real = migrate(data, etcdConfig);
    assertEquals(0, real.exit(), real.toString());
    assertTrue(real.out().contains("3 attachments written") && real.out().contains("clean"), real.out());
    EtcdStore s = etcdStore("node-a");
    assertEquals(THREE, addresses(s.list(POOL)));
    assertEquals(java.util.Collections.nCopies(3, null), s.list(POOL).stream().map(Allocation::origin).toList(),
        "host-local's files record no origin: none is copied (not requested)");
    assertEquals("node-a", s.allocatingNodes(POOL).get(new Attachment("c1", "eth0")));
    // an ADD on etcd of a migrated container answers its address (existing), as the runtime's retry would get
    AllocationOutcome again = s.allocate(POOL, AllocationRequest.of(new Attachment("c1", "eth0")));
    assertTrue(assertInstanceOf(AllocationOutcome.Allocated.class, again).existing());
    assertEquals("198.18.60.3", ((AllocationOutcome.Allocated) again).allocations().get(0).address().toString());

    CtlRun twice = migrate(data, etcdConfig);
    assertEquals(0, twice.exit(), twice.toString());
    assertTrue(twice.out().contains("0 attachments written") && twice.out().contains("3 were there already"), twice.out());

    // a pod made on etcd meanwhile, then back into a fresh data dir for node-a
    s.allocate(POOL, new AllocationRequest(new Attachment("n0", "eth0"), List.of(), new PodRef("ns", "new")));
    s.release(POOL, new Attachment("c0", "eth0"));
    Path back = dir.resolve("back");
    CtlRun dryBack = migrate(etcdConfig, back, "--node", "node-a", "--dry-run");
    assertEquals(0, dryBack.exit(), dryBack.toString());
    assertFalse(Files.exists(back), "dry run made the data dir");
    CtlRun toFiles = migrate(etcdConfig, back, "--node", "node-a");
    assertEquals(0, toFiles.exit(), toFiles.toString());
    assertTrue(toFiles.out().contains("3 attachments written") && toFiles.out().contains("clean"), toFiles.out());
    assertEquals("c1\r\neth0", Files.readString(back.resolve("hl/198.18.60.3")));
    try (IpamStore files = HostLocalStores.open(back)) {
      List<Allocation> held = files.list(POOL);
      assertEquals(3, held.size(), held.toString());
      Allocation made = held.stream().filter(a -> a.attachment().containerId().equals("n0")).findFirst().orElseThrow();
      assertEquals(new PodRef("ns", "new"), made.pod());
      assertEquals(AllocationOrigin.FREE, made.origin(), "the origin etcd recorded is copied");
      assertEquals(java.util.Collections.nCopies(2, null), held.stream().filter(a -> a != made)
          .map(Allocation::origin).toList(), "and none where etcd had none");
    }
    HostLocalExec.Result del = HostLocalExec.run("DEL", "c1", "eth0", netconf(back));
    assertEquals(0, del.exit(), del.out());
    assertFalse(Files.exists(back.resolve("hl/198.18.60.3")));
  }

  @Test
  void migrate_addressHeldByAnotherAttachment_refusedNamingItNothingWritten() {
    EtcdStore s = etcdStore("node-b");
    assertInstanceOf(AllocationOutcome.Allocated.class, s.allocate(POOL, new AllocationRequest(
        new Attachment("other", "eth0"), List.of(IpAddress.parse("198.18.60.3")), null)));
    CtlRun r = migrate(data, etcdConfig);
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.err().contains("198.18.60.3 of c1/eth0 is already held by other/eth0"), r.err());
    assertTrue(r.err().contains("nothing written"), r.err());
    assertEquals(List.of("198.18.60.3=other/eth0"), addresses(s.list(POOL)));
    CtlRun dry = migrate(data, etcdConfig, "--dry-run");
    assertEquals(1, dry.exit(), dry.toString());
  }

  /**
   * A second network "hm" (198.18.61.0/24) in the data dir, its one address file {@code address}
   * held by x9/eth0; returns its conflist.
   */
  Path secondPool(String address) throws Exception {
    Path hm = dir.resolve("hm.conflist");
    Files.writeString(hm, netconf(data).replace("\"name\":\"hl\"", "\"name\":\"hm\"")
        .replace("198.18.60.0/24", "198.18.61.0/24"));
    Files.createDirectories(data.resolve("hm"));
    Files.writeString(data.resolve("hm/" + address), "x9\r\neth0");
    return hm;
  }

  /**
   * A run over two pools, the second refused (an address file outside its ranges): nothing of the
   * first is written either. It was: the first pool was written before the second was planned.
   */
  @Test
  void migrate_secondPoolRefused_firstPoolNotWrittenEither() throws Exception {
    Path hm = secondPool("198.18.99.5");
    for (String[] extra : new String[][] {{"--dry-run"}, {}}) {
      List<String> args = new ArrayList<>(List.of("--conf", hm.toString()));
      args.addAll(List.of(extra));
      CtlRun r = migrate(data, etcdConfig, args.toArray(String[]::new));
      assertEquals(1, r.exit(), r.toString());
      assertTrue(r.err().contains("hm: 198.18.99.5 of x9/eth0 is in no range set"), r.err());
      assertTrue(r.err().contains("hl: nothing written either"), r.err());
      assertFalse(r.out().contains("hl: wrote") || r.out().contains("hl: would write"), r.out());
      assertEquals(List.of(), etcdStore("node-z").definedPools(), "the run defined a pool: " + r);
    }
  }

  /**
   * A write that fails in the middle of a run (here the second pool's folder is a file) releases
   * again what the run wrote before it, as a refused one does: it used to leave the first pool
   * written.
   */
  @Test
  void migrate_writeFailsMidRun_whatTheRunWroteReleasedAgain() throws Exception {
    Path hm = secondPool("198.18.61.5");
    CtlRun in = migrate(data, etcdConfig, "--conf", hm.toString());
    assertEquals(0, in.exit(), in.toString());
    // a pool with a cool-down: the undo's releases leave none (they left each address cooling)
    Files.writeString(conf, Files.readString(conf).replace("\"ranges\"", "\"reuseDelaySeconds\":600,\"ranges\""));
    Path target = dir.resolve("target");
    Files.createDirectories(target);
    Files.writeString(target.resolve("hm"), "not a folder");
    CtlRun out = migrate(etcdConfig, target, "--conf", hm.toString(), "--node", "node-a");
    assertEquals(1, out.exit(), out.toString());
    // the three of hl, and the one whose write failed (its outcome may be unknown)
    assertTrue(out.err().contains("released again the 4 attachments this run wrote"), out.toString());
    try (var left = Files.list(target.resolve("hl"))) {
      assertEquals(List.of(), left.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("198.")).toList());
    }
  }

  /**
   * An address reserved or held in the target for another pod is refused in the plan, the dry run
   * included (it was planned as written, and the real run failed as "changed since the plan").
   */
  @Test
  void migrate_addressReservedInTheTargetForAnotherPod_refusedNamingTheClaim() {
    io.jipam.core.store.capability.Claims claims = etcdStore("node-b").capability(
        io.jipam.core.store.capability.Claims.class).orElseThrow();
    assertInstanceOf(io.jipam.core.store.capability.ReserveOutcome.Reserved.class,
        claims.reserve(POOL, IpAddress.parse("198.18.60.3"), new PodRef("other", "x"), false));
    for (String[] extra : new String[][] {{"--dry-run"}, {}}) {
      CtlRun r = migrate(data, etcdConfig, extra);
      assertEquals(1, r.exit(), r.toString());
      assertTrue(r.err().contains("198.18.60.3 of c1/eth0 is reserved for \"other/x\""), r.toString());
    }
    assertEquals(List.of(), etcdStore("node-z").list(POOL), "nothing written");
  }

  /**
   * An attachment the target holds under another node is not "already there": that node's GC or
   * reclaim would release this node's pod.
   */
  @Test
  void migrate_attachmentInTargetUnderAnotherNode_refusedNamingBoth() {
    assertEquals(0, migrate(data, etcdConfig).exit());
    CtlRun again = migrate(data, etcdConfig, "--node", "node-b");
    assertEquals(1, again.exit(), again.toString());
    assertTrue(again.err().contains("for node \"node-a\", not for node \"node-b\""), again.toString());
  }

  /**
   * One {@code migrate -o json} run into etcd after {@code setup}: the exit and what the document
   * says, as address lists ("198.18.60.3=c1/eth0") per key of the pool "hl".
   */
  record JsonCase(String name, Consumer<MigrateIT> setup, boolean dryRun, int exit, List<String> toWrite,
      List<String> present, List<String> refused, boolean wrote, Boolean auditClean) {
    @Override
    public String toString() {
      return name;
    }
  }

  static final List<String> NONE = List.of();

  static Stream<JsonCase> jsonCases() {
    return Stream.of(
        new JsonCase("dry run", t -> {}, true, 0, THREE, NONE, NONE, false, null),
        new JsonCase("real run", t -> {}, false, 0, THREE, NONE, NONE, true, true),
        new JsonCase("re-run, all in the target", t -> assertEquals(0, t.migrate(t.data, t.etcdConfig).exit()),
            false, 0, NONE, THREE, NONE, false, true),
        new JsonCase("conflict", t -> assertInstanceOf(AllocationOutcome.Allocated.class,
            t.etcdStore("node-b").allocate(POOL, new AllocationRequest(new Attachment("other", "eth0"),
                List.of(IpAddress.parse("198.18.60.3")), null))),
            false, 1, NONE, NONE, List.of("198.18.60.3=c1/eth0"), false, null));
  }

  static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  @ParameterizedTest(name = "{0}")
  @MethodSource("jsonCases")
  void migrate_outputJson_oneDocumentCarryingWhatTextSays(JsonCase c) throws Exception {
    c.setup().accept(this);
    CtlRun r = c.dryRun() ? migrate(data, etcdConfig, "-o", "json", "--dry-run") : migrate(data, etcdConfig, "-o", "json");
    assertEquals(c.exit(), r.exit(), r.toString());
    JsonNode doc = JSON.readTree(r.out()); // the whole of stdout: one document, nothing after it
    assertEquals(c.dryRun(), doc.get("dryRun").asBoolean(), r.out());
    assertEquals(c.wrote(), doc.get("wrote").asBoolean(), r.out());
    assertEquals(1, doc.get("pools").size(), r.out());
    JsonNode hl = doc.get("pools").get(0);
    assertEquals("hl", hl.get("pool").asText());
    assertTrue(hl.get("target").asText().contains("node node-a"), r.out());
    assertFalse(hl.has(c.dryRun() ? "written" : "wouldWrite"), r.out());
    assertEquals(c.toWrite(), items(hl.get(c.dryRun() ? "wouldWrite" : "written")), r.out());
    assertEquals(c.present(), items(hl.get("present")), r.out());
    List<String> refused = new ArrayList<>();
    for (JsonNode x : hl.get("refused")) {
      refused.add(x.get("address").asText() + "=" + x.get("attachment").asText());
      assertTrue(x.get("reason").asText().contains("already held by other/eth0"), r.out());
      assertTrue(r.err().contains("refused: hl: " + x.get("reason").asText()), r.err()); // stderr as in text
    }
    assertEquals(c.refused(), refused, r.out());
    if (c.auditClean() == null) {
      assertTrue(doc.get("audit").isNull(), r.out());
    } else {
      assertEquals(c.auditClean(), doc.get("audit").get("clean").asBoolean(), r.out());
      assertEquals(0, doc.get("audit").get("findings").size(), r.out());
      assertEquals(3 + (c.refused().isEmpty() ? 0 : 1), doc.get("audit").get("allocations").asInt(), r.out());
    }
    // what the document says is what etcd holds
    List<String> held = addresses(etcdStore("node-z").list(POOL));
    assertEquals(c.wrote() || !c.present().isEmpty() ? THREE : c.refused().isEmpty() ? NONE
        : List.of("198.18.60.3=other/eth0"), held);
  }

  static List<String> items(JsonNode list) {
    List<String> out = new ArrayList<>();
    for (JsonNode i : list) {
      assertEquals(1, i.get("addresses").size(), i.toString());
      assertTrue(i.get("node").isNull(), i.toString()); // no --node: the etcd config's, named in "target"
      out.add(i.get("addresses").get(0).asText() + "=" + i.get("containerId").asText() + "/" + i.get("ifname").asText());
    }
    return out;
  }

  @Test
  void migrate_badArguments_exitTwoNamingThem() {
    CtlRun noConf = CtlRun.of("migrate", "--from", data.toString(), "--to", etcdConfig.toString());
    assertEquals(2, noConf.exit(), noConf.toString());
    assertTrue(noConf.err().contains("--conf"), noConf.err());
    CtlRun sameKind = migrate(data, dir.resolve("x"));
    assertEquals(2, sameKind.exit(), sameKind.toString());
    assertTrue(sameKind.err().contains("both data dirs"), sameKind.err());
    CtlRun noNode = migrate(etcdConfig, dir.resolve("x"));
    assertEquals(2, noNode.exit(), noNode.toString());
    assertTrue(noNode.err().contains("--node"), noNode.err());
  }
}
