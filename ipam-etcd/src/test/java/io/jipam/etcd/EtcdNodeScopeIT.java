package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A node's GC ({@code retainOnly}), reclaim preview and block usage (its metrics) read that node's
 * keys only: the keys etcd returns to the node's store (counted by its client) are the same in a
 * pool of 20 other allocations and in one of 2,000.
 */
@ExtendWith(EtcdExtension.class)
class EtcdNodeScopeIT {
  private static final int MINE = 5;

  private final Etcd etcd;

  EtcdNodeScopeIT(Etcd etcd) {
    this.etcd = etcd;
  }

  /** Keys read by each of the node's three calls, with {@code others} allocations of 20 other nodes around. */
  private long[] keysRead(int others) throws Exception {
    String prefix = "/jipam-test-" + UUID.randomUUID();
    Pool pool = TestPools.pool("scope", AllocationOrder.ROUND_ROBIN, "198.18.0.0/17");
    EtcdStoreConfig base = EtcdStoreConfig.of(etcd.endpoints(), "probe").withPrefix(prefix);
    List<EtcdStore> nodes = new ArrayList<>();
    try {
      for (int n = 0; n < 20; n++) {
        nodes.add(EtcdStores.open(base.withNode("other-" + n)));
      }
      int each = others / nodes.size();
      Concurrently.run(40, Duration.ofMinutes(2), t -> {
        EtcdStore s = nodes.get(t % nodes.size());
        for (int i = t / nodes.size(); i < each; i += 2) {
          assertInstanceOf(AllocationOutcome.Allocated.class,
              s.allocate(pool, AllocationRequest.of(new Attachment(s.node() + "-" + i, "eth0"))));
        }
      });
      try (GroupCommitStore probe = (GroupCommitStore) EtcdStores.open(base)) {
        Set<Attachment> mine = new HashSet<>();
        for (int i = 0; i < MINE; i++) {
          mine.add(new Attachment("mine-" + i, "eth0"));
          probe.allocate(pool, AllocationRequest.of(new Attachment("mine-" + i, "eth0")));
        }
        assertEquals(others + MINE, probe.usage(pool).allocated().get(0));
        long[] read = new long[3];
        long before = probe.etcd().tally().keysRead();
        assertEquals(List.of(), probe.retainOnly(pool, mine));
        read[0] = probe.etcd().tally().keysRead() - before;
        before = probe.etcd().tally().keysRead();
        assertEquals(MINE, probe.previewReclaim("probe", ReclaimPolicy.FORCE).held().get("scope").size());
        read[1] = probe.etcd().tally().keysRead() - before;
        before = probe.etcd().tally().keysRead();
        assertEquals(MINE, probe.nodeBlockUsage(pool).usage().allocated().get(0));
        read[2] = probe.etcd().tally().keysRead() - before;
        return read;
      }
    } finally {
      nodes.forEach(EtcdStore::close);
    }
  }

  @Test
  void nodeCalls_pool100TimesLarger_readTheSameKeys() throws Exception {
    long[] small = keysRead(20);
    long[] large = keysRead(2_000);
    assertEquals(java.util.Arrays.toString(small), java.util.Arrays.toString(large),
        "keys read by retainOnly, previewReclaim, nodeBlockUsage");
    // the node's 5 handles (GC, preview), its one block and its affinity key, plus a few records
    assertTrue(small[0] <= MINE + 2 && small[1] <= MINE + 6 && small[2] <= 4, java.util.Arrays.toString(small));
  }
}
