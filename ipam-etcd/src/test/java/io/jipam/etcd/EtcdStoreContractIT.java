package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;

/** The store contract against a real etcd; every test under its own key prefix. */
@ExtendWith(EtcdExtension.class)
class EtcdStoreContractIT extends IpamStoreContractTest {
  private static Etcd etcd;
  private String prefix;

  @BeforeAll
  static void etcd(Etcd cluster) {
    etcd = cluster;
  }

  @Override
  protected IpamStore openStore() {
    prefix = "/jipam-test-" + UUID.randomUUID();
    return EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix));
  }

  @Override
  protected IpamStore reopenStore() {
    return EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix));
  }

  /** After every contract test, what is in etcd must be what the design says (see EtcdInvariants). */
  @AfterEach
  void invariantsHold() {
    EtcdInvariants.check(etcd.endpoints(), prefix);
  }
}
