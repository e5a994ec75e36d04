package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.KeptPools;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.store.capability.RetireOutcome;
import io.jipam.core.store.capability.RetirePools;
import io.jipam.core.net.IpAddress;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Etcd;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Retiring a pool seen by two nodes' stores: the warm store of the node that did not retire it
 * (its caches still holding the pool's definition and blocks) ADDs or reserves there afterwards,
 * and a retire races ADDs. Never a key of a pool without its definition, never an allocation lost
 * ({@link EtcdInvariants} after each test, which checks both).
 */
@ExtendWith(EtcdExtension.class)
class EtcdRetirePoolIT {
  private static final Pool OLD = TestPools.pool("net+old", AllocationOrder.LOWEST_FREE, "10.77.0.0/24");
  private static final PodRef POD = new PodRef("ns", "pod");
  private final PrefixedStores stores;

  EtcdRetirePoolIT(Etcd etcd) {
    this.stores = new PrefixedStores(etcd);
  }

  @AfterEach
  void closeAll() throws Exception {
    stores.close();
  }

  private static AllocationOutcome add(EtcdStore store, Pool pool, String id) {
    return store.allocate(pool, new AllocationRequest(new Attachment(id, "eth0"), List.of(), POD));
  }

  private static RetirePools retirer(EtcdStore store) {
    return store.capability(RetirePools.class).orElseThrow();
  }

  private static List<String> defined(EtcdStore store) {
    return store.definedPools("net").stream().map(Pool::name).toList();
  }

  /** node-2's warm store: it allocated in the pool and released, so its caches hold the definition and its block. */
  private EtcdStore warm() {
    EtcdStore s = stores.open(stores.config("node-2"));
    assertInstanceOf(AllocationOutcome.Allocated.class, add(s, OLD, "warm"));
    s.release(OLD, new Attachment("warm", "eth0"));
    assertEquals(List.of("net+old"), s.capability(KeptPools.class).orElseThrow()
        .keptPools("net", Set.of("net"), OLD).stream().map(Pool::name).toList());
    return s;
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "same ranges,    10.77.0.0/24, Allocated",
      "other ranges,   10.78.0.0/24, INVALID_CONFIG",
  })
  void allocate_warmStoreOfAnotherNodeAfterRetire_definesThePoolAgainOrRefusesOtherRanges(String name,
      String redefinedWith, String expected) {
    EtcdStore warm = warm();
    EtcdStore other = stores.open(stores.config("node-1"));
    assertEquals(new RetireOutcome.Retired("net+old"), retirer(other).retire("net+old"));
    assertEquals(List.of(), defined(other));
    Pool again = TestPools.pool("net+old", AllocationOrder.LOWEST_FREE, redefinedWith);
    if (!again.equals(OLD)) {
      // another config names the retired pool first: its ranges are the pool's now
      assertInstanceOf(AllocationOutcome.Allocated.class, add(other, again, "first"));
    }
    if (expected.equals("Allocated")) {
      AllocationOutcome out = add(warm, OLD, "after");
      assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString);
      assertEquals(List.of(new Attachment("after", "eth0")),
          other.list(OLD).stream().map(Allocation::attachment).toList());
    } else {
      IpamException e = assertThrows(IpamException.class, () -> add(warm, OLD, "after"));
      assertEquals(ErrorCode.valueOf(expected), e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("10.78.0.0"), e.getMessage());
    }
    assertEquals(List.of("net+old"), defined(other));
  }

  @Test
  void reserve_warmStoreOfAnotherNodeAfterRetire_definesThePoolAgain() {
    EtcdStore warm = warm();
    EtcdStore other = stores.open(stores.config("node-1"));
    assertEquals(new RetireOutcome.Retired("net+old"), retirer(other).retire("net+old"));
    ReserveOutcome out = warm.reserve(OLD, IpAddress.parse("10.77.0.9"), POD, false);
    assertInstanceOf(ReserveOutcome.Reserved.class, out, out::toString);
    assertEquals(List.of("net+old"), defined(other));
    assertEquals(new RetireOutcome.InUse("net+old", 0, 1), retirer(other).retire("net+old"));
  }

  /**
   * A retire and an ADD in the pool, started together, 15 times: afterwards either the pool is
   * retired and empty (the ADD failed its guard and defined it again, or came first and the retire
   * was refused: then it holds the ADD), never an allocation without a definition.
   */
  @Test
  void retire_racingAnAddOfAWarmStore_eitherRetiredEmptyOrDefinedWithTheAdd() throws Exception {
    EtcdStore warm = warm();
    EtcdStore other = stores.open(stores.config("node-1"));
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      int retired = 0;
      int refused = 0;
      for (int round = 0; round < 15; round++) {
        CyclicBarrier start = new CyclicBarrier(2);
        String id = "race-" + round;
        CompletableFuture<RetireOutcome> retire = CompletableFuture.supplyAsync(() -> {
          await(start);
          return retirer(other).retire("net+old");
        }, threads);
        CompletableFuture<AllocationOutcome> addition = CompletableFuture.supplyAsync(() -> {
          await(start);
          return add(warm, OLD, id);
        }, threads);
        RetireOutcome r = retire.get(30, TimeUnit.SECONDS);
        AllocationOutcome a = addition.get(30, TimeUnit.SECONDS);
        assertInstanceOf(AllocationOutcome.Allocated.class, a, a::toString);
        assertEquals(List.of("net+old"), defined(other), "round " + round + ": the ADD's pool is defined");
        assertEquals(List.of(new Attachment(id, "eth0")), other.list(OLD).stream().map(Allocation::attachment).toList(),
            "round " + round);
        if (r instanceof RetireOutcome.Retired) {
          retired++;
        } else {
          assertEquals(new RetireOutcome.InUse("net+old", 1, 0), r, "round " + round);
          refused++;
        }
        warm.release(OLD, new Attachment(id, "eth0"));
        EtcdInvariants.check(stores.etcdEndpoints(), stores.prefix);
      }
      assertEquals(15, retired + refused);
      assertEquals(new RetireOutcome.Retired("net+old"), retirer(other).retire("net+old"));
      assertEquals(List.of(), defined(other));
    } finally {
      threads.shutdownNow();
    }
  }

  private static void await(CyclicBarrier b) {
    try {
      b.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
