package io.jipam.server.pools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.TestEtcd;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A central jipamd's store per node on a real etcd, with an injected clock: a node's store is kept
 * while used, dropped once idle and rebuilt from etcd at the node's next call with what it had;
 * at most the bound are kept.
 */
@Timeout(60)
class NodeStoresTest {
  @TempDir Path dir;

  @Test
  void forNode_idlePastTheBound_droppedAndRebuiltFromEtcd() throws Exception {
    AtomicLong nanos = new AtomicLong();
    Pool pool = TestPools.pool("pods", AllocationOrder.ROUND_ROBIN, "198.18.16.0/24");
    try (TestEtcd etcd = TestEtcd.start(dir.resolve("etcd"));
        NodeStores stores = NodeStores.perNode(EtcdStores.openShared(EtcdStoreConfig.of(List.of(etcd.endpoint),
            "central-0").withPrefix("/node-stores-" + UUID.randomUUID()).withTimeout(Duration.ofSeconds(20))), nanos::get, Duration.ofMinutes(10), 2)) {
      IpamStore a = stores.forNode("node-a");
      a.allocate(pool, AllocationRequest.of(new Attachment("a1", "eth0")));
      nanos.addAndGet(Duration.ofMinutes(9).toNanos());
      assertSame(a, stores.forNode("node-a"), "used within the bound: kept");
      nanos.addAndGet(Duration.ofMinutes(11).toNanos());
      assertEquals(0, stores.kept(), "idle past the bound: dropped");
      IpamStore again = stores.forNode("node-a");
      assertNotSame(a, again);
      assertEquals(1, again.find(pool, new Attachment("a1", "eth0")).size(), "rebuilt from etcd");
      stores.forNode("node-b");
      stores.forNode("node-c");
      assertTrue(stores.kept() <= 2, "at most the bound kept: " + stores.kept());
    }
  }
}
