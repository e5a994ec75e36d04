package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.options.LeaseOption;
import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A kept-alive lease (a store's ticket) that is retired ends in etcd, also when its keep-alive
 * stream failed before (a connection blip): jetcd restarts the stream after 500 ms and goes on
 * renewing every lease it was asked to keep, and a retire after the blip did nothing, so a ticket
 * whose transaction had an unknown outcome lived on for up to 30 s, past the DEL markers that
 * guard against that transaction applying late. Here through a TCP proxy that drops every
 * connection once, with a 2 s lease.
 */
@ExtendWith(EtcdExtension.class)
class LeaseSlotIT {
  private final Etcd etcd;

  LeaseSlotIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @Test
  void retire_afterAKeepAliveStreamBlipOrWithout_leaseEndsInEtcd() throws Exception {
    for (boolean blip : new boolean[] {true, false}) {
      try (TcpProxy proxy = new TcpProxy(TcpProxy.portOf(etcd.endpoints().get(0)));
          EtcdClient viaProxy = new EtcdClient(EtcdStoreConfig.of(List.of(proxy.endpoint()), "n"), System::nanoTime);
          EtcdClient direct = new EtcdClient(EtcdStoreConfig.of(etcd.endpoints(), "n"), System::nanoTime);
          LeaseSlot slot = new LeaseSlot(viaProxy, () -> 2, 0.5, LeaseSlot.Renewal.KEPT_ALIVE, System::nanoTime)) {
        long lease = slot.id(System.nanoTime() + Duration.ofSeconds(5).toNanos());
        Await.until(() -> ttl(direct, lease) > 0, Duration.ofSeconds(10), "the lease granted");
        if (blip) {
          proxy.dropConnections();
          Await.until(() -> !slot.holdsLease(), Duration.ofSeconds(20), "the keep-alive stream's failure seen");
        }
        slot.retire(lease); // as the store does after a transaction on it has an unknown outcome
        // etcd ends it at once (revoked) or at most its TTL after the last renewal
        Await.until(() -> ttl(direct, lease) <= 0, Duration.ofSeconds(8),
            () -> (blip ? "after a blip: " : "") + "the retired lease is still alive: TTL " + ttl(direct, lease));
        assertTrue(ttl(direct, lease) <= 0);
      }
    }
  }

  private static long ttl(EtcdClient client, long lease) {
    try {
      return client.raw().getLeaseClient().timeToLive(lease, LeaseOption.DEFAULT).get().getTTL();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
