package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.WireMapping;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.Attachment;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.cni.SubPool;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node jipamd in front of a central one (both in this JVM, on unix sockets, the central on the
 * memory store): the sub-pools of the node's CNI configs reach the central jipamd with the
 * allocations from them, so its ListPools (jipamctl pools) shows them for what they are; an
 * Allocate whose sub-pool does not describe its pool is refused and allocates nothing.
 */
@Timeout(60)
class CentralSubPoolsTest {
  /** Network edge: its own /29, and sub-pool web (namespace web, pods web/api-*) with a /29 of its own. */
  static final String CONF = ("{'cniVersion':'1.0.0','name':'edge','ipam':{'type':'jipam','subnet':'198.18.0.0/29',"
      + "'subPools':[{'name':'web','ranges':[[{'subnet':'198.18.1.0/29'}]],'namespaces':['web'],"
      + "'pods':['web/api-*']}]}}").replace('\'', '"');

  @TempDir Path dir;
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  Path central(IpamStore store) {
    Path socket = dir.resolve("central.sock");
    open.add(IpamServer.start(store, IpamServer.Settings.unix(socket), CallLog.quiet()));
    return socket;
  }

  RemoteStore client(Path socket) {
    RemoteStore r = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
    open.add(r);
    return r;
  }

  /** A round-robin pool of one /29 named {@code name}. */
  static io.jipam.core.store.Pool smallPool(String name) {
    return io.jipam.core.testing.TestPools.pool(name, io.jipam.core.alloc.AllocationOrder.ROUND_ROBIN, "198.18.1.0/29");
  }

  static String add(String id, String namespace, String pod) {
    return "CNI_COMMAND=ADD\nCNI_CONTAINERID=" + id + "\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0\nCNI_PATH=/p\n"
        + "CNI_ARGS=K8S_POD_NAMESPACE=" + namespace + ";K8S_POD_NAME=" + pod + "\n\n" + CONF;
  }

  @Test
  void cniAdd_throughANodeJipamd_centralListPoolsShowsTheSubPoolWithItsSelectors() throws Exception {
    Path central = central(MemoryStores.open());
    Path node = dir.resolve("node.sock");
    open.add(IpamServer.start(client(central), IpamServer.Settings.unix(node), CallLog.quiet()));

    IpamServerTest.Reply web = IpamServerTest.cni(node, add("c1", "web", "api-0"));
    assertEquals(0, web.exit(), web.body());
    assertTrue(web.body().contains("198.18.1."), web.body());
    IpamServerTest.Reply other = IpamServerTest.cni(node, add("c2", "default", "x"));
    assertEquals(0, other.exit(), other.body());
    assertTrue(other.body().contains("198.18.0."), other.body());

    List<SubPool> subs = client(central).subPools();
    assertEquals(1, subs.size(), subs.toString());
    SubPool sub = subs.get(0);
    assertEquals("edge+web", sub.pool().name());
    assertEquals("edge", sub.network());
    assertEquals("web", sub.name());
    assertEquals(List.of("web"), sub.namespaces());
    assertEquals("[web/api-*]", sub.pods().toString());
    assertEquals(0, sub.index());
    assertEquals("edge", sub.defaultPool());
  }

  @Test
  void allocate_subPoolOfAnotherPool_invalidConfigNamingBothNothingAllocated() throws Exception {
    IpamStore store = MemoryStores.open();
    Path central = central(store);
    io.jipam.core.store.Pool pool = smallPool("edge+web");
    io.jipam.api.v1.SubPool wrong = io.jipam.api.v1.SubPool.newBuilder().setNetwork("other").setName("web").build();
    io.jipam.api.v1.SubPool badPattern = io.jipam.api.v1.SubPool.newBuilder().setNetwork("edge").setName("web")
        .addPods("no slash").build();
    record Case(io.jipam.api.v1.SubPool sub, String fragment) {}
    try (RawGrpc grpc = new RawGrpc(central)) {
      for (Case c : List.of(new Case(wrong, "sub_pool names network \"other\" and sub-pool \"web\", which make pool"
          + " \"other+web\"; the request's pool is \"edge+web\""), new Case(badPattern,
          "sub_pool of pool \"edge+web\": pod pattern \"no slash\" must be NAMESPACE/NAME"))) {
        RawGrpc.Answer<?> answer = grpc.call(IpamGrpcClient.Allocate, AllocateRequest.newBuilder()
            .setPool(WireMapping.pool(pool)).setSubPool(c.sub())
            .setAttachment(Attachment.newBuilder().setContainerId("c1").setIfname("eth0")).build());
        assertEquals(GrpcStatus.INVALID_ARGUMENT, answer.status(), String.valueOf(answer.error()));
        assertEquals(ErrorCode.INVALID_CONFIG, answer.error().code());
        assertTrue(answer.error().getMessage().contains(c.fragment()), answer.error().getMessage());
      }
    }
    assertEquals(List.of(), store.list(pool), "a refused Allocate allocated nothing");
    assertEquals(List.of(), client(central).subPools());
  }

  /**
   * An Allocate with a valid sub_pool but an attachment, or a requested address, that is refused:
   * the sub-pool is not noted (ListPools shows none). Before, the sub-pool and its selectors were
   * recorded before the request was checked, and a file registry saved them.
   */
  @Test
  void allocate_refusedWithAValidSubPool_subPoolNotNoted() throws Exception {
    IpamStore store = MemoryStores.open();
    Path central = central(store);
    io.jipam.core.store.Pool pool = smallPool("net+b");
    io.jipam.api.v1.SubPool sub = io.jipam.api.v1.SubPool.newBuilder().setNetwork("net").setName("b")
        .addNamespaces("evil").build();
    try (RawGrpc grpc = new RawGrpc(central)) {
      for (AllocateRequest.Builder bad : List.of(
          AllocateRequest.newBuilder().setAttachment(Attachment.newBuilder().setContainerId("-bad").setIfname("eth0")),
          AllocateRequest.newBuilder().setAttachment(Attachment.newBuilder().setContainerId("c1").setIfname("eth0"))
              .addRequested("not an address"))) {
        RawGrpc.Answer<?> answer = grpc.call(IpamGrpcClient.Allocate,
            bad.setPool(WireMapping.pool(pool)).setSubPool(sub).build());
        assertEquals(ErrorCode.INVALID_CONFIG, answer.error().code(), String.valueOf(answer.error()));
      }
    }
    assertEquals(List.of(), client(central).subPools(), "nothing noted");
  }

  /**
   * An error quoting a value of 5,000 characters reaches the client as its code, its message cut:
   * whole, it travelled three times in the answer's headers, past what a client takes (8 to
   * 10 KiB), and the client saw a broken connection (TRY_AGAIN_LATER) instead.
   */
  @Test
  void allocate_errorQuotingAHugeValue_theCodeArrivesTheMessageCut() throws Exception {
    Path central = central(MemoryStores.open());
    io.jipam.core.store.Pool pool = smallPool("net");
    try (RawGrpc grpc = new RawGrpc(central)) {
      RawGrpc.Answer<?> answer = grpc.call(IpamGrpcClient.Allocate, AllocateRequest.newBuilder()
          .setPool(WireMapping.pool(pool)).addRequested("x".repeat(5000))
          .setAttachment(Attachment.newBuilder().setContainerId("c1").setIfname("eth0")).build());
      assertEquals(ErrorCode.INVALID_CONFIG, answer.error().code(), String.valueOf(answer.error()));
      assertTrue(answer.error().getMessage().length() < 1200, answer.error().getMessage());
    }
  }
}
