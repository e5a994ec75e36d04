package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

  /**
   * The refused attachment's own addresses, given by another store of its node (a second central
   * replica): the refusal must hold at one revision. Here the other store releases the attachment
   * after the refusing store read its snapshot and before its guard-only transaction goes out, the
   * one window where blocks and handle were read at different revisions before this was fixed
   * (the answer was "exhausted", true at no revision: first the attachment held an address, then a
   * free one was there).
   */
  @Test
  void allocate_attachmentHeldThroughOtherStoreReleasedMidRefusal_heldOrAllocatedNeverExhausted() {
    EtcdStore other = store("a");
    java.util.concurrent.atomic.AtomicBoolean releaseNext = new java.util.concurrent.atomic.AtomicBoolean();
    EtcdStoreConfig config = EtcdStoreConfig.of(etcd.endpoints(), "a").withPrefix(prefix).withBlockSizes(28, 122);
    EtcdClient client = new EtcdClient(config, System::nanoTime);
    TxnSender direct = TxnSender.direct(client);
    TxnSender interleaving = (part, deadline, what) -> {
      if (part.then().isEmpty() && releaseNext.getAndSet(false)) {
        assertEquals(1, other.release(pool, att("x")).size(), "the other store's release");
      }
      return direct.send(part, deadline, what);
    };
    GroupCommitStore refusing = new GroupCommitStore(config, client, System::nanoTime, java.time.Clock.systemUTC(),
        GroupCommitStore.Scope.CLUSTER, GroupCommitStore.newCommitters(), GroupCommitStore.Resources.OWNED,
        interleaving);
    opened.add(refusing);
    for (int i = 0; i < 13; i++) {
      allocated(refusing.allocate(pool, AllocationRequest.of(att("a" + i))));
    }
    // the other store frees one address and gives it to x: the pool is full again, and the refusing
    // store's cache knows neither change (its block copy happens to look the same)
    assertEquals(1, other.release(pool, att("a12")).size());
    IpAddress held = allocated(other.allocate(pool, AllocationRequest.of(att("x"))));
    releaseNext.set(true);

    AllocationOutcome outcome = refusing.allocate(pool, AllocationRequest.of(att("x")));

    assertFalse(releaseNext.get(), "the other store released x while the refusing store's call was in flight");
    assertEquals(held, allocated(outcome), "x's address, held or allocated again; not " + outcome);
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
