package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.core.store.LinearizabilityCheck;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.TestCerts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store contract on a RemoteStore of node-a (its own client certificate, mutual TLS) against a
 * central jipamd serving a store per calling node on a real one-member etcd; reopening starts a
 * second central replica on the same prefix. And the linearizability checker over two RemoteStores
 * of node-a, one through each of two central replicas.
 */
@Order(1) // among the module's longest (about 35 s in a suite run): started first, not last
@Timeout(120)
class RemoteStoreNodeIdentityContractIT extends IpamStoreContractTest {
  @TempDir static Path shared;
  private static Etcd etcd;
  private static TestCerts certs;

  private final String prefix = "/identity-contract-" + UUID.randomUUID();

  @BeforeAll
  static void start() throws Exception {
    etcd = Etcd.single();
    certs = TestCerts.make(shared).ca("operator-ca").client("node-a", "ca");
  }

  @AfterAll
  static void stop() throws Exception {
    if (etcd != null) {
      etcd.close();
    }
  }

  @Override
  protected IpamStore openStore() {
    return serve("central-0", ServedStore.TIMEOUT);
  }

  @Override
  protected IpamStore reopenStore() {
    return serve("central-1", ServedStore.TIMEOUT);
  }

  private ServedStore serve(String replica, Duration timeout) {
    IpamServer server = NodeIdentityIT.central(etcd, certs, prefix, replica);
    return new ServedStore(RemoteStore.connect(NodeIdentityIT.target(server, certs, "node-a", timeout), "node-a"),
        server);
  }

  @Test
  void concurrentHistories_oneNodeThroughTwoCentralReplicas_linearizable() throws Exception {
    try (IpamStore a = serve("central-0", Duration.ofSeconds(20)); IpamStore b = serve("central-1", Duration.ofSeconds(20))) {
      for (IpamStore s : new IpamStore[] {a, b}) {
        s.allocate(LinearizabilityCheck.smallPool("warm"), AllocationRequest.of(new Attachment("warm", "eth0")));
      }
      System.out.println("RemoteStoreNodeIdentityContractIT: " + LinearizabilityCheck.run(
          h -> new IpamStore[] {LinearizabilityCheck.unclosable(a), LinearizabilityCheck.unclosable(b)}, 20, 4, 8));
    }
  }
}
