package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.testkit.Etcd;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A pool no one allocated from is defined in etcd by the first change that needs it (an ADD, a
 * reservation, a DEL), never by a read: Find, List, Usage, the inspections, GC and the claim
 * reads answer "nothing" and write no key. Before, every read defined the pool from the caller's
 * config, so a node's Find through a central jipamd (or `jipamctl usage` with a mistyped config)
 * fixed a network's ranges for good, and made-up names filled etcd with definitions.
 */
@ExtendWith(EtcdExtension.class)
class EtcdUndefinedPoolIT {
  private final Etcd etcd;
  private final String prefix = "/undefined-" + UUID.randomUUID();

  EtcdUndefinedPoolIT(Etcd etcd) {
    this.etcd = etcd;
  }

  private GroupCommitStore open(String node) {
    return (GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix));
  }

  /** Every key under this test's prefix. */
  private List<String> keys(GroupCommitStore store) {
    List<String> out = new ArrayList<>();
    store.etcd().walk(prefix, 1000, Fetch.KEYS, System.nanoTime() + 5_000_000_000L, "listing",
        kv -> out.add(EtcdClient.text(kv.getKey())));
    return out;
  }

  @Test
  void reads_poolNoOneAllocatedFrom_answerNothingWriteNoKey() {
    Pool pool = EtcdStoreIT.pool("never", "198.18.0.0/24");
    Attachment a = new Attachment("c1", "eth0");
    IpAddress address = IpAddress.parse("198.18.0.7");
    try (GroupCommitStore store = open("n1")) {
      record Read(String name, Consumer<GroupCommitStore> call) {}
      for (Read read : List.of(
          new Read("find", s -> assertEquals(List.of(), s.find(pool, a))),
          new Read("list", s -> assertEquals(List.of(), s.list(pool))),
          new Read("listPage", s -> assertEquals(List.of(), s.listPage(pool, null, 10))),
          new Read("usage", s -> assertEquals(List.of(0L), s.usage(pool).allocated())),
          new Read("blockUsage", s -> assertEquals(List.of(), s.blockUsage(pool).blocks())),
          new Read("allocatingNodes", s -> assertTrue(s.allocatingNodes(pool).isEmpty())),
          new Read("audit", s -> assertEquals(List.of(), s.audit(pool))),
          new Read("retainOnly", s -> assertEquals(List.of(), s.retainOnly(pool, Set.of()))),
          new Read("claims", s -> assertEquals(List.of(), s.claims(pool))),
          new Read("unreserve", s -> assertTrue(s.unreserve(pool, address).isEmpty())),
          new Read("endHold", s -> assertTrue(s.endHold(pool, address).isEmpty())))) {
        read.call().accept(store);
        assertEquals(List.of(), keys(store), read.name() + " wrote keys");
      }
      // the first ADD defines it, as before
      assertTrue(store.allocate(pool, AllocationRequest.of(a)) instanceof AllocationOutcome.Allocated);
      assertTrue(keys(store).contains(store.keys().pool("never")), "defined by the ADD");
      assertEquals(1, store.find(pool, a).size());
    }
  }

  @Test
  void read_configOtherThanTheStoredDefinition_refusedAsBefore() {
    try (GroupCommitStore store = open("n1")) {
      store.allocate(EtcdStoreIT.pool("net", "198.18.1.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
    }
    try (GroupCommitStore fresh = open("n2")) {
      IpamException e = assertThrows(IpamException.class,
          () -> fresh.usage(EtcdStoreIT.pool("net", "198.18.9.0/24")));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains("already defined in etcd"), e.getMessage());
      assertEquals(1, fresh.list(EtcdStoreIT.pool("net", "198.18.1.0/24")).size());
    }
  }

  @Test
  void allocate_definitionOverTheStoredBound_invalidConfigNamingItsSizeNothingWritten() {
    // 13 sets of 1,000 ranges (a set holds at most 1,024): about 700 KB as stored
    List<io.jipam.core.net.RangeSet> sets = new ArrayList<>();
    for (int s = 0; s < 13; s++) {
      List<io.jipam.core.net.IpRange> ranges = new ArrayList<>();
      for (int i = 0; i < 1_000; i++) {
        ranges.add(io.jipam.core.net.IpRange.withDefaults(io.jipam.core.net.Cidr.parse(
            String.format("fd00:%x:%x::/64", s, i)), null, null, null, null));
      }
      sets.add(new io.jipam.core.net.RangeSet(ranges));
    }
    Pool big = new Pool("big", sets, io.jipam.core.alloc.AllocationOrder.ROUND_ROBIN);
    try (GroupCommitStore store = open("n1")) {
      IpamException e = assertThrows(IpamException.class,
          () -> store.allocate(big, AllocationRequest.of(new Attachment("c1", "eth0"))));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("\"big\"") && e.getMessage().contains("13000 ranges"), e.getMessage());
      assertEquals(List.of(), keys(store));
    }
  }
}
