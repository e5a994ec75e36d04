package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A known weakness, measured (opt-in: {@code -Djipam.etcd.claimRace=true}; it fails today, so it
 * is not in the normal run): fresh nodes that take their first address at the same moment all
 * try to claim the same block, the first unclaimed one in address order. One wins each round; the
 * others fail their guard, re-read and try the next block. N nodes starting together take N
 * rounds, so the last node's first ADD costs about N claim round trips instead of one, and with
 * 16 nodes on a loaded machine it can pass the default 3 s bound (code 11; seen in {@code
 * SustainedChurnIT}, where most failed ADDs are a node's first).
 *
 * <p>Asserted: the slowest first ADD (a claim) of 16 warm stores started together costs at most
 * five times the slowest later ADD (from the node's own block) plus 500 ms.
 */
@ExtendWith(EtcdExtension.class)
@EnabledIfSystemProperty(named = "jipam.etcd.claimRace", matches = "true")
class EtcdClaimRaceTest {
  private final EtcdCluster etcd;

  EtcdClaimRaceTest(EtcdCluster etcd) {
    this.etcd = etcd;
  }

  @Test
  void firstAdds_16FreshNodesAtOnce_costAboutOneClaimEach() throws Exception {
    String prefix = "/claim-race-" + UUID.randomUUID();
    Pool pool = TestPools.pool("race", AllocationOrder.ROUND_ROBIN, "198.18.32.0/20");
    List<EtcdStore> stores = new ArrayList<>();
    try {
      for (int n = 0; n < 16; n++) {
        stores.add(EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "n" + n).withPrefix(prefix)
            .withTimeout(Duration.ofSeconds(30))));
      }
      for (EtcdStore s : stores) {
        s.find(pool, new Attachment("warm-up", "eth0")); // connection and pool definition warm
      }
      List<Long> claims = addsAtOnce(stores, pool, "first");
      List<Long> own = addsAtOnce(stores, pool, "second");
      System.out.println("EtcdClaimRaceTest: 16 nodes' first ADDs at once (each claims a block), ms: " + claims
          + "; their second ADDs at once (own block), ms: " + own);
      long slowestClaim = claims.get(claims.size() - 1);
      long slowestOwn = own.get(own.size() - 1);
      assertTrue(slowestClaim <= 5 * slowestOwn + 500, "the slowest first ADD took " + slowestClaim
          + " ms, the slowest later ADD " + slowestOwn + " ms: first ADDs " + claims);
    } finally {
      stores.forEach(EtcdStore::close);
    }
  }

  private static List<Long> addsAtOnce(List<EtcdStore> stores, Pool pool, String tag) throws Exception {
    ConcurrentLinkedQueue<Long> millis = new ConcurrentLinkedQueue<>();
    Concurrently.run(stores.size(), Duration.ofSeconds(120), n -> {
      long start = System.nanoTime();
      AllocationOutcome out = stores.get(n).allocate(pool, AllocationRequest.of(new Attachment(tag + n, "eth0")));
      millis.add((System.nanoTime() - start) / 1_000_000);
      assertTrue(out instanceof AllocationOutcome.Allocated, out::toString);
    });
    List<Long> sorted = new ArrayList<>(millis);
    sorted.sort(null);
    return sorted;
  }
}
