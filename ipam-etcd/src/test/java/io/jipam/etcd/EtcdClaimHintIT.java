package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The set's claim hint (the block claimed last) in a large IPv6 range: a block claimed for a
 * requested address far into the range does not move it, and a hint far into the range (as an
 * earlier jipam wrote for such a claim) is walked from, not stepped up to. Before, the next claim of
 * any node stepped over every block from the range's start to the hint (2^58 in a /64) inside its
 * commit task, past every deadline, and its pool's calls on that node failed until a restart.
 */
@ExtendWith(EtcdExtension.class)
class EtcdClaimHintIT {
  private static final String SUBNET = "fd00:244::/64";
  private static final IpAddress FAR = IpAddress.parse("fd00:244::ffff:ffff:ffff:ff01");

  private final Etcd etcd;
  private final String prefix = "/hint-" + UUID.randomUUID();
  private final Pool pool = EtcdStoreIT.pool("far", SUBNET);

  EtcdClaimHintIT(Etcd etcd) {
    this.etcd = etcd;
  }

  private EtcdStore open(String node) {
    return EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix)
        .withTimeout(Duration.ofSeconds(3)));
  }

  private static AllocationOutcome add(EtcdStore store, Pool pool, String id, List<IpAddress> requested) {
    return store.allocate(pool, new AllocationRequest(new Attachment(id, "eth0"), requested, PodRef.UNKNOWN));
  }

  @Test
  void allocate_afterARequestedAddressFarIntoTheRange_freshNodesClaimTheFirstBlocks() {
    try (EtcdStore a = open("node-a"); EtcdStore b = open("node-b"); EtcdStore c = open("node-c")) {
      assertEquals(FAR, EtcdStoreIT.address(add(a, pool, "static", List.of(FAR))));
      IpAddress b1 = EtcdStoreIT.address(add(b, pool, "b1", List.of()));
      IpAddress c1 = EtcdStoreIT.address(add(c, pool, "c1", List.of()));
      assertEquals(IpAddress.parse("fd00:244::"), b1.masked(122), "node-b's first block is the range's first: " + b1);
      assertEquals(IpAddress.parse("fd00:244::40"), c1.masked(122), "node-c's is the next one: " + c1);
      assertEquals(1, b.release(pool, new Attachment("b1", "eth0")).size());
    }
    EtcdInvariants.check(etcd.endpoints(), prefix);
  }

  @Test
  void allocate_hintFarIntoTheRangeLeftByAnEarlierJipam_answersWithinItsTimeout() {
    try (EtcdStore a = open("node-a")) {
      add(a, pool, "first", List.of()); // defines the pool and claims fd00:244::/122
    }
    try (EtcdClient client = new EtcdClient(EtcdStoreConfig.of(etcd.endpoints(), "writer"), System::nanoTime)) {
      String hint = new Keys(prefix).claimHint("far", 0);
      client.txn(List.of(), List.of(EtcdClient.put(hint, "fd00:244::ffff:ffff:ffff:ff00_122")), List.of(),
          System.nanoTime() + 10_000_000_000L, "writing an earlier jipam's claim hint");
    }
    try (EtcdStore b = open("node-b")) {
      long start = System.nanoTime();
      AllocationOutcome outcome = add(b, pool, "b1", List.of());
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertInstanceOf(AllocationOutcome.Allocated.class, outcome, outcome::toString);
      assertTrue(ms < 3_000, "took " + ms + " ms");
      IpAddress b1 = EtcdStoreIT.address(outcome);
      assertEquals(IpAddress.parse("fd00:244::ffff:ffff:ffff:ff40"), b1.masked(122), "the block after the hint: " + b1);
      assertEquals(1, b.release(pool, new Attachment("b1", "eth0")).size());
    }
    EtcdInvariants.check(etcd.endpoints(), prefix);
  }
}
