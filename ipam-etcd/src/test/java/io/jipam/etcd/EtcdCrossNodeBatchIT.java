package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.KeyValue;
import io.jipam.testkit.Etcd;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.core.testing.Concurrently;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Several nodes' changes in one etcd transaction ({@link TxnCombiner}, under {@link
 * SharedClientStores}): a part refused by its own guard is answered with its own reads while the
 * others apply; parts that touch one key never share a transaction; under real concurrency of many
 * nodes the changes share transactions, each stays under its node, and a fence raised or lifted
 * while other nodes commit refuses exactly the fenced node's new attachments. The same through
 * {@code AsyncChanges} (changes queued with nobody waiting): each answered, and answered
 * {@code TRY_AGAIN_LATER} by its deadline when etcd cannot be reached.
 */
@ExtendWith(EtcdExtension.class)
class EtcdCrossNodeBatchIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-xbatch-" + UUID.randomUUID();
  private final Pool pool = EtcdStoreIT.pool("xbatch", "198.18.16.0/20");
  private final EtcdClient client;
  private SharedClientStores stores;

  EtcdCrossNodeBatchIT(Etcd etcd) {
    this.etcd = etcd;
    this.client = new EtcdClient(EtcdStoreConfig.of(etcd.endpoints(), "test").withPrefix(prefix), System::nanoTime);
  }

  @AfterEach
  void close() {
    if (stores != null) {
      stores.close();
      EtcdInvariants.check(etcd.endpoints(), prefix);
    }
    client.close();
  }

  private long deadline() {
    return System.nanoTime() + Duration.ofSeconds(10).toNanos();
  }

  private TxnPart putIfAt(String key, long modRev, String value) {
    return new TxnPart(List.of(new TxnPart.Guard(key, modRev)), List.of(EtcdClient.put(key, value)), Set.of(key),
        key.length() + value.length());
  }

  private KeyValue get(String key) {
    return client.getAll(List.of(key), deadline(), "test read").get(0);
  }

  @Test
  void sendAll_oneStalePart_othersApplyAndItIsRefusedWithItsOwnReads() {
    TxnCombiner combiner = new TxnCombiner(client, System::nanoTime, 1);
    String a = prefix + "/a";
    String b = prefix + "/b";
    String c = prefix + "/c";
    client.txn(List.of(), List.of(EtcdClient.put(b, "before")), List.of(), deadline(), "test write");
    long bRev = get(b).getModRevision();
    List<TxnResult> results = combiner.sendAll(
        List.of(putIfAt(a, 0, "A"), putIfAt(b, bRev + 1000, "B"), putIfAt(c, 0, "C")), deadline(), "test");
    assertTrue(results.get(0).succeeded() && results.get(2).succeeded(), results.toString());
    assertFalse(results.get(1).succeeded(), results.toString());
    assertEquals(1, results.get(1).reads().size());
    assertEquals(bRev, results.get(1).reads().get(0).getKvs().get(0).getModRevision(), "its own read, current");
    assertEquals("A", EtcdClient.text(get(a).getValue()));
    assertEquals("C", EtcdClient.text(get(c).getValue()));
    assertEquals("before", EtcdClient.text(get(b).getValue()), "the refused part wrote nothing");
    assertEquals(results.get(0).revision(), results.get(2).revision(), "the held parts went again together");
    assertEquals(2, combiner.transactions(), "one refused transaction of three parts, then the two that held");
    assertEquals(2, combiner.resent());
  }

  @Test
  void sendAll_partGuardingAKeyAnotherWrites_neverInOneTransaction() {
    TxnCombiner combiner = new TxnCombiner(client, System::nanoTime, 1);
    String k = prefix + "/k";
    String other = prefix + "/other";
    // both read k absent; the second's write depends on it: together, both guards would pass at once
    TxnPart first = putIfAt(k, 0, "first");
    TxnPart second = new TxnPart(List.of(new TxnPart.Guard(k, 0)), List.of(EtcdClient.put(other, "x")),
        Set.of(other), 10);
    List<TxnResult> results = combiner.sendAll(List.of(first, second), deadline(), "test");
    assertTrue(results.get(0).succeeded(), results.toString());
    assertFalse(results.get(1).succeeded(), "planned against k absent, sent after k was written");
    assertNull(get(other), "nothing of the refused part applied");
    assertEquals(2, combiner.transactions());
  }

  @Test
  void sendAll_twoPartsWritingOneKey_sentApartAndTheSecondRefused() {
    TxnCombiner combiner = new TxnCombiner(client, System::nanoTime, 1);
    String k = prefix + "/same";
    List<TxnResult> results = combiner.sendAll(List.of(putIfAt(k, 0, "one"), putIfAt(k, 0, "two")), deadline(),
        "test");
    assertTrue(results.get(0).succeeded());
    assertFalse(results.get(1).succeeded());
    assertEquals("one", EtcdClient.text(get(k).getValue()));
  }

  @Test
  void allocate_sixteenNodesFourCallersEach_changesShareTransactionsEachUnderItsNode() throws Exception {
    int nodes = 16;
    List<EtcdStore> perNode = openNodes(nodes);
    Map<Attachment, String> held = new ConcurrentHashMap<>();
    Concurrently.run(nodes * 4, Duration.ofMinutes(2), id -> {
      EtcdStore s = perNode.get(id % nodes);
      for (int i = 0; i < 12; i++) {
        Attachment att = new Attachment("c" + id + "-" + i, "eth0");
        EtcdStoreIT.address(s.allocate(pool, AllocationRequest.of(att)));
        if (i % 2 == 0) {
          assertEquals(1, s.release(pool, att).size());
        } else {
          held.put(att, s.node());
        }
      }
    });
    long[] counts = stores.combinerCounts();
    assertTrue(counts[0] < counts[1], "transactions " + counts[0] + " for " + counts[1] + " parts: none shared");
    Map<Attachment, String> nodesOf = stores.store().allocatingNodes(pool);
    assertEquals(held, nodesOf, "every kept allocation under its own node, none lost, none left behind");
    Set<Object> addresses = new HashSet<>();
    stores.store().list(pool).forEach(x -> assertTrue(addresses.add(x.address()), "twice: " + x));
    stores.store().blockUsage(pool).blocks().forEach(u -> assertTrue(u.owner().startsWith("node-"), u.toString()));
  }

  @Test
  void reclaimNode_fenceRaisedAndLiftedWhileOtherNodesCommit_onlyThatNodeRefused() throws Exception {
    int nodes = 8;
    List<EtcdStore> perNode = openNodes(nodes);
    ConcurrentLinkedQueue<String> otherErrors = new ConcurrentLinkedQueue<>();
    AtomicLong fencedRefusals = new AtomicLong();
    AtomicLong gotWhileFenced = new AtomicLong();
    AtomicLong fencedFrom = new AtomicLong(Long.MAX_VALUE);
    AtomicLong fencedUntil = new AtomicLong(Long.MAX_VALUE);
    AtomicLong afterLift = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    Map<Attachment, Boolean> kept = new ConcurrentHashMap<>();
    try (Concurrently running = Concurrently.start(nodes * 3, id -> {
      EtcdStore s = perNode.get(id % nodes);
      for (int i = 0; !stop.get(); i++) {
        Attachment att = new Attachment("f" + id + "-" + i, "eth0");
        try {
          long started = System.nanoTime();
          AllocationOutcome o = s.allocate(pool, AllocationRequest.of(att));
          assertTrue(o instanceof AllocationOutcome.Allocated, o.toString());
          if (s.node().equals("node-0")) {
            if (started > fencedFrom.get() && System.nanoTime() < fencedUntil.get()) {
              gotWhileFenced.incrementAndGet();
            }
            if (started > fencedUntil.get()) {
              afterLift.incrementAndGet();
            }
          }
          if (i % 2 == 0) {
            s.release(pool, att);
          } else {
            kept.put(att, true);
          }
        } catch (IpamException e) {
          if (s.node().equals("node-0") && e.code() == ErrorCode.NOT_AVAILABLE && e.getMessage().contains("fenced")) {
            fencedRefusals.incrementAndGet();
          } else if (e.code() != ErrorCode.TRY_AGAIN_LATER) {
            otherErrors.add(s.node() + ": " + e.code() + " " + e.getMessage());
          }
        }
      }
    })) {
      waitFor(() -> kept.size() > 40);
      ReclaimReport report = stores.store().reclaimNode("node-0", ReclaimPolicy.FORCE);
      assertNotNull(report);
      fencedFrom.set(System.nanoTime());
      waitFor(() -> fencedRefusals.get() > 10);
      fencedUntil.set(System.nanoTime());
      assertTrue(stores.store().liftFence("node-0"));
      fencedUntil.set(System.nanoTime());
      waitFor(() -> afterLift.get() > 5);
      stop.set(true);
      running.await(Duration.ofMinutes(2));
    }
    assertEquals(List.of(), List.copyOf(otherErrors), "the other nodes' changes never failed");
    assertEquals(0, gotWhileFenced.get(), "node-0 allocated while fenced");
    Set<Object> addresses = new HashSet<>();
    stores.store().list(pool).forEach(x -> assertTrue(addresses.add(x.address()), "twice: " + x));
  }

  @Test
  void allocateAsync_sixteenNodesEightEachAtOnce_everyoneAnsweredNoAddressTwiceReleasesAnswered() {
    int nodes = 16;
    List<EtcdStore> perNode = openNodes(nodes);
    List<java.util.concurrent.CompletableFuture<AllocationOutcome>> adds = new java.util.ArrayList<>();
    List<Attachment> atts = new java.util.ArrayList<>();
    // queued from this one thread, nobody waiting: as jipamd's event loop does
    for (int i = 0; i < nodes * 8; i++) {
      Attachment att = new Attachment("async-" + i, "eth0");
      atts.add(att);
      adds.add(async(perNode.get(i % nodes)).allocateAsync(pool, AllocationRequest.of(att)));
    }
    Set<Object> addresses = new HashSet<>();
    for (var f : adds) {
      assertTrue(addresses.add(EtcdStoreIT.address(f.join())), "twice: " + f.join());
    }
    Map<Attachment, String> nodesOf = stores.store().allocatingNodes(pool);
    for (int i = 0; i < atts.size(); i++) {
      assertEquals("node-" + (i % nodes), nodesOf.get(atts.get(i)), "under its own node: " + atts.get(i));
    }
    List<java.util.concurrent.CompletableFuture<List<Allocation>>> dels = new java.util.ArrayList<>();
    for (int i = 0; i < atts.size(); i++) {
      dels.add(async(perNode.get(i % nodes)).releaseAsync(pool, atts.get(i)));
    }
    for (var f : dels) {
      assertEquals(1, f.join().size(), "each release answered with its one allocation");
    }
    assertEquals(List.of(), stores.store().list(pool), "every allocation released, none lost");
    long[] counts = stores.combinerCounts();
    assertTrue(counts[0] < counts[1], "transactions " + counts[0] + " for " + counts[1] + " parts: none shared");
  }

  @Test
  void allocateAsync_etcdUnreachable_answeredTryAgainLaterByTheDeadline() throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    stores = null; // nothing to check in the real etcd
    try (SharedClientStores dead = new SharedClientStores(EtcdStoreConfig.of(List.of("http://127.0.0.1:" + port),
        "central-0").withPrefix(prefix).withTimeout(Duration.ofMillis(300)), System::nanoTime,
        java.time.Clock.systemUTC())) {
      long started = System.nanoTime();
      var f = async(dead.forNode("node-0")).allocateAsync(pool, AllocationRequest.of(new Attachment("dead", "eth0")));
      java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
          java.util.concurrent.ExecutionException.class, () -> f.get(30, java.util.concurrent.TimeUnit.SECONDS));
      IpamException cause = (IpamException) e.getCause();
      assertEquals(ErrorCode.TRY_AGAIN_LATER, cause.code(), cause.getMessage());
      assertTrue(System.nanoTime() - started < Duration.ofSeconds(5).toNanos(), "answered by the deadline and slack");
    }
  }

  private static io.jipam.core.store.capability.AsyncChanges async(EtcdStore store) {
    return store.capability(io.jipam.core.store.capability.AsyncChanges.class).orElseThrow();
  }

  /** Stores of {@code nodes} nodes (node-0, node-1, ...) on one shared client. */
  private List<EtcdStore> openNodes(int nodes) {
    stores = new SharedClientStores(EtcdStoreConfig.of(etcd.endpoints(), "central-0").withPrefix(prefix),
        System::nanoTime, java.time.Clock.systemUTC());
    List<EtcdStore> perNode = new java.util.ArrayList<>();
    for (int n = 0; n < nodes; n++) {
      perNode.add(stores.forNode("node-" + n));
    }
    return perNode;
  }

  private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < until, "condition not reached in 60 s");
      Thread.sleep(5);
    }
  }
}
