package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Etcd;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which calls define a pool in a jipamd on etcd (a central replica): only an allocation the store
 * took. Before, the first request naming a pool registered its definition in jipamd before the
 * store saw it, and kept it when etcd refused it; a read did so too. One node's Find with a stale
 * or made-up definition then locked the network out of that replica for every node until it
 * restarted, and a pool etcd could not define broke ListPools (every node's health check).
 */
@Timeout(120)
class PoolDefinitionsIT {
  @TempDir Path dir;
  /** One member for the class; each test under a prefix of its own. */
  private static Etcd etcd;

  @org.junit.jupiter.api.BeforeAll
  static void startEtcd() throws Exception {
    etcd = Etcd.single();
  }

  @org.junit.jupiter.api.AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  @Test
  void replica_readOrRefusedChangeWithAnotherDefinition_pinsNothingNetworkStillServed() throws Exception {
    String prefix = "/defs-" + UUID.randomUUID();
    Pool net = IpamServerTest.pool("net1", "198.18.60.0/24");
    Pool stale = IpamServerTest.pool("net1", "198.18.99.0/30");
    Path first = dir.resolve("a.sock");
    Path second = dir.resolve("b.sock");
    try (IpamServer a = IpamServer.start(EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-a").withPrefix(prefix)),
            IpamServer.Settings.unix(first), CallLog.quiet());
        RemoteStore toA = RemoteStore.connect(RemoteStore.Target.parse("unix:" + first))) {
      assertTrue(toA.allocate(net, AllocationRequest.of(new Attachment("c1", "eth0"))) instanceof AllocationOutcome.Allocated);
    }
    // a replica that has not served net1 yet
    try (IpamServer b = IpamServer.start(EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-b").withPrefix(prefix)),
            IpamServer.Settings.unix(second), CallLog.quiet());
        RemoteStore toB = RemoteStore.connect(RemoteStore.Target.parse("unix:" + second))) {
      for (Runnable refused : List.<Runnable>of(
          () -> toB.find(stale, new Attachment("x", "eth0")),
          () -> toB.allocate(stale, AllocationRequest.of(new Attachment("x", "eth0"))))) {
        IpamException e = assertThrows(IpamException.class, refused::run);
        assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("already defined in etcd"), e.getMessage());
      }
      AllocationOutcome served = toB.allocate(net, AllocationRequest.of(new Attachment("c2", "eth0")));
      assertTrue(served instanceof AllocationOutcome.Allocated, "the network is served: " + served);

      // reads of a made-up pool define nothing, here or in etcd
      Pool madeUp = IpamServerTest.pool("made-up", "10.99.0.0/30");
      assertEquals(List.of(), toB.find(madeUp, new Attachment("x", "eth0")));
      assertEquals(List.of(0L), toB.usage(madeUp).allocated());
      // an allocation etcd cannot define is a config error and leaves nothing either
      IpamException big = assertThrows(IpamException.class,
          () -> toB.allocate(tooBig(), AllocationRequest.of(new Attachment("x", "eth0"))));
      assertEquals(ErrorCode.INVALID_CONFIG, big.code(), big.getMessage());
      assertEquals(List.of("net1"), toB.pools().stream().map(p -> p.pool().name()).toList(),
          "ListPools answers, with the one defined pool");
      assertEquals(2, toB.list(net).size());
    }
  }

  /**
   * A node jipamd's health check asks the central jipamd's health, not ListPools: a pool whose
   * usage cannot be read (a damaged block) fails ListPools, and no longer every node's readiness.
   */
  @Test
  void ping_centralWithAPoolItCannotRead_stillServing() throws Exception {
    String prefix = "/ping-" + UUID.randomUUID();
    Pool net = IpamServerTest.pool("net1", "198.18.61.0/24");
    Path socket = dir.resolve("c.sock");
    try (IpamServer central = IpamServer.start(EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "node-a")
            .withPrefix(prefix)), IpamServer.Settings.unix(socket), CallLog.quiet());
        RemoteStore node = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
        io.etcd.jetcd.Client raw = io.etcd.jetcd.Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build()) {
      node.allocate(net, AllocationRequest.of(new Attachment("c1", "eth0")));
      raw.getKVClient().put(bytes(prefix + "/v2/blocks/net1/0/198.18.61.0_26"), bytes("damaged")).get();
      IpamException e = assertThrows(IpamException.class, node::pools);
      assertEquals(ErrorCode.DECODE_FAILURE, e.code(), e.getMessage());
      node.ping();
    }
  }

  private static io.etcd.jetcd.ByteSequence bytes(String text) {
    return io.etcd.jetcd.ByteSequence.from(text, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** A pool whose definition is over what the etcd store keeps (13 sets of 1,000 ranges). */
  static Pool tooBig() {
    List<RangeSet> sets = new ArrayList<>();
    for (int s = 0; s < 13; s++) {
      List<IpRange> ranges = new ArrayList<>();
      for (int i = 0; i < 1_000; i++) {
        ranges.add(IpRange.withDefaults(Cidr.parse(String.format("fd00:%x:%x::/64", s, i)), null, null, null, null));
      }
      sets.add(new RangeSet(ranges));
    }
    return new Pool("too-big", sets, AllocationOrder.ROUND_ROBIN);
  }
}
