package io.jipam.etcd;

import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A call that returned an error is never applied later, and a DEL that returned wins over an ADD of
 * the same attachment it raced with: etcd partitioned from a warm store (a TCP proxy holding the
 * bytes, then delivering them late), and etcd killed (kill -9) during commits. Each test has its own
 * single-member etcd, so that partitions and kills touch nobody else.
 */
class EtcdLateWriteIT {
  private static final Pool POOL = EtcdStoreIT.pool("late", "198.18.0.0/24");
  private static final long TIMEOUT_MS = 1500;
  private static Etcd cluster;

  @BeforeAll
  static void start() throws Exception {
    cluster = Etcd.single();
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  private static EtcdStore open(String endpoint, String node, String prefix, long timeoutMs) {
    return EtcdStores.open(EtcdStoreConfig.of(List.of(endpoint), node).withPrefix(prefix)
        .withTimeout(Duration.ofMillis(timeoutMs)));
  }

  private static String prefix() {
    return "/jipam-test-" + java.util.UUID.randomUUID();
  }

  private static Set<String> holders(EtcdStore store) {
    Set<String> out = new TreeSet<>();
    for (Allocation a : store.list(POOL)) {
      out.add(a.attachment().containerId());
    }
    return out;
  }

  @Test
  void allocate_partitionedThenDeletedElsewhere_lateTransactionNeverApplies() throws Exception {
    // the runtime's DEL of the failed ADD, from another process, while the ADD's bytes are held
    partitionedAdd(true, 0, "the DEL that returned won");
  }

  @Test
  void allocate_partitionedLongerThanTicketLease_failedCallNeverApplies() throws Exception {
    // no DEL: the held transaction reaches etcd after its ticket lease (2 s) ended
    partitionedAdd(false, 3000, "the failed call was not applied later");
  }

  /**
   * A warm store allocates once; etcd is partitioned from it (the proxy holds the bytes); its next
   * ADD fails; optionally another store DELs that attachment; after {@code holdMillis} more the
   * partition heals and the held transaction arrives; it must not have applied.
   */
  private void partitionedAdd(boolean delElsewhere, long holdMillis, String what) throws Exception {
    String prefix = prefix();
    String direct = cluster.endpoints().get(0);
    try (TcpProxy proxy = new TcpProxy(TcpProxy.portOf(direct));
        EtcdStore warm = open(proxy.endpoint(), "n", prefix, TIMEOUT_MS);
        EtcdStore other = open(direct, "m", prefix, 3000)) {
      allocateWithin(warm, new Attachment("w0", "eth0"), 10_000); // connecting may be slow on a busy machine
      Attachment lost = new Attachment("x1", "eth0");

      proxy.pause();
      long start = System.nanoTime();
      IpamException e = assertThrows(IpamException.class, () -> warm.allocate(POOL, AllocationRequest.of(lost)));
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
      assertTrue(millis < TIMEOUT_MS + 1500, "failed after " + millis + " ms");
      if (delElsewhere) {
        assertEquals(List.of(), other.release(POOL, lost));
      }
      Thread.sleep(holdMillis);
      proxy.resume();

      // the held transaction reaches etcd now; the warm store reconnects and goes on
      allocateWithin(warm, new Attachment("w1", "eth0"), 10_000);
      Thread.sleep(300);
      assertEquals(List.of(), other.find(POOL, lost), what);
      assertEquals(Set.of("w0", "w1"), holders(other));
    }
  }

  /** Allocates, repeating TRY_AGAIN_LATER for up to {@code millis}. */
  private static void allocateWithin(EtcdStore store, Attachment a, long millis) {
    long end = System.currentTimeMillis() + millis;
    while (true) {
      try {
        assertInstanceOf(AllocationOutcome.Allocated.class, store.allocate(POOL, AllocationRequest.of(a)));
        return;
      } catch (IpamException e) {
        if (e.code() != ErrorCode.TRY_AGAIN_LATER || System.currentTimeMillis() > end) {
          throw e;
        }
      }
    }
  }

  @Test
  void allocate_etcdKilledDuringCommits_failedCallsNeverApplyAfterTheirDel() throws Exception {
    String prefix = prefix();
    String direct = cluster.endpoints().get(0);
    ConcurrentLinkedQueue<Attachment> failed = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    AtomicLong churned = new AtomicLong();
    try (EtcdStore store = open(direct, "n", prefix, TIMEOUT_MS)) {
      allocateWithin(store, new Attachment("w0", "eth0"), 10_000);
      AtomicBoolean stop = new AtomicBoolean();
      ExecutorService ex = Executors.newFixedThreadPool(4);
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int id = t;
        fs.add(ex.submit(() -> {
          for (int i = 0; !stop.get(); i++) {
            Attachment a = new Attachment("k" + id + "-" + i, "eth0");
            try {
              if (store.allocate(POOL, AllocationRequest.of(a)) instanceof AllocationOutcome.Allocated) {
                store.release(POOL, a);
                churned.incrementAndGet();
              } else {
                errors.add(a + ": not allocated");
              }
            } catch (IpamException e) {
              if (e.code() != ErrorCode.TRY_AGAIN_LATER) {
                errors.add(a + ": " + e.getMessage());
              }
              failed.add(a);
            }
          }
        }));
      }
      // kill etcd mid-churn, keep it down until every thread saw a call fail, and let the churn go on
      // after the restart
      Await.until(() -> churned.get() >= 20, Duration.ofMinutes(1), () -> "20 ADD+DEL pairs; " + errors);
      cluster.kill(0);
      Await.until(() -> failed.size() >= 4, Duration.ofMinutes(1), "4 calls failing while etcd is down");
      cluster.restart(0);
      cluster.awaitHealthy(0, Duration.ofSeconds(30));
      long before = churned.get();
      Await.until(() -> churned.get() >= before + 20, Duration.ofMinutes(1),
          () -> "20 ADD+DEL pairs after the restart; " + errors);
      stop.set(true);
      for (Future<?> f : fs) {
        f.get();
      }
      ex.shutdown();
      assertEquals(List.of(), List.copyOf(errors));
      assertFalse(failed.isEmpty(), "some calls failed while etcd was down");

      // the runtime DELs every attachment whose ADD or DEL failed, from another process
      try (EtcdStore other = open(direct, "m", prefix, 5000)) {
        for (Attachment a : failed) {
          other.release(POOL, a);
        }
        Thread.sleep(500);
        // every ADD that succeeded was DELed by its thread or, when that DEL failed, here
        assertEquals(Set.of("w0"), holders(other), "nothing a failed call wrote outlives its DEL");
        // the store goes on
        allocateWithin(store, new Attachment("after", "eth0"), 10_000);
      }
    }
  }

  @Test
  void release_manyQueuedWhilePartitioned_failSayingTheyTimedOutWaiting() throws Exception {
    String prefix = prefix();
    String direct = cluster.endpoints().get(0);
    try (TcpProxy proxy = new TcpProxy(TcpProxy.portOf(direct));
        EtcdStore store = open(proxy.endpoint(), "n", prefix, 800)) {
      for (int i = 0; i < 3; i++) {
        allocateWithin(store, new Attachment("h" + i, "eth0"), 10_000);
      }
      proxy.pause();
      int calls = 120;
      ExecutorService ex = Executors.newFixedThreadPool(calls);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<String>> fs = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        Attachment a = new Attachment("h" + (i % 3) + (i < 3 ? "" : "-" + i), "eth0");
        fs.add(ex.submit(() -> {
          go.await();
          try {
            store.release(POOL, a);
            return "released";
          } catch (IpamException e) {
            return e.code() + " " + e.getMessage();
          }
        }));
      }
      go.countDown();
      List<String> messages = new ArrayList<>();
      for (Future<String> f : fs) {
        messages.add(f.get());
      }
      ex.shutdown();
      proxy.resume();
      for (String m : messages) {
        assertTrue(m.startsWith("TRY_AGAIN_LATER"), m);
        assertFalse(m.contains("under 0 conflicting"), m);
      }
    }
  }
}
