package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@link IpamStore} contract, run against every store: each store module extends this class
 * and says how to open its store. Durable stores also say how to reopen one over the same state.
 */
public abstract class IpamStoreContractTest {
  protected IpamStore store;

  /** A fresh, empty store. Called once per test. */
  protected abstract IpamStore openStore() throws Exception;

  /**
   * Another store over the same state as the one {@link #openStore} returned (another process's
   * view, or the same after a restart); null for stores that keep nothing beyond themselves.
   */
  protected IpamStore reopenStore() throws Exception {
    return null;
  }

  @BeforeEach
  void open() throws Exception {
    store = openStore();
  }

  @AfterEach
  void closeStore() {
    if (store != null) {
      store.close();
    }
  }

  /** The pool a test names, under {@link #poolName}. */
  protected final Pool pool(String name, AllocationOrder order, String... subnets) {
    return TestPools.pool(poolName(name), order, subnets);
  }

  /**
   * The name a test's pool {@code name} has in the store: {@code name} itself, as each test gets a
   * fresh store. A suite whose tests share one store (one jipamd process for the class) returns a
   * name of the test's own, so the tests' pools never meet.
   */
  protected String poolName(String name) {
    return name;
  }

  protected static Attachment attachment(int i) {
    return new Attachment("container" + i, "eth0");
  }

  private static IpAddress ip(String text) {
    return IpAddress.parse(text);
  }

  private List<Allocation> allocated(Pool pool, AllocationRequest request) {
    AllocationOutcome outcome = store.allocate(pool, request);
    return assertInstanceOf(AllocationOutcome.Allocated.class, outcome, outcome::toString).allocations();
  }

  @Test
  void allocate_dualStackPool_returnsOneAddressPerRangeSet() {
    Pool pool = pool("dual", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:1::/64");
    List<Allocation> got = allocated(pool, AllocationRequest.of(attachment(1)));
    assertEquals(2, got.size());
    assertEquals(ip("198.18.0.2"), got.get(0).address());
    assertEquals(ip("fd00:1::2"), got.get(1).address());
    assertEquals(List.of(0, 1), got.stream().map(Allocation::rangeSetIndex).toList());
  }

  @Test
  void allocate_sameAttachmentTwice_returnsHeldAddressesAsExisting() {
    Pool pool = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    List<Allocation> first = allocated(pool, AllocationRequest.of(attachment(1)));
    AllocationOutcome again = store.allocate(pool, AllocationRequest.of(attachment(1)));
    AllocationOutcome.Allocated a = assertInstanceOf(AllocationOutcome.Allocated.class, again);
    assertTrue(a.existing());
    assertEquals(first, a.allocations());
    assertEquals(1, store.list(pool).size());
  }

  @Test
  void allocate_requestedAddressHeldByOther_returnsTakenAndChangesNothing() {
    Pool pool = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    store.allocate(pool, new AllocationRequest(attachment(1), List.of(ip("198.18.0.50")), null));
    AllocationOutcome outcome =
        store.allocate(pool, new AllocationRequest(attachment(2), List.of(ip("198.18.0.50")), null));
    AllocationOutcome.Taken taken = assertInstanceOf(AllocationOutcome.Taken.class, outcome);
    assertEquals(attachment(1), taken.holder());
    assertEquals(List.of(), store.find(pool, attachment(2)));
    assertEquals(1, store.list(pool).size());
  }

  @Test
  void allocate_requestedGatewayOrOutside_returnsUnavailable() {
    Pool pool = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    for (String wanted : List.of("198.18.0.1", "198.18.0.255", "198.18.1.5", "fd00::5")) {
      AllocationOutcome outcome =
          store.allocate(pool, new AllocationRequest(attachment(1), List.of(ip(wanted)), null));
      AllocationOutcome.Unavailable u = assertInstanceOf(AllocationOutcome.Unavailable.class, outcome, wanted);
      assertTrue(u.reason().contains(wanted), u.reason());
    }
    assertEquals(List.of(), store.list(pool));
  }

  @Test
  void allocate_requestedAddressesTable_refusalsSayWhyAndChangeNothing() {
    Pool pool = pool("req", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:6::/64");
    allocated(pool, new AllocationRequest(attachment(1), List.of(ip("198.18.0.10")), null));
    record Row(int attachment, List<String> wanted, String reasonPart) {}
    List<Row> rows = List.of(
        new Row(2, List.of("198.18.0.20", "198.18.0.21"), "same range set"),
        new Row(2, List.of("198.18.1.1"), "no range of network req"),
        new Row(2, List.of("198.18.0.1"), "is reserved in range"),
        new Row(1, List.of("198.18.0.11"), "already holds 198.18.0.10"));
    for (Row row : rows) {
      List<IpAddress> wanted = row.wanted().stream().map(IpAddress::parse).toList();
      AllocationOutcome outcome =
          store.allocate(pool, new AllocationRequest(attachment(row.attachment()), wanted, null));
      AllocationOutcome.Unavailable u =
          assertInstanceOf(AllocationOutcome.Unavailable.class, outcome, row.toString());
      assertTrue(u.reason().contains(row.reasonPart()), row + ": " + u.reason());
      assertTrue(u.reason().contains(row.wanted().get(row.wanted().size() - 1)), u.reason());
    }
    assertEquals(2, store.list(pool).size());
    assertEquals(List.of(), store.find(pool, attachment(2)));
  }

  @Test
  void allocate_sameAddressRequestedTwice_allocatesItOnce() {
    Pool pool = pool("twice", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:7::/64");
    List<Allocation> got = allocated(pool, new AllocationRequest(attachment(1),
        List.of(ip("198.18.0.30"), ip("198.18.0.30")), null));
    assertEquals(2, got.size());
    assertEquals(ip("198.18.0.30"), got.get(0).address());
    assertEquals(2, store.list(pool).size());
  }

  @Test
  void allocate_requestedAddress_getsExactlyThatAndKeepsPod() {
    Pool pool = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    PodRef pod = new PodRef("default", "web-0");
    List<Allocation> got =
        allocated(pool, new AllocationRequest(attachment(1), List.of(ip("198.18.0.77")), pod));
    assertEquals(ip("198.18.0.77"), got.get(0).address());
    assertEquals(pod, store.find(pool, attachment(1)).get(0).pod());
  }

  @Test
  void allocate_fullRangeSet_returnsExhaustedAndWritesNoOtherSet() {
    // 198.18.0.0/29: .1 is the gateway and .7 the broadcast, so .2 to .6 are free: five addresses
    Pool pool = pool("small", AllocationOrder.ROUND_ROBIN, "fd00:2::/64", "198.18.0.0/29");
    for (int i = 0; i < 5; i++) {
      allocated(pool, AllocationRequest.of(attachment(i)));
    }
    AllocationOutcome outcome = store.allocate(pool, AllocationRequest.of(attachment(99)));
    assertEquals(1, assertInstanceOf(AllocationOutcome.Exhausted.class, outcome).rangeSetIndex());
    assertEquals(List.of(), store.find(pool, attachment(99)));
    assertEquals(10, store.list(pool).size());
    assertEquals(List.of(5L, 5L), store.usage(pool).allocated());
    assertTrue(store.usage(pool).anyExhausted());
  }

  @Test
  void allocate_explicitBoundsAtNetworkAndBroadcast_handsThemOutAsHostLocal() {
    // host-local hands out all of [rangeStart, rangeEnd] but the gateway: explicit bounds at the
    // network address or the IPv4 broadcast hand those out, and a request for them is accepted
    record Row(String name, String subnet, String start, String end, String gateway, List<String> handedOut) {}
    List<Row> rows = List.of(
        new Row("v4", "198.18.0.0/29", "198.18.0.0", "198.18.0.7", "198.18.0.1",
            List.of("198.18.0.0", "198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5", "198.18.0.6", "198.18.0.7")),
        new Row("v4gwout", "198.18.1.0/30", "198.18.1.0", "198.18.1.3", "169.254.1.1",
            List.of("198.18.1.0", "198.18.1.1", "198.18.1.2", "198.18.1.3")),
        new Row("v6", "fd00:9::/126", "fd00:9::", "fd00:9::3", "fd00:9::1", List.of("fd00:9::", "fd00:9::2", "fd00:9::3")));
    for (Row row : rows) {
      Pool pool = new Pool(poolName("edges-" + row.name()), List.of(new RangeSet(List.of(
          new IpRange(Cidr.parse(row.subnet()), ip(row.start()), ip(row.end()),
              ip(row.gateway()), List.of())))), AllocationOrder.ROUND_ROBIN);
      List<String> got = new ArrayList<>();
      for (int i = 0; i < row.handedOut().size(); i++) {
        got.add(allocated(pool, AllocationRequest.of(attachment(i))).get(0).address().toString());
      }
      assertEquals(row.handedOut(), got, row.toString());
      assertInstanceOf(AllocationOutcome.Exhausted.class, store.allocate(pool, AllocationRequest.of(attachment(99))),
          row.toString());
      IpAddress first = ip(row.handedOut().get(0));
      IpAddress last = ip(row.handedOut().get(row.handedOut().size() - 1));
      store.release(pool, attachment(0));
      store.release(pool, attachment(row.handedOut().size() - 1));
      for (IpAddress wanted : List.of(first, last)) {
        List<Allocation> requested = allocated(pool, new AllocationRequest(attachment(100), List.of(wanted), null));
        assertEquals(wanted, requested.get(0).address(), row.toString());
        store.release(pool, attachment(100));
      }
      assertInstanceOf(AllocationOutcome.Unavailable.class, store.allocate(pool,
          new AllocationRequest(attachment(101), List.of(ip(row.gateway())), null)), row + ": the gateway");
      assertEquals(row.handedOut().size() - 2, store.list(pool).size(), row.toString());
    }
  }

  @Test
  void release_unknownAttachment_succeedsWithNothing() {
    Pool pool = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    assertEquals(List.of(), store.release(pool, attachment(7)));
    assertEquals(List.of(), store.release(pool, attachment(7)));
  }

  @Test
  void release_heldAddresses_freesThemForOthers() {
    Pool pool = pool("net", AllocationOrder.LOWEST_FREE, "198.18.0.0/24", "fd00:3::/120");
    List<Allocation> first = allocated(pool, AllocationRequest.of(attachment(1)));
    assertEquals(first, store.release(pool, attachment(1)));
    assertEquals(List.of(), store.find(pool, attachment(1)));
    List<Allocation> second = allocated(pool, AllocationRequest.of(attachment(2)));
    assertEquals(first.stream().map(Allocation::address).toList(),
        second.stream().map(Allocation::address).toList());
  }

  @Test
  void allocate_roundRobin_continuesAfterLastReservedAndWraps() {
    Pool pool = pool("rr", AllocationOrder.ROUND_ROBIN, "198.18.0.0/29");
    List<String> order = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      order.add(allocated(pool, AllocationRequest.of(attachment(i))).get(0).address().toString());
      store.release(pool, attachment(i));
    }
    assertEquals(List.of("198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5", "198.18.0.6",
        "198.18.0.2", "198.18.0.3"), order);
  }

  @Test
  void list_manyAllocations_orderedByAddressWithHolders() {
    Pool pool = pool("net", AllocationOrder.LOWEST_FREE, "198.18.0.0/24");
    for (int i = 0; i < 20; i++) {
      allocated(pool, AllocationRequest.of(attachment(i)));
    }
    List<Allocation> all = store.list(pool);
    assertEquals(20, all.size());
    for (int i = 0; i < 20; i++) {
      assertEquals(IpAddress.parse("198.18.0." + (i + 2)), all.get(i).address());
      assertEquals(attachment(i), all.get(i).attachment());
    }
  }

  @Test
  void retainOnly_staleAttachments_releasedValidKept() {
    Pool pool = pool("gc", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:4::/64");
    for (int i = 0; i < 6; i++) {
      allocated(pool, AllocationRequest.of(attachment(i)));
    }
    Set<Attachment> valid = Set.of(attachment(1), attachment(4));
    List<Allocation> released = store.retainOnly(pool, valid);
    assertEquals(8, released.size());
    assertFalse(released.stream().anyMatch(a -> valid.contains(a.attachment())));
    assertEquals(4, store.list(pool).size());
    assertEquals(2, store.find(pool, attachment(4)).size());
  }

  @Test
  void pools_sameStoreTwoNetworks_areIndependent() {
    Pool a = pool("net-a", AllocationOrder.LOWEST_FREE, "198.18.0.0/24");
    Pool b = pool("net-b", AllocationOrder.LOWEST_FREE, "198.18.1.0/24");
    allocated(a, AllocationRequest.of(attachment(1)));
    assertEquals(List.of(), store.find(b, attachment(1)));
    assertEquals(List.of(), store.list(b));
  }

  /** Pool {@code sub} of the test's network {@code network} ({@link #poolName} of it, then {@code +sub}). */
  protected final Pool subPool(String network, String sub, AllocationOrder order, String... subnets) {
    return TestPools.pool(poolName(network) + Pool.SUB_POOL_SEPARATOR + sub, order, subnets);
  }

  /** Allocates in {@code pool} until it is exhausted; the addresses, in order. */
  private List<IpAddress> fill(Pool pool, String prefix) {
    List<IpAddress> got = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      AllocationOutcome outcome = store.allocate(pool, AllocationRequest.of(new Attachment(prefix + i, "eth0")));
      if (outcome instanceof AllocationOutcome.Exhausted) {
        return got;
      }
      got.add(assertInstanceOf(AllocationOutcome.Allocated.class, outcome, outcome::toString)
          .allocations().get(0).address());
    }
    throw new AssertionError(pool.name() + " not exhausted after 300 allocations: " + got);
  }

  @Test
  void allocate_otherPoolOfNetworkHoldsAddresses_searchPassesOverThemOtherNetworksDoNot() {
    // a sub-pool renamed ("old" to "new") while it held addresses, and the network's own pool
    // named with overlapping ranges: the network's pools share its addresses; another network's
    // pool with the same ranges does not
    Pool old = subPool("net", "old", AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
    Pool renamed = subPool("net", "new", AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
    Pool own = pool("net", AllocationOrder.LOWEST_FREE, "198.18.0.0/28");
    Pool otherNetwork = pool("other", AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
    List<IpAddress> heldOld = List.of(allocated(old, AllocationRequest.of(attachment(1))).get(0).address(),
        allocated(old, AllocationRequest.of(attachment(2))).get(0).address());
    List<IpAddress> all = fill(otherNetwork, "o");
    assertTrue(all.containsAll(heldOld), "another network is its own address space: " + all);

    List<IpAddress> gotRenamed = fill(renamed, "n");
    assertEquals(all.size() - 2, gotRenamed.size(), "every address but the two the old pool holds: " + gotRenamed);
    assertTrue(Collections.disjoint(heldOld, gotRenamed), heldOld + " handed out again: " + gotRenamed);
    AllocationOutcome inOwn = store.allocate(own, AllocationRequest.of(attachment(3)));
    assertInstanceOf(AllocationOutcome.Exhausted.class, inOwn, "the network's every address is held: " + inOwn);

    store.release(old, attachment(1));
    List<Allocation> freed = allocated(own, AllocationRequest.of(attachment(3)));
    assertEquals(heldOld.get(0), freed.get(0).address(), "released in the old pool, free for the network again");
  }

  @Test
  void allocate_requestedAddressHeldInOtherPoolOfNetwork_returnsTakenNamingThatPool() {
    Pool old = subPool("net", "old", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    Pool own = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    store.allocate(old, new AllocationRequest(attachment(1), List.of(ip("198.18.0.50")), null));
    AllocationOutcome outcome =
        store.allocate(own, new AllocationRequest(attachment(2), List.of(ip("198.18.0.50")), null));
    AllocationOutcome.Taken taken = assertInstanceOf(AllocationOutcome.Taken.class, outcome, outcome::toString);
    assertEquals(attachment(1), taken.holder());
    assertEquals(old.name(), taken.pool());
    assertEquals(List.of(), store.find(own, attachment(2)));
    assertEquals(List.of(), store.list(own));
    AllocationOutcome inOld = store.allocate(old, new AllocationRequest(attachment(2), List.of(ip("198.18.0.50")), null));
    assertEquals(null, assertInstanceOf(AllocationOutcome.Taken.class, inOld).pool(), "held in the pool asked");
  }

  @Test
  void allocate_twoPoolsOfNetworkFillingOneRangeAtOnce_neverHandOneAddressToTwo() throws Exception {
    // two sub-pools named with the same range, each filled by two threads at once until exhausted:
    // together they hold every address of the range once
    Pool[] pools = {subPool("net", "a", AllocationOrder.ROUND_ROBIN, "198.18.0.0/25"),
        subPool("net", "b", AllocationOrder.ROUND_ROBIN, "198.18.0.0/25")};
    Concurrently.run(4, Duration.ofMinutes(5), id -> {
      Pool pool = pools[id % 2];
      for (int r = 0; r < 200; r++) {
        Attachment mine = new Attachment("c" + id + "-" + r, "eth0");
        if (store.allocate(pool, AllocationRequest.of(mine)) instanceof AllocationOutcome.Exhausted) {
          return;
        }
      }
    });
    List<Allocation> a = store.list(pools[0]);
    List<Allocation> b = store.list(pools[1]);
    Set<IpAddress> inA = new HashSet<>();
    a.forEach(x -> inA.add(x.address()));
    List<String> twice = new ArrayList<>();
    for (Allocation x : b) {
      if (inA.contains(x.address())) {
        twice.add(x.address() + " in both pools");
      }
    }
    assertEquals(List.of(), twice);
    assertEquals(125, a.size() + b.size(), "the /25's every address once: " + a.size() + " + " + b.size());
  }

  @Test
  void allocate_manyThreadsChurning_neverHandsOneAddressToTwo() throws Exception {
    Pool pool = pool("churn", AllocationOrder.ROUND_ROBIN, "198.18.0.0/26");
    int threads = 8;
    int rounds = churnRounds();
    ConcurrentHashMap<IpAddress, Attachment> holders = new ConcurrentHashMap<>();
    List<String> violations = Collections.synchronizedList(new ArrayList<>());
    Concurrently.run(threads, Duration.ofMinutes(5), id -> {
      for (int r = 0; r < rounds; r++) {
        Attachment mine = new Attachment("c" + id + "-" + r, "eth0");
        AllocationOutcome outcome = store.allocate(pool, AllocationRequest.of(mine));
        if (outcome instanceof AllocationOutcome.Allocated got) {
          IpAddress address = got.allocations().get(0).address();
          Attachment before = holders.putIfAbsent(address, mine);
          if (before != null) {
            violations.add(address + " held by " + before + " and " + mine);
          }
          holders.remove(address, mine);
          store.release(pool, mine);
        }
      }
    });
    assertEquals(List.of(), violations);
    assertEquals(List.of(), store.list(pool));
  }

  /** Rounds per thread in the churn test; slow durable stores may lower it. */
  protected int churnRounds() {
    return 200;
  }

  @Test
  void reopen_afterAllocations_seesSameStateAndCursor() throws Exception {
    Pool pool = pool("durable", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:5::/64");
    List<Allocation> held = allocated(pool, new AllocationRequest(attachment(1), List.of(),
        new PodRef("ns", "pod-1")));
    allocated(pool, AllocationRequest.of(attachment(2)));
    store.release(pool, attachment(2));
    IpamStore other = reopenStore();
    assumeTrue(other != null, "nothing outlives this store: a skip, not a pass");
    try {
      assertEquals(held, other.find(pool, attachment(1)));
      assertEquals(Set.copyOf(held), new HashSet<>(other.list(pool)));
      List<Allocation> next = ((AllocationOutcome.Allocated) other.allocate(pool,
          AllocationRequest.of(attachment(3)))).allocations();
      assertEquals(IpAddress.parse("198.18.0.4"), next.get(0).address(), "round-robin cursor survives");
    } finally {
      other.close();
    }
  }
}
