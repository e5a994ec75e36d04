package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.BlockUsage;
import io.jipam.core.store.capability.CommitCounters;
import io.jipam.core.store.capability.PoolBlocks;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What operators read beyond the contract: usage per block and owner, allocating nodes, defined pools, commit sizes. */
@ExtendWith(EtcdExtension.class)
class EtcdStoreViewsIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-views-" + UUID.randomUUID();
  private final List<EtcdStore> opened = new ArrayList<>();

  EtcdStoreViewsIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @AfterEach
  void closeAll() {
    opened.forEach(EtcdStore::close);
  }

  private EtcdStore store(String node) {
    EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix));
    opened.add(s);
    return s;
  }

  @Test
  void blockUsage_twoNodesAndABorrow_perBlockOwnerAndSetTotals() {
    // a /25 in /26 blocks: .0/26 (gateway .1 and network .0 reserved: 62 usable) and .64/26 (.127 broadcast: 63)
    Pool pool = TestPools.pool("views", AllocationOrder.ROUND_ROBIN, "198.18.50.0/25");
    EtcdStore a = store("node-a");
    EtcdStore b = store("node-b");
    for (int i = 0; i < 3; i++) {
      a.allocate(pool, AllocationRequest.of(new Attachment("a" + i, "eth0")));
    }
    b.allocate(pool, AllocationRequest.of(new Attachment("b0", "eth0")));

    PoolBlocks blocks = a.blockUsage(pool);
    assertEquals(List.of(
        new BlockUsage(0, Cidr.parse("198.18.50.0/26"), "node-a", 3, 62),
        new BlockUsage(0, Cidr.parse("198.18.50.64/26"), "node-b", 1, 63)), blocks.blocks());
    assertEquals(List.of(4L), blocks.usage().allocated());
    assertEquals(a.usage(pool), blocks.usage());
    assertEquals(59, blocks.blocks().get(0).free());
  }

  @Test
  void listPage_pagesOfThree_addUpToTheListInAddressOrder() {
    Pool pool = TestPools.pool("paged", AllocationOrder.ROUND_ROBIN, "198.18.56.0/24", "fd00:56::/120");
    EtcdStore a = store("node-a");
    for (int i = 0; i < 7; i++) {
      a.allocate(pool, AllocationRequest.of(new Attachment("p" + i, "eth0")));
    }
    List<io.jipam.core.store.Allocation> paged = new java.util.ArrayList<>();
    io.jipam.core.net.IpAddress after = null;
    while (true) {
      List<io.jipam.core.store.Allocation> page = a.listPage(pool, after, 3);
      assertTrue(page.size() <= 3, page.toString());
      if (page.isEmpty()) {
        break;
      }
      paged.addAll(page);
      after = page.get(page.size() - 1).address();
    }
    assertEquals(14, paged.size());
    assertEquals(a.list(pool), paged);
    io.jipam.core.IpamException e = org.junit.jupiter.api.Assertions.assertThrows(io.jipam.core.IpamException.class,
        () -> a.listPage(pool, null, 0));
    assertEquals(io.jipam.core.ErrorCode.INVALID_CONFIG, e.code());
  }

  @Test
  void allocatingNodes_handlesOfTwoNodes_eachAttachmentToItsNode() {
    Pool pool = TestPools.pool("nodes", AllocationOrder.ROUND_ROBIN, "198.18.51.0/24");
    EtcdStore a = store("node-a");
    EtcdStore b = store("node-b");
    a.allocate(pool, AllocationRequest.of(new Attachment("a0", "eth0")));
    b.allocate(pool, AllocationRequest.of(new Attachment("b0", "eth0")));
    b.allocate(pool, AllocationRequest.of(new Attachment("b1", "net1")));
    assertEquals(Map.of(new Attachment("a0", "eth0"), "node-a", new Attachment("b0", "eth0"), "node-b",
        new Attachment("b1", "net1"), "node-b"), a.allocatingNodes(pool));
  }

  @Test
  void audit_handleDeletedAndHandleWithoutBlock_bothNamedConsistentStoreClean() {
    Pool pool = TestPools.pool("audit", AllocationOrder.ROUND_ROBIN, "198.18.55.0/24");
    GroupCommitStore s = (GroupCommitStore) store("node-a");
    s.allocate(pool, AllocationRequest.of(new Attachment("a0", "eth0")));
    s.allocate(pool, AllocationRequest.of(new Attachment("a1", "eth0")));
    assertEquals(List.of(), s.audit(pool));

    long deadline = System.nanoTime() + 5_000_000_000L;
    Attachment ghost = new Attachment("ghost", "eth0");
    String handle = HandleCodec.encode(new Handle("node-a", io.jipam.core.store.PodRef.UNKNOWN,
        List.of(new io.jipam.core.store.Allocation(io.jipam.core.net.IpAddress.parse("198.18.55.200"), 0, ghost, null)),
        0));
    s.etcd().txn(List.of(), List.of(EtcdClient.delete(s.keys().handle("audit", new Attachment("a0", "eth0"))),
        EtcdClient.put(s.keys().handle("audit", ghost), handle)), List.of(), deadline, "corrupting");
    List<String> findings = store("node-z").audit(pool);
    assertEquals(4, findings.size(), findings.toString());
    assertTrue(findings.get(0).contains("198.18.55.200") && findings.get(0).contains("no block holds"), findings.toString());
    assertTrue(findings.get(1).contains("198.18.55.2 to a0/eth0") && findings.get(1).contains("does not list it"),
        findings.toString());
    // the node index still lists a0 (whose handle went), and lacks the ghost's handle
    assertTrue(findings.get(2).contains("lists a0/eth0, which has no handle"), findings.toString());
    assertTrue(findings.get(3).contains("ghost/eth0 is not in its node's index"), findings.toString());
  }

  /** A handle and its node copy that say another origin than the address record: named by the audit. */
  @Test
  void audit_handleOriginDisagreesWithAddressRecord_named() {
    Pool pool = TestPools.pool("origins", AllocationOrder.LOWEST_FREE, "198.18.56.0/24");
    GroupCommitStore s = (GroupCommitStore) store("node-a");
    Attachment a0 = new Attachment("o0", "eth0");
    s.allocate(pool, AllocationRequest.of(a0));
    assertEquals(List.of(), s.audit(pool));

    long deadline = System.nanoTime() + 5_000_000_000L;
    io.jipam.core.net.IpAddress address = io.jipam.core.net.IpAddress.parse("198.18.56.2");
    String handle = HandleCodec.encode(new Handle("node-a", io.jipam.core.store.PodRef.UNKNOWN,
        List.of(new io.jipam.core.store.Allocation(address, 0, a0, null, io.jipam.core.store.AllocationOrigin.STICKY)),
        0));
    s.etcd().txn(List.of(), List.of(EtcdClient.put(s.keys().handle("origins", a0), handle),
        EtcdClient.put(s.keys().nodeHandle("node-a", "origins", a0), handle)), List.of(), deadline, "corrupting");
    List<String> findings = store("node-z").audit(pool);
    assertEquals(List.of("origins: handle " + s.keys().handle("origins", a0) + " says 198.18.56.2 was given as sticky,"
        + " its address record as free"), findings);
  }

  @Test
  void definedPools_twoPoolsAllocatedFromOneOnlyRead_theTwoWithStoredRanges() {
    Pool one = TestPools.pool("one", AllocationOrder.LOWEST_FREE, "198.18.52.0/24", "fd00:52::/120");
    Pool two = TestPools.pool("two", AllocationOrder.ROUND_ROBIN, "198.18.53.0/24");
    EtcdStore s = store("node-a");
    s.allocate(one, AllocationRequest.of(new Attachment("d1", "eth0")));
    s.allocate(two, AllocationRequest.of(new Attachment("d2", "eth0")));
    s.usage(TestPools.pool("read", AllocationOrder.ROUND_ROBIN, "198.18.54.0/24"));
    List<Pool> defined = store("node-z").definedPools();
    assertEquals(List.of("one", "two"), defined.stream().map(Pool::name).toList());
    assertEquals(one.rangeSets(), defined.get(0).rangeSets());
    assertEquals(AllocationOrder.ROUND_ROBIN, defined.get(0).order());
  }

  @Test
  void commitListener_concurrentAdds_toldEveryCommitAndItsSize() throws Exception {
    Pool pool = TestPools.pool("batches", AllocationOrder.ROUND_ROBIN, "198.18.54.0/24");
    EtcdStore s = store("node-a");
    List<Integer> sizes = new CopyOnWriteArrayList<>();
    ((CommitCounters) s).addCommitListener((p, n) -> {
      assertEquals("batches", p);
      sizes.add(n);
    });
    Concurrently.run(16, java.time.Duration.ofSeconds(30), i -> s.allocate(pool, AllocationRequest.of(new Attachment("c" + i, "eth0"))));
    CommitCounters c = (CommitCounters) s;
    assertEquals(c.commits(), sizes.size());
    assertEquals(16, sizes.stream().mapToInt(Integer::intValue).sum());
    assertTrue(sizes.stream().allMatch(n -> n >= 1 && n <= 32), sizes.toString());
  }
}
