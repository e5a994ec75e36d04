package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.memory.MemoryStores;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The in-memory store's concurrent histories are linearizable against the store contract; and the
 * checker itself rejects histories that break it (so a pass means something).
 */
class InMemoryStoreLinearizabilityTest {
  private static final Pool POOL = LinearizabilityCheck.smallPool("check");
  private static final Linearizability CHECKER =
      new Linearizability(POOL, LinearizabilityCheck.addressesPerSet(POOL));
  private static final Attachment A = new Attachment("a", "eth0");
  private static final Attachment B = new Attachment("b", "eth0");

  @Test
  void concurrentHistories_inMemoryStore_linearizable() throws Exception {
    System.out.println("InMemoryStoreLinearizabilityTest: "
        + LinearizabilityCheck.run(h -> new IpamStore[] {MemoryStores.open()}, 300, 4, 8));
  }

  @Test
  void check_sameAddressToTwoAttachments_rejected() {
    List<Allocation> one = alloc(A, 0);
    List<Allocation> same = alloc(B, 0);
    assertNotNull(CHECKER.check(List.of(
        op("allocate", A, new AllocationOutcome.Allocated(one, false), 0, 10),
        op("allocate", B, new AllocationOutcome.Allocated(same, false), 5, 15)), Map.of()));
  }

  @Test
  void check_findAfterCompletedRelease_stillHeld_rejected() {
    List<Allocation> one = alloc(A, 0);
    assertNotNull(CHECKER.check(List.of(
        op("allocate", A, new AllocationOutcome.Allocated(one, false), 0, 1),
        op("release", A, one, 2, 3),
        op("find", A, one, 4, 5)), Map.of()));
  }

  @Test
  void check_lostRelease_rejected() {
    List<Allocation> one = alloc(A, 0);
    assertNotNull(CHECKER.check(List.of(
        op("allocate", A, new AllocationOutcome.Allocated(one, false), 0, 1),
        op("release", A, List.of(), 2, 3)), Map.of()));
  }

  @Test
  void check_exhaustedWithFreeAddresses_rejected() {
    assertNotNull(CHECKER.check(List.of(op("allocate", A, new AllocationOutcome.Exhausted(0), 0, 1)), Map.of()));
  }

  @Test
  void check_findOverlappingRelease_eitherOrderAccepted() {
    List<Allocation> one = alloc(A, 0);
    assertNull(CHECKER.check(List.of(
        op("allocate", A, new AllocationOutcome.Allocated(one, false), 0, 1),
        op("release", A, one, 2, 10),
        op("find", A, one, 3, 4),
        op("find", A, List.of(), 5, 6)), Map.of()));
  }

  private static List<Allocation> alloc(Attachment att, int index) {
    List<List<IpAddress>> all = LinearizabilityCheck.addressesPerSet(POOL);
    return List.of(new Allocation(all.get(0).get(index), 0, att, PodRef.UNKNOWN),
        new Allocation(all.get(1).get(index), 1, att, PodRef.UNKNOWN));
  }

  private static Linearizability.Op op(String kind, Attachment att, Object result, long from, long to) {
    return new Linearizability.Op(0, kind, att, result, from, to);
  }
}
