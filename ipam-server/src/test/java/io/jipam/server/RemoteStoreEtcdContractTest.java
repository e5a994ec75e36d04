package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store contract on a RemoteStore against an in-process jipamd over the etcd store, on a real
 * one-member etcd; reopening starts a second jipamd of the same node on the same prefix (a replica,
 * or the node's jipamd after a restart). Each test has a prefix of its own.
 */
@Timeout(120)
class RemoteStoreEtcdContractTest extends IpamStoreContractTest {
  @TempDir static Path shared;
  private static TestEtcd etcd;

  @TempDir Path dir;
  private final String prefix = "/remote-contract-" + UUID.randomUUID();

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = TestEtcd.start(shared);
  }

  @AfterAll
  static void stopEtcd() throws Exception {
    if (etcd != null) {
      etcd.close();
    }
  }

  @Override
  protected IpamStore openStore() {
    return serve("first.sock");
  }

  @Override
  protected IpamStore reopenStore() {
    return serve("second.sock");
  }

  private IpamStore serve(String socketName) {
    Path socket = dir.resolve(socketName);
    IpamServer server = IpamServer.start(
        EtcdStores.open(EtcdStoreConfig.of(List.of(etcd.endpoint), "node-a").withPrefix(prefix)),
        IpamServer.Settings.unix(socket), CallLog.quiet());
    return new ServedStore(RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(ServedStore.TIMEOUT)),
        server);
  }
}
