package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.extension.ExtendWith;
import org.opentest4j.AssertionFailedError;

/** The checker itself: it passes what the store wrote and fails each kind of corruption. */
@ExtendWith(EtcdExtension.class)
class EtcdInvariantsIT {
  private static Etcd etcd;

  @BeforeAll
  static void etcd(Etcd cluster) {
    etcd = cluster;
  }

  /** A prefix holding one pool with two attachments, checked clean. */
  private static String populated() {
    String prefix = "/jipam-test-" + UUID.randomUUID();
    Pool pool = TestPools.pool("inv", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:a::/64");
    try (IpamStore store = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix))) {
      store.allocate(pool, AllocationRequest.of(TestPools.att("a")));
      store.allocate(pool, AllocationRequest.of(TestPools.att("b")));
    }
    EtcdInvariants.check(etcd.endpoints(), prefix);
    return prefix;
  }

  /** Deletes the first key under {@code <prefix>/v2/<what>}. */
  private static void deleteFirst(String prefix, String what) {
    EtcdStoreConfig config = EtcdStoreConfig.of(etcd.endpoints(), "corrupter").withPrefix(prefix);
    try (EtcdClient client = new EtcdClient(config, System::nanoTime)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      KeyValue kv = client.range(prefix + "/v" + Keys.LAYOUT + "/" + what, Fetch.KEYS, deadline, "listing").get(0);
      client.txn(List.of(), List.of(EtcdClient.delete(EtcdClient.text(kv.getKey()))), List.of(), deadline, "corrupting");
    }
  }

  /** Each kind of record deleted (the first of its keys): the checker fails. */
  @ParameterizedTest
  @ValueSource(strings = {"blocks/", "handles/", "affinity/", "addresses/", "node-handles/"})
  void check_oneRecordOfAKindDeleted_fails(String kind) {
    String prefix = populated();
    deleteFirst(prefix, kind);
    assertThrows(AssertionFailedError.class, () -> EtcdInvariants.check(etcd.endpoints(), prefix));
  }
}
