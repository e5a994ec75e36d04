package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * A three-member cluster losing members: one killed (kill -9) during churn, then a second so there
 * is no quorum, then both back.
 */
class EtcdFaultIT {
  private static final long TIMEOUT_MS = 1500;

  @Test
  void churn_membersKilledAndRestarted_continuesFailsBoundedAndLosesNothing() throws Exception {
    try (Etcd cluster = Etcd.cluster(3);
        GroupCommitStore store = (GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(cluster.endpoints(), "f")
            .withTimeout(Duration.ofMillis(TIMEOUT_MS)))) {
      Attachment sentinel = new Attachment("sentinel", "eth0");
      List<Allocation> held = assertInstanceOf(AllocationOutcome.Allocated.class,
          store.allocate(Churn.POOL, AllocationRequest.of(sentinel))).allocations();
      List<Churn.Hold> holds = new ArrayList<>();

      // 1. one member killed during churn: allocations go on
      Churn first = new Churn();
      long stop = System.currentTimeMillis() + 4000;
      CompletableFuture<Void> running = CompletableFuture.runAsync(() -> run(first, store, "a", stop));
      Thread.sleep(1200);
      cluster.kill(0);
      long okAtKill = first.ok.get();
      running.get();
      assertEquals(List.of(), List.copyOf(first.errors));
      assertTrue(first.ok.get() - okAtKill >= 20,
          "after the kill: " + (first.ok.get() - okAtKill) + " ops, " + first.tryAgain.get() + " try-again");
      holds.addAll(first.holds);

      // 2. a second member down: no quorum, every call fails TRY_AGAIN_LATER within the bound
      cluster.kill(1);
      for (Runnable call : List.<Runnable>of(
          () -> store.allocate(Churn.POOL, AllocationRequest.of(new Attachment("noquorum", "eth0"))),
          () -> store.release(Churn.POOL, sentinel),
          () -> store.find(Churn.POOL, sentinel),
          () -> store.list(Churn.POOL))) {
        long start = System.nanoTime();
        IpamException e = assertThrows(IpamException.class, call::run);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
        assertTrue(millis <= TIMEOUT_MS + 1500, "failed after " + millis + " ms");
      }

      // 3. both back: churn resumes
      cluster.restart(0);
      cluster.restart(1);
      cluster.awaitHealthy(0, java.time.Duration.ofSeconds(30));
      cluster.awaitHealthy(1, java.time.Duration.ofSeconds(30));
      Churn second = new Churn();
      run(second, store, "b", System.currentTimeMillis() + 2500);
      assertEquals(List.of(), List.copyOf(second.errors));
      assertTrue(second.ok.get() >= 50, "after recovery: " + second.ok.get() + " ops");
      holds.addAll(second.holds);

      // 4. nothing lost, nothing duplicated, nothing leaked once the uncertain ones are deleted
      assertEquals(held, store.find(Churn.POOL, sentinel));
      for (Churn c : List.of(first, second)) {
        for (Attachment a : c.uncertain) {
          store.release(Churn.POOL, a);
        }
      }
      store.release(Churn.POOL, new Attachment("noquorum", "eth0"));
      store.release(Churn.POOL, sentinel);
      assertEquals(List.of(), Churn.overlaps(holds));
      assertEquals(List.of(), store.list(Churn.POOL));
    }
  }

  private static void run(Churn churn, GroupCommitStore store, String tag, long stopAtMillis) {
    try {
      churn.run(store, Churn.POOL, tag, 3, Integer.MAX_VALUE, 3, stopAtMillis);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
