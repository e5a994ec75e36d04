package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A refusal ({@code Exhausted}, {@code Taken}) is only given from state read at one etcd revision,
 * never from a store's stale cached copy of a block: after another store (of the same node, or a
 * borrower on another node) freed an address, the next allocate gets it.
 *
 * <p>The pool is one /28 cut into /28 blocks: a single block with 13 usable addresses (.2-.14).
 */
@ExtendWith(EtcdExtension.class)
class EtcdStaleCacheIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-test-" + UUID.randomUUID();
  private final List<EtcdStore> opened = new ArrayList<>();
  private final Pool pool = EtcdStoreIT.pool("tight", "198.18.0.0/28");

  EtcdStaleCacheIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @AfterEach
  void closeAll() {
    opened.forEach(EtcdStore::close);
  }

  private EtcdStore store(String node) {
    EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix)
        .withBlockSizes(28, 122));
    opened.add(s);
    return s;
  }

  private static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }

  private static IpAddress allocated(AllocationOutcome outcome) {
    return assertInstanceOf(AllocationOutcome.Allocated.class, outcome, outcome::toString)
        .allocations().get(0).address();
  }

  @Test
  void allocate_otherStoreOfSameNodeReleasedInFullBlock_getsFreedAddress() {
    EtcdStore first = store("a");
    EtcdStore second = store("a");
    for (int i = 0; i < 13; i++) {
      allocated(first.allocate(pool, AllocationRequest.of(att("a" + i))));
    }
    assertInstanceOf(AllocationOutcome.Exhausted.class, first.allocate(pool, AllocationRequest.of(att("full"))));
    List<Allocation> freed = second.release(pool, att("a5"));
    assertEquals(1, freed.size());
    assertEquals(List.of(1L), first.usage(pool).free());

    AllocationOutcome outcome = first.allocate(pool, AllocationRequest.of(att("again")));

    assertEquals(freed.get(0).address(), allocated(outcome), "the freed address, at once");
  }

  @Test
  void allocate_borrowerOnOtherNodeReleasedInFullBlock_getsFreedAddress() {
    EtcdStore owner = store("a");
    EtcdStore borrower = store("b");
    for (int i = 0; i < 12; i++) {
      allocated(owner.allocate(pool, AllocationRequest.of(att("a" + i))));
    }
    IpAddress borrowed = allocated(borrower.allocate(pool, AllocationRequest.of(att("b0"))));
    assertInstanceOf(AllocationOutcome.Exhausted.class, owner.allocate(pool, AllocationRequest.of(att("full"))));
    assertEquals(1, borrower.release(pool, att("b0")).size());
    assertEquals(List.of(1L), owner.usage(pool).free());

    AllocationOutcome outcome = owner.allocate(pool, AllocationRequest.of(att("again")));

    assertEquals(borrowed, allocated(outcome), "the address the borrower gave back, at once");
  }

  @Test
  void allocate_requestedAddressReleasedByOtherStore_isNotTaken() {
    EtcdStore first = store("a");
    EtcdStore second = store("a");
    IpAddress wanted = IpAddress.parse("198.18.0.7");
    allocated(first.allocate(pool, new AllocationRequest(att("old"), List.of(wanted), null)));
    assertEquals(1, second.release(pool, att("old")).size());

    AllocationOutcome outcome = first.allocate(pool, new AllocationRequest(att("new"), List.of(wanted), null));

    assertEquals(wanted, allocated(outcome), "the released address is free");
  }
}
