package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.testing.TestPools;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Data of the previous key layout (v1), written as that layout's code wrote it (its records, by
 * raw puts): a store of this layout refuses it naming the upgrade, changes nothing, and never
 * reads it as its own; a pool this layout defines is unreadable to the previous layout's code.
 */
@ExtendWith(EtcdExtension.class)
class EtcdLayoutUpgradeIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-test-" + UUID.randomUUID();
  private final Pool pool = TestPools.pool("old", AllocationOrder.ROUND_ROBIN, "198.18.60.0/24");

  EtcdLayoutUpgradeIT(Etcd etcd) {
    this.etcd = etcd;
  }

  /** What the v1 code wrote for one allocation (198.18.60.2 to c1/eth0 on node-a). */
  private static Map<String, String> previousLayout(String prefix) {
    Map<String, String> kv = new TreeMap<>();
    String v1 = prefix + "/v1/";
    kv.put(v1 + "pools/old", "jipam-pool 1\nset 26 198.18.60.0/24;198.18.60.1;198.18.60.254;198.18.60.1;-\n");
    kv.put(v1 + "blocks/old/0/198.18.60.0_26", "jipam-block 1\nowner node-a\ncursor 2\n2 c1 eth0 ~ ~\n");
    kv.put(v1 + "affinity/node-a/old/0/198.18.60.0_26", "");
    kv.put(v1 + "handles/old/c1/eth0", "jipam-handle 1\nnode node-a\npod ~ ~\n0 198.18.60.2\n");
    return kv;
  }

  private Map<String, String> everything(EtcdClient client) {
    Map<String, String> out = new TreeMap<>();
    for (KeyValue kv : client.range(prefix + "/", Fetch.VALUES, deadline(), "reading")) {
      out.put(EtcdClient.text(kv.getKey()), EtcdClient.text(kv.getValue()));
    }
    return out;
  }

  private static long deadline() {
    return System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
  }

  @Test
  void store_onPreviousLayout_refusesNamingTheUpgradeAndChangesNothing() {
    EtcdStoreConfig config = EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix);
    try (EtcdClient client = new EtcdClient(config, System::nanoTime);
        EtcdStore store = EtcdStores.open(config)) {
      List<io.etcd.jetcd.op.Op> puts = new ArrayList<>();
      previousLayout(prefix).forEach((k, v) -> puts.add(EtcdClient.put(k, v)));
      client.txn(List.of(), puts, List.of(), deadline(), "writing layout v1");
      Map<String, String> before = everything(client);

      List<Runnable> calls = List.of(
          () -> store.allocate(pool, AllocationRequest.of(new Attachment("c2", "eth0"))),
          () -> store.find(pool, new Attachment("c1", "eth0")),
          () -> store.list(pool),
          () -> store.usage(pool),
          () -> store.release(pool, new Attachment("c1", "eth0")),
          store::definedPools,
          () -> store.previewReclaim("node-a", ReclaimPolicy.FORCE));
      for (Runnable call : calls) {
        IpamException e = assertThrows(IpamException.class, call::run);
        assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e::toString);
        assertTrue(e.getMessage().contains("previous key layout (v1, " + prefix + "/v1/pools/old)")
            && e.getMessage().contains("jipamctl migrate") && e.getMessage().contains("Upgrading from layout v1"),
            e.getMessage());
      }
      assertEquals(before, everything(client), "nothing written");
    }
  }

  @Test
  void store_poolDefinedInThisLayout_previousLayoutCannotReadIt() {
    EtcdStoreConfig config = EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix);
    try (EtcdClient client = new EtcdClient(config, System::nanoTime);
        EtcdStore store = EtcdStores.open(config)) {
      assertInstanceOf(AllocationOutcome.Allocated.class,
          store.allocate(pool, AllocationRequest.of(new Attachment("c1", "eth0"))));
      Map<String, String> now = everything(client);
      assertEquals("jipam-layout 2\n", now.get(prefix + "/layout"));
      String standIn = now.get(prefix + "/v1/pools/old");
      // the previous layout's code parses its pool key with this same codec and magic line
      IpamException e = assertThrows(IpamException.class,
          () -> BlockLayout.parse("old", standIn, AllocationOrder.ROUND_ROBIN));
      assertEquals(ErrorCode.DECODE_FAILURE, e.code());
      assertTrue(e.getMessage().contains("moved to layout 2") && e.getMessage().contains("upgrade it"), e.getMessage());
    }
  }

  @Test
  void store_poolKeysDeletedStandInLeft_definesThePoolAgain() {
    EtcdStoreConfig config = EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix);
    try (EtcdClient client = new EtcdClient(config, System::nanoTime)) {
      try (EtcdStore store = EtcdStores.open(config)) {
        store.usage(pool);
      }
      client.txn(List.of(), List.of(EtcdClient.delete(prefix + "/v2/pools/old")), List.of(), deadline(), "deleting");
      Pool other = TestPools.pool("old", AllocationOrder.ROUND_ROBIN, "198.18.61.0/24");
      try (EtcdStore store = EtcdStores.open(config)) {
        assertInstanceOf(AllocationOutcome.Allocated.class,
            store.allocate(other, AllocationRequest.of(new Attachment("c1", "eth0"))));
      }
      EtcdInvariants.check(etcd.endpoints(), prefix);
    }
  }
}
