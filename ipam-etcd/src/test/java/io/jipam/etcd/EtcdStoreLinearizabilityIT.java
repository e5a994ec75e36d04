package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.LinearizabilityCheck;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The etcd store's concurrent histories are linearizable against the store contract (see {@code
 * Linearizability} in ipam-core's tests): 4 threads over the stores of two nodes sharing one key
 * prefix on a real etcd, each history on a fresh pool. The timeout is long (20 s) so that a slow
 * machine does not turn a call into an error, which the checker does not model.
 */
@ExtendWith(EtcdExtension.class)
class EtcdStoreLinearizabilityIT {
  @Test
  void concurrentHistories_twoNodesOnOneEtcd_linearizable(Etcd etcd) throws Exception {
    String prefix = "/jipam-lin-" + UUID.randomUUID();
    EtcdStoreConfig config = EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix)
        .withTimeout(Duration.ofSeconds(20));
    try (IpamStore a = EtcdStores.open(config); IpamStore b = EtcdStores.open(config.withNode("node-b"))) {
      for (IpamStore s : new IpamStore[] {a, b}) { // warm up both clients
        s.allocate(LinearizabilityCheck.smallPool("warm"), AllocationRequest.of(new Attachment("warm", "eth0")));
      }
      System.out.println("EtcdStoreLinearizabilityIT: " + LinearizabilityCheck.run(
          h -> new IpamStore[] {LinearizabilityCheck.unclosable(a), LinearizabilityCheck.unclosable(b)}, 20, 4, 8));
    }
  }
}
