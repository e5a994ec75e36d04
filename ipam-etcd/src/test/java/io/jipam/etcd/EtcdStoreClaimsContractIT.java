package io.jipam.etcd;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import io.jipam.testkit.Etcd;
import java.time.Clock;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;

/** The claims contract (holds, reservations, cool-downs) against a real etcd, on the suite's clock. */
@ExtendWith(EtcdExtension.class)
class EtcdStoreClaimsContractIT extends IpamStoreClaimsContractTest {
  private static Etcd etcd;
  private String prefix;

  @BeforeAll
  static void etcd(Etcd cluster) {
    etcd = cluster;
  }

  @Override
  protected IpamStore openStore(Clock clock) {
    prefix = "/jipam-test-" + UUID.randomUUID();
    return EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix), clock);
  }

  /** After every claims test, what is in etcd must be what the design says, claims included. */
  @AfterEach
  void invariantsHold() {
    EtcdInvariants.check(etcd.endpoints(), prefix, clock.instant());
  }
}
