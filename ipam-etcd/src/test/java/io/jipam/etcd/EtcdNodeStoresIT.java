package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.Concurrently;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Stores of several nodes over one etcd client ({@link EtcdStores#openShared}): each node's
 * allocations land in its own blocks under its own name, a node's GC keeps the other nodes'
 * attachments, and a node's ADD, DEL and find of another node's attachment are refused with
 * PERMISSION_DENIED and write nothing.
 */
@ExtendWith(EtcdExtension.class)
class EtcdNodeStoresIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-nodes-" + UUID.randomUUID();
  private final EtcdNodeStores stores;
  private final Pool pool = EtcdStoreIT.pool("nodes", "198.18.8.0/22");

  EtcdNodeStoresIT(Etcd etcd) {
    this.etcd = etcd;
    this.stores = EtcdStores.openShared(EtcdStoreConfig.of(etcd.endpoints(), "central-0").withPrefix(prefix));
  }

  @AfterEach
  void close() {
    stores.close();
    EtcdInvariants.check(etcd.endpoints(), prefix);
  }

  @Test
  void forNode_twoNodesInParallel_eachInItsOwnBlocksUnderItsName() throws Exception {
    EtcdStore a = stores.forNode("node-a");
    EtcdStore b = stores.forNode("node-b");
    Set<Attachment> all = java.util.concurrent.ConcurrentHashMap.newKeySet();
    Concurrently.run(16, java.time.Duration.ofSeconds(30), i -> {
      EtcdStore s = i % 2 == 0 ? a : b;
      Attachment att = new Attachment((i % 2 == 0 ? "a" : "b") + i, "eth0");
      all.add(att);
      EtcdStoreIT.address(s.allocate(pool, AllocationRequest.of(att)));
    });
    Map<Attachment, String> nodes = stores.store().allocatingNodes(pool);
    assertEquals(16, nodes.size());
    nodes.forEach((att, node) -> assertEquals(att.containerId().startsWith("a") ? "node-a" : "node-b", node));
    Set<String> owners = new HashSet<>();
    stores.store().blockUsage(pool).blocks().forEach(u -> owners.add(u.owner()));
    assertEquals(Set.of("node-a", "node-b"), owners, "no block under the central's name");
    Set<Object> addresses = new HashSet<>();
    stores.store().list(pool).forEach(x -> assertTrue(addresses.add(x.address()), "twice: " + x));
  }

  @Test
  void retainOnly_ofOneNode_keepsTheOtherNodesAttachments() {
    EtcdStore a = stores.forNode("node-a");
    EtcdStore b = stores.forNode("node-b");
    Attachment a1 = new Attachment("a1", "eth0");
    Attachment b1 = new Attachment("b1", "eth0");
    EtcdStoreIT.address(a.allocate(pool, AllocationRequest.of(a1)));
    EtcdStoreIT.address(b.allocate(pool, AllocationRequest.of(b1)));
    List<Allocation> released = a.retainOnly(pool, Set.of());
    assertEquals(List.of(a1), released.stream().map(Allocation::attachment).toList());
    assertEquals(1, b.find(pool, b1).size(), "node B's pod keeps its address");
  }

  @Test
  void allocateReleaseFind_anotherNodesAttachment_permissionDeniedAndNothingWritten() {
    EtcdStore a = stores.forNode("node-a");
    EtcdStore b = stores.forNode("node-b");
    Attachment b1 = new Attachment("b1", "eth0");
    AllocationOutcome held = b.allocate(pool, AllocationRequest.of(b1));
    Map<String, Long> before = keys();
    List<Executable> tries = List.of(
        () -> a.find(pool, b1),
        () -> a.release(pool, b1),
        () -> a.allocate(pool, AllocationRequest.of(b1)));
    for (Executable t : tries) {
      IpamException e = assertThrows(IpamException.class, t::execute);
      assertEquals(ErrorCode.PERMISSION_DENIED, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("node-b") && e.getMessage().contains("node-a"), e.getMessage());
    }
    assertEquals(before, keys(), "a refused call writes nothing");
    assertEquals(((AllocationOutcome.Allocated) held).allocations(), b.find(pool, b1));
    assertEquals(1, stores.store().release(pool, b1).size(), "the operator's store may release it");
  }

  @Test
  void forNode_invalidName_invalidConfig() {
    IpamException e = assertThrows(IpamException.class, () -> stores.forNode("../etc"));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
  }

  /** Every key under the test's prefix with its mod revision. */
  private Map<String, Long> keys() {
    GroupCommitStore s = (GroupCommitStore) stores.store();
    Map<String, Long> out = new java.util.TreeMap<>();
    s.etcd().range(prefix, Fetch.VALUES, System.nanoTime() + 3_000_000_000L, "test")
        .forEach(kv -> out.put(EtcdClient.text(kv.getKey()), kv.getModRevision()));
    return out;
  }
}
