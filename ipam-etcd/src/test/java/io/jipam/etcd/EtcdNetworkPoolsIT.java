package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Etcd;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Pools of one network share its address space in the etcd store: a pool of network {@code net}
 * ({@code net}, or a sub-pool {@code net+x}) never hands out an address another pool of {@code net}
 * holds, allocated or claimed, whatever the pools' block sizes; a requested one is refused naming
 * its holder; another network with the same ranges is a space of its own; a pool defined after a
 * store cached the network's pools is seen at that store's next ADD; and two stores of two nodes
 * filling two pools of one range at once never both get one address. {@link EtcdInvariants} after
 * each test.
 */
@ExtendWith(EtcdExtension.class)
class EtcdNetworkPoolsIT {
  static final String RANGE = "198.18.0.0/28";
  /** The addresses of {@link #RANGE} a pool hands out: .2 to .14 (.1 is the gateway). */
  static final int CAPACITY = 13;

  private final PrefixedStores stores;

  EtcdNetworkPoolsIT(Etcd etcd) {
    this.stores = new PrefixedStores(etcd);
  }

  @AfterEach
  void closeAll() throws Exception {
    stores.close();
  }

  /** A store of the node on this test's prefix, IPv4 blocks of {@code v4} bits; 10 s timeout (shared machines). */
  EtcdStore store(String node, int v4) {
    return stores.open(stores.config(node).withBlockSizes(v4, 122));
  }

  static Pool pool(String name) {
    return TestPools.pool(name, AllocationOrder.ROUND_ROBIN, RANGE);
  }

  static AllocationRequest add(String container) {
    return new AllocationRequest(new Attachment(container, "eth0"), List.of(), new PodRef("ns", container));
  }

  static IpAddress ip(String s) {
    return IpAddress.parse(s);
  }

  /** Allocates in the pool until it is exhausted; the addresses it got, in order. */
  static List<IpAddress> fill(EtcdStore store, Pool pool, String tag) {
    List<IpAddress> got = new ArrayList<>();
    for (int i = 0; ; i++) {
      AllocationOutcome out = store.allocate(pool, add(tag + "-" + i));
      if (out instanceof AllocationOutcome.Exhausted) {
        return got;
      }
      assertInstanceOf(AllocationOutcome.Allocated.class, out, pool.name() + " " + tag + "-" + i);
      got.add(((AllocationOutcome.Allocated) out).allocations().get(0).address());
      assertTrue(i <= CAPACITY, pool.name() + " handed out more than its " + CAPACITY + " addresses: " + got);
    }
  }

  static Set<IpAddress> addresses(List<Allocation> allocations) {
    Set<IpAddress> out = new TreeSet<>();
    allocations.forEach(a -> out.add(a.address()));
    return out;
  }

  /**
   * Pool {@code net+old} holds five addresses; {@code target} of the same network with the same
   * ranges gets exactly the other eight, then is exhausted, and a requested held one is {@code
   * Taken} naming its holder: with equal blocks and with blocks of other sizes in either pool.
   */
  @ParameterizedTest(name = "{0} (blocks /{1}) beside net+old (blocks /{2})")
  @CsvSource({"net+new, 26, 26", "net+new, 28, 30", "net+new, 30, 26", "net, 26, 26", "net, 30, 28"})
  void allocate_addressesHeldInAnotherPoolOfTheNetwork_neverHandedOut(String target, int targetBlocks,
      int oldBlocks) {
    EtcdStore old = store("node-old", oldBlocks);
    EtcdStore fresh = store("node-new", targetBlocks);
    Set<IpAddress> held = new TreeSet<>();
    for (int i = 0; i < 5; i++) {
      AllocationOutcome out = old.allocate(pool("net+old"), add("old-" + i));
      held.add(((AllocationOutcome.Allocated) out).allocations().get(0).address());
    }

    List<IpAddress> got = fill(fresh, pool(target), "new");

    assertEquals(CAPACITY - held.size(), got.size(), "got " + got + " beside " + held);
    assertTrue(Collections.disjoint(got, held), target + " got " + got + ", net+old holds " + held);
    IpAddress first = held.iterator().next();
    AllocationOutcome taken = fresh.allocate(pool(target), new AllocationRequest(new Attachment("asks", "eth0"),
        List.of(first), new PodRef("ns", "asks")));
    assertEquals(new AllocationOutcome.Taken(first, holderOf(old, first), "net+old"), taken);
    assertEquals(held, addresses(old.list(pool("net+old"))), "net+old unchanged");
  }

  /**
   * Pool {@code net+old} holds every address of the first 38 blocks (/30) of a /24, more than the
   * {@value Placement#CLAIM_SPREAD} blocks a claim once looked at: {@code net+new} on the same range
   * (a renamed sub-pool) claims blocks past them and gets exactly the addresses the old pool does
   * not hold, with and without a claim hint (a second node's store after the first claimed), and is
   * exhausted only then.
   */
  @Test
  void allocate_otherPoolHoldsEveryAddressOfTheFirstBlocks_claimsPastThemNotExhausted() {
    String range = "198.18.0.0/24";
    Pool old = TestPools.pool("net+old", AllocationOrder.ROUND_ROBIN, range);
    Pool renamed = TestPools.pool("net+new", AllocationOrder.ROUND_ROBIN, range);
    EtcdStore oldStore = store("node-old", 30);
    Set<IpAddress> held = new TreeSet<>();
    for (int i = 0; i < 150; i++) { // .2 to .151: every address of blocks .0/30 to .148/30
      AllocationOutcome out = oldStore.allocate(old, add("old-" + i));
      held.add(((AllocationOutcome.Allocated) out).allocations().get(0).address());
    }
    assertEquals(ip("198.18.0.151"), ((TreeSet<IpAddress>) held).last(), "net+old filled in address order: " + held);

    List<IpAddress> got = new ArrayList<>();
    for (String node : List.of("node-a", "node-b")) {
      EtcdStore fresh = store(node, 30);
      for (int i = 0; i < 20; i++) {
        AllocationOutcome out = fresh.allocate(renamed, add(node + "-" + i));
        assertInstanceOf(AllocationOutcome.Allocated.class, out, node + "-" + i + " beside " + held.size() + " held");
        got.add(((AllocationOutcome.Allocated) out).allocations().get(0).address());
      }
    }
    EtcdStore rest = store("node-c", 30);
    for (int i = 0; ; i++) {
      AllocationOutcome out = rest.allocate(renamed, add("rest-" + i));
      if (out instanceof AllocationOutcome.Exhausted) {
        break;
      }
      assertInstanceOf(AllocationOutcome.Allocated.class, out, "rest-" + i);
      got.add(((AllocationOutcome.Allocated) out).allocations().get(0).address());
      assertTrue(i <= 253, "net+new handed out more than the /24 has: " + got.size());
    }
    assertTrue(Collections.disjoint(got, held), "net+new got addresses net+old holds: " + got);
    assertEquals(253 - held.size(), new HashSet<>(got).size(), "net+new got every address net+old does not hold, once");
    assertEquals(got.size(), new HashSet<>(got).size(), "no address twice: " + got);
  }

  private static Attachment holderOf(EtcdStore store, IpAddress address) {
    for (Allocation a : store.list(pool("net+old"))) {
      if (a.address().equals(address)) {
        return a.attachment();
      }
    }
    throw new AssertionError(address + " is not held in net+old");
  }

  /** A network of another name with the same ranges is an address space of its own. */
  @Test
  void allocate_otherNetworkWithTheSameRanges_getsEveryAddress() {
    EtcdStore old = store("node-old", 26);
    EtcdStore other = store("node-other", 26);
    for (int i = 0; i < 5; i++) {
      assertInstanceOf(AllocationOutcome.Allocated.class, old.allocate(pool("net+old"), add("old-" + i)));
    }

    List<IpAddress> got = fill(other, pool("other"), "other");

    assertEquals(CAPACITY, got.size(), "network other got " + got);
    assertEquals(CAPACITY, new HashSet<>(got).size());
  }

  /**
   * An address reserved in {@code net+old} is skipped by {@code net+new} (it gets every other
   * address, then is exhausted), and asking for it is {@code Unavailable} naming the pool.
   */
  @Test
  void allocate_addressReservedInAnotherPoolOfTheNetwork_skippedAndRequestRefused() {
    EtcdStore old = store("node-old", 26);
    EtcdStore fresh = store("node-new", 26);
    IpAddress reserved = ip("198.18.0.9");
    assertInstanceOf(ReserveOutcome.Reserved.class, old.reserve(pool("net+old"), reserved,
        new PodRef("ns", "keeper"), true));

    List<IpAddress> got = fill(fresh, pool("net+new"), "new");

    assertEquals(CAPACITY - 1, got.size(), "got " + got);
    assertTrue(!got.contains(reserved), "net+new got " + reserved + ", reserved in net+old: " + got);
    fresh.release(pool("net+new"), new Attachment("new-0", "eth0"));
    AllocationOutcome refused = fresh.allocate(pool("net+new"), new AllocationRequest(new Attachment("asks", "eth0"),
        List.of(reserved), new PodRef("ns", "asks")));
    AllocationOutcome.Unavailable u = assertInstanceOf(AllocationOutcome.Unavailable.class, refused);
    assertEquals(reserved, u.address());
    assertTrue(u.reason().contains("net+old") && u.reason().contains("reserved for pod ns/keeper"), u.reason());
  }

  /**
   * A store that has allocated in {@code net+new} (its list of the network's pools read, with
   * none other) does not hand out what {@code net+old}, defined afterwards by another store, holds:
   * its next transaction fails on the network's guard key and reads the pools again.
   */
  @Test
  void allocate_poolDefinedAfterTheStoreReadTheNetwork_itsAddressesSkipped() {
    EtcdStore fresh = store("node-new", 26);
    EtcdStore old = store("node-old", 26);
    List<IpAddress> got = new ArrayList<>();
    got.add(((AllocationOutcome.Allocated) fresh.allocate(pool("net+new"), add("new-first"))).allocations().get(0)
        .address());
    Set<IpAddress> held = new TreeSet<>();
    for (int i = 0; i < 6; i++) {
      AllocationOutcome out = old.allocate(pool("net+old"), add("old-" + i));
      held.add(((AllocationOutcome.Allocated) out).allocations().get(0).address());
    }

    got.addAll(fill(fresh, pool("net+new"), "new"));

    assertEquals(CAPACITY - held.size(), got.size(), "got " + got + " beside " + held);
    assertTrue(Collections.disjoint(got, held), "net+new got " + got + ", net+old holds " + held);
  }

  /**
   * Two nodes fill {@code net+a} and {@code net+b}, one range, four callers each, at once (two
   * stores with clients of their own, or two nodes' stores over one client, whose transactions may
   * share one etcd transaction): no address is held in both pools, and together they hold every
   * address.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"separate clients", "one shared client"})
  void allocate_twoPoolsOfOneRangeFilledConcurrently_noAddressTwice(String how) throws Exception {
    EtcdStore a;
    EtcdStore b;
    if (how.startsWith("separate")) {
      a = store("node-a", 30);
      b = store("node-b", 30);
    } else {
      EtcdNodeStores shared = stores.keep(EtcdStores.openShared(stores.config("central").withBlockSizes(30, 122)));
      a = shared.forNode("node-a");
      b = shared.forNode("node-b");
    }
    ExecutorService callers = Executors.newFixedThreadPool(8);
    try {
      List<Future<List<IpAddress>>> runs = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        String tag = "t" + t;
        runs.add(callers.submit(() -> fill(a, pool("net+a"), "a-" + tag)));
        runs.add(callers.submit(() -> fill(b, pool("net+b"), "b-" + tag)));
      }
      for (Future<List<IpAddress>> f : runs) {
        f.get();
      }
    } finally {
      callers.shutdownNow();
    }

    Set<IpAddress> inA = addresses(a.list(pool("net+a")));
    Set<IpAddress> inB = addresses(b.list(pool("net+b")));
    Set<IpAddress> both = new TreeSet<>(inA);
    both.retainAll(inB);
    assertEquals(Set.of(), both, "held in net+a " + inA + " and in net+b " + inB);
    assertEquals(CAPACITY, inA.size() + inB.size(), "net+a " + inA + ", net+b " + inB);
  }

  /**
   * A network with one pool, or with sub-pools whose ranges do not overlap (as a config defines
   * them), pays no round trip for the check: four ADDs of a warm store are four transactions, and
   * the first ADD of a fresh store (the pool defined, the node owning a block) sends {@value
   * #FIRST_ADD_REQUESTS} requests, as before the check (the network's pools are read in the
   * transaction that checks the pool's definition); each pool gets all of its own range.
   */
  @ParameterizedTest(name = "{0} beside {1}")
  @CsvSource({"solo, ''", "net+a, net+b", "net, net+b"})
  void allocate_noOverlappingPoolInTheNetwork_noRequestOfItsOwn(String name, String beside) {
    if (!beside.isEmpty()) {
      EtcdStore other = store("node-2", 26);
      assertInstanceOf(AllocationOutcome.Allocated.class, other.allocate(
          TestPools.pool(beside, AllocationOrder.ROUND_ROBIN, "198.18.0.16/28"), add("other-0")));
    }
    EtcdStore warm = store("node-1", 26);
    assertInstanceOf(AllocationOutcome.Allocated.class, warm.allocate(pool(name), add("warm-0")));
    // the fewer of two rounds of four ADDs, and below the fewest of three fresh stores' first
    // ADDs: a request repeated after a slow answer (a loaded CI machine) is the machine's cost,
    // not the check's
    long fewestWarm = Long.MAX_VALUE;
    for (int round = 0; round < 2; round++) {
      long before = requests(warm);
      for (int i = 1; i <= 4; i++) {
        assertInstanceOf(AllocationOutcome.Allocated.class, warm.allocate(pool(name), add("warm-" + round + "-" + i)));
      }
      fewestWarm = Math.min(fewestWarm, requests(warm) - before);
    }
    assertEquals(4, fewestWarm, "one transaction per ADD");

    long fewest = Long.MAX_VALUE;
    EtcdStore fresh = null;
    for (int i = 0; i < 3; i++) {
      fresh = store("node-1", 26);
      long start = requests(fresh);
      assertInstanceOf(AllocationOutcome.Allocated.class, fresh.allocate(pool(name), add("fresh-" + i)));
      fewest = Math.min(fewest, requests(fresh) - start);
    }
    assertEquals(FIRST_ADD_REQUESTS, fewest, "requests of a fresh store's first ADD");
    assertEquals(CAPACITY - 12, fill(fresh, pool(name), "fill").size());
  }

  /** Range reads and transactions the store has sent. */
  static long requests(EtcdStore store) {
    return ((GroupCommitStore) store).etcd().tally().requests();
  }

  /** A fresh store's first ADD: the definition's check, the node's affinities, its blocks, the transaction. */
  static final int FIRST_ADD_REQUESTS = 4;
}
