package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Etcd;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The claims contract on a RemoteStore against an in-process jipamd over the etcd store on the
 * suite's clock, on a real one-member etcd; each test has a prefix of its own.
 */
@Timeout(120)
class RemoteStoreEtcdClaimsContractIT extends IpamStoreClaimsContractTest {
  private static Etcd etcd;

  @TempDir Path dir;

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = Etcd.single();
  }

  @AfterAll
  static void stopEtcd() throws Exception {
    if (etcd != null) {
      etcd.close();
    }
  }

  @Override
  protected boolean takesCopies() {
    return false; // jipamd's API carries no copied origins: refused before anything is sent
  }

  @Override
  protected IpamStore openStore(Clock clock) {
    Path socket = dir.resolve("jipam.sock");
    IpamServer server = IpamServer.start(EtcdStores.open(EtcdStoreConfig.of(List.of(etcd.endpoint()), "node-a")
        .withPrefix("/remote-claims-" + UUID.randomUUID()), clock), IpamServer.Settings.unix(socket), CallLog.quiet());
    return new ServedStore(RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket)
        .withTimeout(ServedStore.TIMEOUT)), server);
  }
}
