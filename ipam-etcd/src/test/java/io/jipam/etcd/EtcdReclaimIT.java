package io.jipam.etcd;

import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import java.time.Clock;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.core.testing.Concurrently;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Reclaiming a node never hands out an address that node still uses. */
@ExtendWith(EtcdExtension.class)
class EtcdReclaimIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-test-" + UUID.randomUUID();
  private final List<EtcdStore> opened = new ArrayList<>();
  private final Pool pool = EtcdStoreIT.pool("reclaim", "198.18.0.0/22");

  EtcdReclaimIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @AfterEach
  void closeAll() {
    opened.forEach(EtcdStore::close);
  }

  private EtcdStore store(String node) {
    return store(node, Clock.systemUTC());
  }

  /** A store of {@code node} whose wall clock (its seen records, its judgement of others) is {@code wall}. */
  private EtcdStore store(String node, Clock wall) {
    EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix), wall);
    opened.add(s);
    return s;
  }

  @Test
  void reclaimNode_forcedWhileNodeAllocates_releasesAllItGotAndItAllocatesNoMore() throws Exception {
    List<EtcdStore> live = List.of(store("n"), store("n"));
    EtcdStore operator = store("op");
    ConcurrentLinkedQueue<Attachment> got = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    AtomicLong reclaimedAt = new AtomicLong(Long.MAX_VALUE);
    AtomicLong afterReclaim = new AtomicLong();
    AtomicLong callsAfterReclaim = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    Concurrently.Task allocateUntilStopped = id -> {
      EtcdStore s = live.get(id % 2);
      for (int i = 0; !stop.get(); i++) {
        Attachment a = new Attachment("n" + id + "-" + i, "eth0");
        try {
          if (s.allocate(pool, AllocationRequest.of(a)) instanceof AllocationOutcome.Allocated) {
            got.add(a);
            if (System.nanoTime() > reclaimedAt.get()) {
              afterReclaim.incrementAndGet();
            }
          }
        } catch (IpamException e) {
          if (e.code() != ErrorCode.TRY_AGAIN_LATER) {
            errors.add(e.code() + " " + e.getMessage());
          }
        }
        if (System.nanoTime() > reclaimedAt.get()) {
          callsAfterReclaim.incrementAndGet();
        }
      }
    };
    ReclaimReport report;
    try (Concurrently running = Concurrently.start(4, allocateUntilStopped)) {
      // the reclaim lands while the node allocates: after some of its allocations, and the callers
      // go on calling after it returned
      Await.until(() -> got.size() >= 8, Duration.ofMinutes(1), () -> "8 allocations of node n; " + errors);
      report = operator.reclaimNode("n", ReclaimPolicy.FORCE);
      reclaimedAt.set(System.nanoTime());
      Await.until(() -> callsAfterReclaim.get() >= 40, Duration.ofMinutes(1), "40 calls of node n after its reclaim");
      stop.set(true);
      running.await(Duration.ofMinutes(2));
    }
    assertEquals(0, afterReclaim.get(), "allocations the node got after its reclaim returned");
    List<Allocation> left = operator.list(pool);
    assertEquals(List.of(), left, "allocations of the reclaimed node left in the pool");
    // every allocation it got was released (a call that failed TRY_AGAIN_LATER may have applied too)
    List<Attachment> releasedAttachments = report.released().getOrDefault(pool.name(), List.of()).stream()
        .map(Allocation::attachment).toList();
    assertTrue(releasedAttachments.containsAll(got), got.size() + " got, " + releasedAttachments.size() + " released");
    assertTrue(report.forced(), report.toString());
    assertTrue(errors.stream().allMatch(m -> m.startsWith("NOT_AVAILABLE") && m.contains("fenced")),
        errors.toString());
    IpamException e = assertThrows(IpamException.class,
        () -> live.get(0).allocate(pool, AllocationRequest.of(new Attachment("later", "eth0"))));
    assertEquals(ErrorCode.NOT_AVAILABLE, e.code());
    assertTrue(e.getMessage().contains("node n is fenced") && e.getMessage().contains("by node op"), e.getMessage());
  }

  @Test
  void previewReclaim_liveNode_listsWhatItHoldsAndRefusalChangingNothing() {
    EtcdStore n = store("n");
    EtcdStore operator = store("op");
    n.allocate(pool, AllocationRequest.of(new Attachment("n1", "eth0")));
    n.allocate(pool, AllocationRequest.of(new Attachment("n2", "eth0")));
    operator.allocate(pool, AllocationRequest.of(new Attachment("op1", "eth0")));

    ReclaimPreview p = operator.previewReclaim("n", ReclaimPolicy.DEFAULT);

    assertTrue(p.looksAlive() && !p.fenced() && p.lastSeen() != null, p.toString());
    assertTrue(p.refused(ReclaimPolicy.DEFAULT) && !p.refused(ReclaimPolicy.FORCE), p.toString());
    assertEquals(List.of("n1", "n2"), p.held().get("reclaim").stream().map(a -> a.attachment().containerId()).toList());
    assertEquals(3, operator.list(pool).size(), "nothing released");
    assertInstanceOf(AllocationOutcome.Allocated.class, n.allocate(pool, AllocationRequest.of(new Attachment("n3", "eth0"))),
        "not fenced");
    operator.reclaimNode("n", ReclaimPolicy.FORCE);
    ReclaimPreview after = operator.previewReclaim("n", ReclaimPolicy.DEFAULT);
    assertTrue(after.fenced() && after.held().isEmpty() && !after.refused(ReclaimPolicy.DEFAULT), after.toString());
  }

  @Test
  void reclaimNode_nodeCommittedWithinQuietPeriod_refusedAndNothingChanges() {
    EtcdStore n = store("n");
    EtcdStore operator = store("op");
    n.allocate(pool, AllocationRequest.of(new Attachment("n1", "eth0")));

    IpamException e = assertThrows(IpamException.class, () -> operator.reclaimNode("n"));

    assertEquals(ErrorCode.NOT_AVAILABLE, e.code());
    assertTrue(e.getMessage().contains("node n refused") && e.getMessage().contains("quiet period of 600 s")
        && e.getMessage().contains("force"), e.getMessage());
    assertEquals(1, operator.list(pool).size());
    assertInstanceOf(AllocationOutcome.Allocated.class, n.allocate(pool, AllocationRequest.of(new Attachment("n2", "eth0"))),
        "not fenced");
  }

  @Test
  void reclaimNode_quietNode_reclaimedWithReportThenFenceLifted() throws Exception {
    Pool other = EtcdStoreIT.pool("reclaim-dual", "198.19.0.0/24", "fd00:19::/64");
    // n's clock is 2 s behind the operator's: its last commit looks 2 s old, past the 1 s quiet period
    EtcdStore n = store("n", Clock.offset(Clock.systemUTC(), Duration.ofSeconds(-2)));
    EtcdStore operator = store("op");
    n.allocate(pool, AllocationRequest.of(new Attachment("n1", "eth0")));
    n.allocate(pool, AllocationRequest.of(new Attachment("n2", "eth0")));
    n.allocate(other, AllocationRequest.of(new Attachment("n3", "eth0")));
    operator.allocate(pool, new AllocationRequest(new Attachment("o1", "eth0"),
        List.of(io.jipam.core.net.IpAddress.parse("198.18.0.9")), null));
    n.close();

    ReclaimReport report = operator.reclaimNode("n", new ReclaimPolicy(Duration.ofSeconds(1), false));

    assertEquals("n", report.node());
    assertFalse(report.forced());
    assertNotNull(report.lastSeen());
    assertEquals(4, report.allocationsReleased());
    assertEquals(List.of(2, 2), List.of(report.released().get("reclaim").size(), report.released().get("reclaim-dual").size()));
    assertEquals(1, report.blocksOrphaned(), "n's first block holds o1");
    assertEquals(2, report.blocksDeleted(), "n's empty blocks of the dual-stack pool");
    assertEquals(3, report.affinitiesRemoved());
    assertEquals(1, operator.list(pool).size());

    EtcdStore again = store("n");
    assertEquals(ErrorCode.NOT_AVAILABLE, assertThrows(IpamException.class,
        () -> again.allocate(pool, AllocationRequest.of(new Attachment("n4", "eth0")))).code());
    assertTrue(operator.liftFence("n"));
    assertFalse(operator.liftFence("n"));
    assertInstanceOf(AllocationOutcome.Allocated.class, again.allocate(pool, AllocationRequest.of(
        new Attachment("n4", "eth0"))));
  }
}
