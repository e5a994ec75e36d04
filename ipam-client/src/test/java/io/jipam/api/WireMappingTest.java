package io.jipam.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.PoolInfo;
import io.jipam.api.v1.RangeSetUsage;
import io.jipam.api.v1.UsageResponse;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.BlockUsage;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeUsage;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.testing.TestPools;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Domain values through the {@code jipam.v1} messages and back, through their bytes as the wire
 * carries them: the same value, for what RemoteStore and jipamd exchange about usage and lists.
 */
class WireMappingTest {
  static final Pool POOL = TestPools.pool("p", AllocationOrder.LOWEST_FREE, "198.18.0.0/24", "fd00:1::/64");
  static final PoolUsage USAGE = new PoolUsage(List.of(70L, 3L), List.of(183L, -1L));
  static final List<BlockUsage> BLOCKS = List.of(
      new BlockUsage(0, Cidr.parse("198.18.0.0/26"), "node-b", 64, 64),
      new BlockUsage(0, Cidr.parse("198.18.0.64/26"), "node-a", 5, 64),
      new BlockUsage(0, Cidr.parse("198.18.0.128/26"), "", 1, 62),
      new BlockUsage(1, Cidr.parse("fd00:1::/122"), "node-a", 3, 64));

  /** None (a store without blocks), none yet (a store with blocks), and some. */
  static final List<PoolStatus> STATUSES = List.of(new PoolStatus(POOL, USAGE, null),
      new PoolStatus(POOL, USAGE, List.of()), new PoolStatus(POOL, USAGE, BLOCKS));

  /**
   * A value the caller sent comes back in a refusal escaped, never as the raw bytes (an escape
   * sequence, a forged line in the client's terminal or log): a pool name (also with more range
   * sets than allowed, whose message names the pool), a container ID, a requested address or a
   * page token.
   */
  @Test
  void refusals_valuesWithControlCharacters_escapedInTheMessage() {
    String forged = "x\u001b[31m\nFORGED";
    io.jipam.api.v1.Pool good = WireMapping.pool(POOL);
    io.jipam.api.v1.Pool.Builder many = good.toBuilder().setName(forged);
    for (int i = 0; i < 64; i++) {
      many.addRangeSets(good.getRangeSets(0));
    }
    List<Runnable> calls = List.of(
        () -> WireMapping.pool(good.toBuilder().setName(forged).build()),
        () -> WireMapping.pool(many.build()),
        () -> new Attachment(forged, "eth0"),
        () -> WireMapping.address(forged, "page_token"));
    for (Runnable call : calls) {
      IpamException e = assertThrows(IpamException.class, call::run);
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains("x\\x1b[31m\\x0aFORGED"), e.getMessage());
      assertFalse(e.getMessage().chars().anyMatch(c -> c < 0x20), e.getMessage());
    }
  }

  @Test
  void usageResponse_poolStatuses_sameStatusBackThroughTheBytes() throws Exception {
    for (PoolStatus s : STATUSES) {
      UsageResponse wire = UsageResponse.parseFrom(WireMapping.usageResponse(s).toByteArray());
      assertEquals(s.hasBlocks(), wire.hasBlocks(), s.toString());
      assertEquals(s, WireMapping.status(POOL, wire));
    }
  }

  @Test
  void poolInfo_poolStatuses_sameStatusBackThroughTheBytes() throws Exception {
    for (PoolStatus s : STATUSES) {
      assertEquals(s, WireMapping.status(PoolInfo.parseFrom(WireMapping.poolInfo(s).toByteArray())));
    }
  }

  /** Sub-pools with and without selectors and a default: the same sub-pool back; a pool without one: null. */
  @Test
  void subPool_subPoolsOfAConfig_sameSubPoolBackThroughTheBytes() throws Exception {
    for (String defaults : List.of("'ranges':[[{'subnet':'198.18.0.0/28'}]],", "")) {
      String json = ("{'cniVersion':'1.1.0','name':'n','ipam':{'type':'jipam'," + defaults + "'subPools':["
          + "{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['db-*','x'],'pods':['*/web-?'],"
          + "'nodes':['edge-*']},{'name':'any','ranges':[[{'subnet':'198.18.2.0/28'}]]}]}}").replace('\'', '"');
      for (io.jipam.core.cni.SubPool sub : io.jipam.core.cni.NetworkConfig.from(io.jipam.core.cni.JsonReader.parse(
          json.getBytes(java.nio.charset.StandardCharsets.UTF_8))).ipam().subPools()) {
        PoolInfo info = PoolInfo.newBuilder().setPool(WireMapping.pool(sub.pool()))
            .setSubPool(WireMapping.subPool(sub)).build();
        assertEquals(sub, WireMapping.subPool(PoolInfo.parseFrom(info.toByteArray())));
      }
    }
    assertEquals(null, WireMapping.subPool(PoolInfo.newBuilder().setPool(WireMapping.pool(POOL)).build()));
  }

  @Test
  void blocks_someBlocks_nodeSumsOnTheWireAreNodeUsages() {
    List<NodeUsage> wire = WireMapping.blocks(BLOCKS).getNodesList().stream().map(n -> new NodeUsage(n.getNode(),
        n.getRangeSetIndex(), n.getBlocks(), n.getAllocated(), n.getFree())).toList();
    assertEquals(NodeUsage.of(BLOCKS), wire);
    assertEquals(List.of(new NodeUsage("", 0, 1, 1, 61), new NodeUsage("node-a", 0, 1, 5, 59),
        new NodeUsage("node-a", 1, 1, 3, 61), new NodeUsage("node-b", 0, 1, 64, 0)), wire);
  }

  @Test
  void status_usageNotOfThePoolsRangeSets_decodeFailureNamingThePool() {
    UsageResponse one = UsageResponse.newBuilder().addRangeSets(RangeSetUsage.newBuilder().setAllocated(1)).build();
    IpamException e = assertThrows(IpamException.class, () -> WireMapping.status(POOL, one));
    assertEquals(ErrorCode.DECODE_FAILURE, e.code());
    assertTrue(e.getMessage().startsWith("jipamd answered a bad usage of pool \"p\": pool p has 2 range sets"),
        e.getMessage());
  }

  @Test
  void listRequest_filtersAndPositions_sameFilterBack() throws Exception {
    record Row(ListPages.Filter filter, IpAddress after, int size) {}
    for (Row row : List.of(new Row(ListPages.Filter.ALL, null, 0),
        new Row(new ListPages.Filter("c1", "eth0", "ns", "pod", "node-a"), IpAddress.parse("198.18.0.9"), 40),
        new Row(new ListPages.Filter("", "", "", "", "node-b"), IpAddress.parse("fd00:1::7"), 5000))) {
      ListRequest wire = ListRequest.parseFrom(WireMapping.listRequest(POOL, row.filter(), row.after(), row.size())
          .toByteArray());
      assertEquals(row.filter(), WireMapping.filter(wire), row.toString());
      assertEquals(POOL, WireMapping.pool(wire.getPool()));
      assertEquals(row.size(), wire.getPageSize());
      assertEquals(row.after() == null ? "" : row.after().toString(), wire.getPageToken());
    }
  }

  @Test
  void listResponse_pages_samePageBackThroughTheBytes() throws Exception {
    ListPages.Listed a = new ListPages.Listed(new Allocation(IpAddress.parse("198.18.0.2"), 0,
        new Attachment("c1", "eth0"), new PodRef("ns", "pod"), AllocationOrigin.STICKY), "node-a");
    ListPages.Listed b = new ListPages.Listed(new Allocation(IpAddress.parse("fd00:1::2"), 1,
        new Attachment("c1", "eth0"), PodRef.UNKNOWN), "");
    for (ListPages.Page page : List.of(new ListPages.Page(List.of(), null), new ListPages.Page(List.of(a, b), null),
        new ListPages.Page(List.of(a), IpAddress.parse("198.18.0.2")))) {
      assertEquals(page, WireMapping.page(ListResponse.parseFrom(WireMapping.listResponse(page).toByteArray())));
    }
  }

  @Test
  void allocation_eachOriginOrNone_sameAllocationBackThroughTheBytes() throws Exception {
    List<AllocationOrigin> origins = new java.util.ArrayList<>();
    origins.add(null);
    for (AllocationOrigin o : AllocationOrigin.values()) {
      if (o != AllocationOrigin.EXISTING) {
        origins.add(o);
      }
    }
    for (AllocationOrigin o : origins) {
      Allocation a = new Allocation(IpAddress.parse("198.18.0.2"), 0, new Attachment("c1", "eth0"),
          new PodRef("ns", "pod"), o);
      io.jipam.api.v1.Allocation wire = WireMapping.allocation(a);
      assertEquals(o == null ? io.jipam.api.v1.Origin.ORIGIN_UNSPECIFIED : ClaimWire.origin(o), wire.getOrigin());
      assertEquals(a, WireMapping.allocation(io.jipam.api.v1.Allocation.parseFrom(wire.toByteArray())), String.valueOf(o));
    }
  }

  @Test
  void allocation_originUnknownOrExisting_readsAsNotRecorded() {
    io.jipam.api.v1.Allocation base = WireMapping.allocation(new Allocation(IpAddress.parse("198.18.0.2"), 0,
        new Attachment("c1", "eth0"), PodRef.UNKNOWN));
    assertEquals(null, WireMapping.allocation(base.toBuilder().setOriginValue(99).build()).origin(), "a later server's");
    assertEquals(null, WireMapping.allocation(base.toBuilder().setOrigin(io.jipam.api.v1.Origin.ORIGIN_EXISTING).build())
        .origin());
  }

  @Test
  void page_tokenNotAnAddress_refusedNamingIt() {
    IpamException e = assertThrows(IpamException.class,
        () -> WireMapping.page(ListResponse.newBuilder().setNextPageToken("x").build()));
    assertEquals("next_page_token \"x\" is not an IP address", e.getMessage());
    assertFalse(e.code() == ErrorCode.INTERNAL);
  }

  /** A Taken answer's pool: none (the pool asked), another pool of the network, or a refusal naming what is not a pool name. */
  @Test
  void takenOutcome_poolTable_sameTakenBackOrRefusalNamingThePool() throws Exception {
    IpAddress a = IpAddress.parse("198.18.0.5");
    Attachment holder = new Attachment("c1", "eth0");
    for (io.jipam.core.store.AllocationOutcome.Taken t : List.of(new io.jipam.core.store.AllocationOutcome.Taken(a, holder),
        new io.jipam.core.store.AllocationOutcome.Taken(a, holder, "net+old"))) {
      io.jipam.api.v1.AllocateResponse wire = io.jipam.api.v1.AllocateResponse.parseFrom(WireMapping.outcome(t).toByteArray());
      assertEquals(t, WireMapping.outcome(wire));
    }
    for (String bad : List.of("net/../x", "a\u001b[2J", "-net", "net+a+b")) {
      io.jipam.api.v1.AllocateResponse wire = io.jipam.api.v1.AllocateResponse.newBuilder().setTaken(
          io.jipam.api.v1.Taken.newBuilder().setAddress(a.toString()).setHolder(WireMapping.attachment(holder))
              .setPool(bad)).build();
      IpamException e = assertThrows(IpamException.class, () -> WireMapping.outcome(wire), bad);
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().startsWith("taken address's pool \"") && !e.getMessage().contains("\u001b"), e.getMessage());
    }
  }

  /**
   * An Allocate's sub_pool: decoded when it describes the request's pool, else INVALID_CONFIG naming
   * the values, its selectors held to a config's rules.
   */
  @Test
  void requestedSubPool_table_subPoolOrInvalidConfigNamingTheValue() {
    Pool pool = TestPools.pool("edge+web", AllocationOrder.ROUND_ROBIN, "198.18.1.0/29");
    record Case(io.jipam.api.v1.SubPool.Builder sub, String error) {}
    io.jipam.api.v1.SubPool.Builder good = io.jipam.api.v1.SubPool.newBuilder().setNetwork("edge").setName("web")
        .setIndex(2).addNamespaces("web").addPods("web/api-*").addNodes("edge-*").setDefaultPool("edge");
    List<Case> cases = List.of(
        new Case(good, null),
        new Case(good.clone().setNetwork("other"),
            "sub_pool names network \"other\" and sub-pool \"web\", which make pool \"other+web\"; the request's pool is \"edge+web\""),
        new Case(good.clone().setName(""), "which make pool \"edge+\""),
        new Case(good.clone().setNetwork("edge\n"), "sub_pool names network \"edge\\x0a\""),
        new Case(good.clone().setIndex(-1), "sub_pool of pool \"edge+web\": sub_pool.index 4294967295 is not below 64"),
        new Case(good.clone().setIndex(64), "sub_pool of pool \"edge+web\": sub_pool.index 64 is not below 64"),
        new Case(good.clone().setIndex(63), null),
        new Case(good.clone().clearPods().addPods("api"), "sub_pool of pool \"edge+web\": pod pattern \"api\""),
        new Case(good.clone().clearNamespaces().addNamespaces("we\u0001b"),
            "sub_pool of pool \"edge+web\": sub_pool.namespaces"),
        new Case(good.clone().clearNodes().addNodes("edge/1"),
            "sub_pool of pool \"edge+web\": sub_pool.nodes: node pattern \"edge/1\" may hold only letters"),
        new Case(good.clone().addAllNodes(java.util.Collections.nCopies(300, "n")),
            "sub_pool of pool \"edge+web\": sub_pool.nodes"),
        new Case(good.clone().setDefaultPool("other"),
            "sub_pool of pool \"edge+web\" names default pool \"other\"; a network's default pool is the network"));
    for (Case c : cases) {
      io.jipam.api.v1.AllocateRequest request = io.jipam.api.v1.AllocateRequest.newBuilder().setSubPool(c.sub()).build();
      if (c.error() == null) {
        io.jipam.core.cni.SubPool sub = WireMapping.requestedSubPool(pool, request);
        assertEquals("edge", sub.network());
        assertEquals(c.sub().getIndex(), sub.index());
        assertEquals(List.of("web"), sub.namespaces());
        assertEquals(List.of("edge-*"), sub.nodes());
        assertEquals("[web/api-*]", sub.pods().toString());
        assertEquals("edge", sub.defaultPool());
        continue;
      }
      IpamException e = assertThrows(IpamException.class, () -> WireMapping.requestedSubPool(pool, request), c.error());
      assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains(c.error()), e.getMessage());
    }
    assertEquals(null, WireMapping.requestedSubPool(pool, io.jipam.api.v1.AllocateRequest.getDefaultInstance()));
  }
}
