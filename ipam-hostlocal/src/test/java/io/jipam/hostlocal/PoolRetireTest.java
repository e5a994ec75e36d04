package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.RetireOutcome;
import io.jipam.core.store.capability.RetirePools;
import io.jipam.core.testing.TestPools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Retiring a pool of a data dir, on both file stores: what it leaves (the lock file alone), a file
 * it does not know, and a retire racing ADDs of another store on the same data dir.
 */
class PoolRetireTest {
  private static final Pool OLD = TestPools.pool("net+old", AllocationOrder.LOWEST_FREE, "10.9.0.0/28");
  @TempDir Path dataDir;

  private IpamStore open(String kind) {
    return switch (kind) {
      case "one-shot" -> HostLocalStores.open(dataDir);
      case "write-through" -> HostLocalStores.openWriteThrough(dataDir, FileSync.NONE);
      default -> throw new IllegalArgumentException(kind);
    };
  }

  private static RetirePools retirer(IpamStore s) {
    return s.capability(RetirePools.class).orElseThrow();
  }

  private static AllocationOutcome add(IpamStore s, String id) {
    return s.allocate(OLD, AllocationRequest.of(new Attachment(id, "eth0")));
  }

  private List<String> entries(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** A store of that kind whose pool OLD had an attachment, released: its files, cursor and records exist. */
  private IpamStore emptied(String kind) {
    IpamStore s = open(kind);
    assertInstanceOf(AllocationOutcome.Allocated.class, add(s, "c1"));
    s.release(OLD, new Attachment("c1", "eth0"));
    return s;
  }

  @ParameterizedTest
  @ValueSource(strings = {"one-shot", "write-through"})
  void retire_emptiedPool_leavesOnlyItsLockFileAndNoRecords(String kind) throws Exception {
    try (IpamStore s = emptied(kind)) {
      assertEquals(new RetireOutcome.Retired("net+old"), retirer(s).retire("net+old"));
      assertEquals(List.of(PoolDir.LOCK), entries(dataDir.resolve("net+old")));
      assertFalse(Files.exists(dataDir.resolve(PoolDir.JIPAM_DIR).resolve("net+old")));
      assertEquals(new RetireOutcome.NotFound("net+old"), retirer(s).retire("net+old"));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"one-shot", "write-through"})
  void retire_fileItDoesNotKnow_isRefusedNamingItAndChangesNothing(String kind) throws Exception {
    try (IpamStore s = emptied(kind)) {
      Files.writeString(dataDir.resolve("net+old").resolve("notes\n.txt"), "x");
      List<String> before = entries(dataDir.resolve("net+old"));
      IpamException e = assertThrows(IpamException.class, () -> retirer(s).retire("net+old"));
      assertEquals(ErrorCode.IO_FAILURE, e.code());
      assertTrue(e.getMessage().contains("notes\\x0a.txt"), e.getMessage());
      assertEquals(before, entries(dataDir.resolve("net+old")));
    }
  }

  /**
   * A retire through one store and an ADD through another on the same data dir, started together,
   * 20 times: the ADD always holds its address afterwards (it came first and the retire was refused,
   * or came after and allocated in the emptied pool), and a retired pool is empty.
   */
  @ParameterizedTest
  @ValueSource(strings = {"one-shot", "write-through"})
  void retire_racingAnAddOfAnotherStore_neverLosesTheAdd(String kind) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try (IpamStore adder = open(kind); IpamStore retiring = HostLocalStores.open(dataDir)) {
      assertInstanceOf(AllocationOutcome.Allocated.class, add(adder, "warm"));
      adder.release(OLD, new Attachment("warm", "eth0"));
      for (int round = 0; round < 20; round++) {
        CyclicBarrier start = new CyclicBarrier(2);
        String id = "race-" + round;
        Function<CyclicBarrier, Void> await = b -> {
          try {
            b.await(30, TimeUnit.SECONDS);
          } catch (Exception x) {
            throw new IllegalStateException(x);
          }
          return null;
        };
        CompletableFuture<RetireOutcome> r = CompletableFuture.supplyAsync(() -> {
          await.apply(start);
          return retirer(retiring).retire("net+old");
        }, threads);
        CompletableFuture<AllocationOutcome> a = CompletableFuture.supplyAsync(() -> {
          await.apply(start);
          return add(adder, id);
        }, threads);
        AllocationOutcome.Allocated got = assertInstanceOf(AllocationOutcome.Allocated.class, a.get(30, TimeUnit.SECONDS));
        RetireOutcome out = r.get(30, TimeUnit.SECONDS);
        assertTrue(out instanceof RetireOutcome.Retired || out.equals(new RetireOutcome.InUse("net+old", 1, 0)),
            "round " + round + ": " + out);
        assertEquals(List.of(new Attachment(id, "eth0")),
            retiring.list(OLD).stream().map(Allocation::attachment).toList(), "round " + round);
        assertTrue(Files.exists(dataDir.resolve("net+old").resolve(got.allocations().get(0).address().toString())));
        adder.release(OLD, new Attachment(id, "eth0"));
      }
      assertEquals(new RetireOutcome.Retired("net+old"), retirer(retiring).retire("net+old"));
    } finally {
      threads.shutdownNow();
    }
  }
}
