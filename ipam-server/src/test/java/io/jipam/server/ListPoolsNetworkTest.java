package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.ListPoolsRequest;
import io.jipam.api.v1.ListPoolsResponse;
import io.jipam.api.v1.PoolInfo;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.PoolDefinitions;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.core.testing.TestPools;
import io.jipam.server.metrics.CallLog;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * ListPools naming a network: that network's pools only (its own and its sub-pools, not those of a
 * network whose name it begins), of those the store defines and those jipamd served, read from the
 * store with its per-network read ({@link PoolDefinitions#definedPools(String)}), never every
 * definition; a value that is no network name refused, naming it; none: every pool, as before.
 */
@Timeout(60)
class ListPoolsNetworkTest {
  /** A memory store that defines pools of its own, as the etcd store does, and notes each read of them. */
  static final class DefiningStore extends ForwardingStore implements PoolDefinitions {
    final List<Pool> defined = List.of(pool("net", 1), pool("net+a", 2), pool("net2", 3), pool("net2+a", 4),
        pool("other+x", 5));
    /** The reads of the definitions: "every network", or the network read. */
    final List<String> reads = new CopyOnWriteArrayList<>();

    DefiningStore() {
      super(MemoryStores.open());
    }

    @Override
    public List<Pool> definedPools() {
      reads.add("every network");
      return defined;
    }

    @Override
    public List<Pool> definedPools(String network) {
      reads.add(network);
      return defined.stream().filter(p -> Pool.networkOf(p.name()).equals(network)).toList();
    }
  }

  @TempDir Path dir;
  DefiningStore store;
  IpamServer server;
  RawGrpc grpc;

  static Pool pool(String name, int third) {
    return TestPools.pool(name, AllocationOrder.ROUND_ROBIN, "198.18." + third + ".0/29");
  }

  @BeforeEach
  void start() {
    Path socket = dir.resolve("jipam.sock");
    store = new DefiningStore();
    server = IpamServer.start(store, IpamServer.Settings.unix(socket), CallLog.quiet());
    try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      // served, not defined by the store: they are listed too
      remote.allocate(pool("net+b", 6), AllocationRequest.of(new Attachment("c1", "eth0")));
      remote.allocate(pool("net2+b", 7), AllocationRequest.of(new Attachment("c2", "eth0")));
    }
    grpc = new RawGrpc(socket);
  }

  @AfterEach
  void stop() {
    grpc.close();
    server.close();
  }

  private RawGrpc.Answer<ListPoolsResponse> listPools(String network, boolean definitionsOnly) throws Exception {
    return grpc.call(IpamGrpcClient.ListPools,
        ListPoolsRequest.newBuilder().setNetwork(network).setDefinitionsOnly(definitionsOnly).build());
  }

  @Test
  void listPools_table_theNetworksPoolsOnlyReadForTheNetwork() throws Exception {
    record Row(String network, boolean definitionsOnly, List<String> want, String read) {}
    for (Row row : List.of(
        new Row("net", true, List.of("net", "net+a", "net+b"), "net"),
        new Row("net2", true, List.of("net2", "net2+a", "net2+b"), "net2"),
        new Row("net", false, List.of("net", "net+a", "net+b"), "net"),
        new Row("other", true, List.of("other+x"), "other"),
        new Row("ne", true, List.of(), "ne"),
        new Row("absent", true, List.of(), "absent"),
        new Row("", true, List.of("net", "net+a", "net+b", "net2", "net2+a", "net2+b", "other+x"), "every network"),
        new Row("", false, List.of("net", "net+a", "net+b", "net2", "net2+a", "net2+b", "other+x"),
            "every network"))) {
      store.reads.clear();
      RawGrpc.Answer<ListPoolsResponse> answer = listPools(row.network(), row.definitionsOnly());
      assertEquals(GrpcStatus.OK, answer.status(), row + ": " + answer.error());
      List<PoolInfo> pools = answer.response().getPoolsList();
      assertEquals(row.want(), pools.stream().map(p -> p.getPool().getName()).toList(), row.toString());
      assertEquals(List.of(row.read()), store.reads, row + ": the store's definitions read");
      for (PoolInfo p : pools) {
        assertEquals(!row.definitionsOnly(), p.getUsageCount() > 0, row + ": usage of " + p.getPool().getName());
      }
    }
  }

  @Test
  void listPools_networkThatIsNoNetworkName_invalidArgumentNamingItNothingRead() throws Exception {
    record Row(String network, String named) {}
    for (Row row : List.of(new Row("net+a", "\"net+a\""), new Row("a/b", "\"a/b\""), new Row("-net", "\"-net\""),
        new Row("net\n198.18.0.9 forged", "\"net\\x0a198.18.0.9 forged\""), new Row("n".repeat(254), "\"nnnn"))) {
      RawGrpc.Answer<ListPoolsResponse> answer = listPools(row.network(), true);
      assertEquals(GrpcStatus.INVALID_ARGUMENT, answer.status(), row.toString());
      assertEquals(ErrorCode.INVALID_CONFIG, answer.error().code(), row.toString());
      assertTrue(answer.error().getMessage().contains("invalid network name " + row.named()),
          answer.error().getMessage());
    }
    assertEquals(List.of(), store.reads, "a refused call reads nothing");
  }
}
