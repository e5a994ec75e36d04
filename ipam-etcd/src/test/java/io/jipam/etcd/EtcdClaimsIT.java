package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.testing.TestClock;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Holds, reservations and cool-downs in the etcd store, across nodes (issue 22): a pod's address
 * follows it to another node and back to the pool when the hold ends (by the stores' test clock),
 * reservations are given only to their pod and refused atomically on an address in use, a reuse
 * delay keeps released addresses out of use until nothing else is left, and a node's reclaim
 * leaves claims intact. The invariants of {@link EtcdInvariants} are checked after each test.
 */
@ExtendWith(EtcdExtension.class)
class EtcdClaimsIT {
  static final Duration HOLD = Duration.ofSeconds(600);
  private final Etcd etcd;
  private final String prefix = "/jipam-test-" + UUID.randomUUID();
  private final List<EtcdStore> opened = new ArrayList<>();
  private final TestClock clock = new TestClock(java.time.Instant.now());

  EtcdClaimsIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @AfterEach
  void closeAll() {
    opened.forEach(EtcdStore::close);
    EtcdInvariants.check(etcd.endpoints(), prefix, clock.instant());
  }

  /**
   * A store of the node on this test's prefix, blocks of /28, on the test clock; a timeout of 10 s
   * (the machines running this suite are shared: etcd took over 3 s to answer at load average 30).
   */
  GroupCommitStore store(String node) {
    GroupCommitStore s = (GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node)
        .withPrefix(prefix).withBlockSizes(28, 122).withTimeout(Duration.ofSeconds(10)), clock);
    opened.add(s);
    return s;
  }

  static Pool pool(String subnet, AddressPolicy policy) {
    return TestPools.pool("claims", AllocationOrder.ROUND_ROBIN, subnet).withPolicy(policy);
  }

  static AddressPolicy sticky(String pattern, int maxHeldPercent) {
    return new AddressPolicy(new StickyRule(List.of(PodPattern.parse(pattern)), HOLD, maxHeldPercent), Duration.ZERO);
  }

  static AllocationRequest add(String container, String ns, String name) {
    return new AllocationRequest(new Attachment(container, "eth0"), List.of(), new PodRef(ns, name));
  }

  static AllocationOutcome.Allocated allocated(AllocationOutcome out) {
    return assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString);
  }

  static IpAddress addressOf(AllocationOutcome out) {
    return allocated(out).allocations().get(0).address();
  }

  @Test
  void allocate_stickyPodOnAnotherNode_getsItsAddressUntilTheHoldEnds() {
    Pool pool = pool("198.18.10.0/24", sticky("db/*", 25));
    GroupCommitStore a = store("node-a");
    GroupCommitStore b = store("node-b");
    AllocationOutcome.Allocated first = allocated(a.allocate(pool, add("c1", "db", "web-0")));
    IpAddress x = first.allocations().get(0).address();
    assertEquals(List.of(AllocationOrigin.FREE), first.origins());
    a.release(pool, new Attachment("c1", "eth0"));
    assertEquals(List.of(Claim.Kind.HOLD), a.claims(pool).stream().map(Claim::kind).toList());
    // another pod on node A (same block, round-robin) never gets the held address
    for (int i = 0; i < 20; i++) {
      assertNotEquals(x, addressOf(a.allocate(pool, add("o" + i, "other", "p" + i))));
    }
    // the pod comes back on node B, with a new container: same address, taken from node A's block
    AllocationOutcome.Allocated again = allocated(b.allocate(pool, add("c2", "db", "web-0")));
    assertEquals(x, again.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.STICKY), again.origins());
    assertEquals(List.of(), b.claims(pool), "the hold ended when its pod took the address");
    b.release(pool, new Attachment("c2", "eth0"));
    Claim hold = b.claims(pool).get(0);
    assertEquals(new PodRef("db", "web-0"), hold.pod());
    long freeHeld = a.usage(pool).free().get(0);
    // the hold ends: the address is free again, for anyone
    clock.advance(HOLD.plusSeconds(1));
    assertEquals(List.of(), a.claims(pool));
    assertEquals(freeHeld + 1, a.usage(pool).free().get(0), "a held address is not free; an expired hold is");
    AllocationRequest wantX = new AllocationRequest(new Attachment("c3", "eth0"), List.of(x), new PodRef("other", "q"));
    assertEquals(List.of(AllocationOrigin.REQUESTED), allocated(b.allocate(pool, wantX)).origins());
  }

  @Test
  void allocate_dualStackStickyPodOnAnotherNode_getsBothAddressesBack() {
    Pool pool = TestPools.pool("claims", AllocationOrder.ROUND_ROBIN, "198.18.18.0/24", "fd00:18::/120")
        .withPolicy(sticky("db/*", 25));
    GroupCommitStore a = store("node-a");
    List<IpAddress> first = allocated(a.allocate(pool, add("c1", "db", "web-0"))).allocations().stream()
        .map(io.jipam.core.store.Allocation::address).toList();
    a.release(pool, new Attachment("c1", "eth0"));
    assertEquals(2, a.claims(pool).size());
    AllocationOutcome.Allocated again = allocated(store("node-b").allocate(pool, add("c2", "db", "web-0")));
    assertEquals(first, again.allocations().stream().map(io.jipam.core.store.Allocation::address).toList());
    assertEquals(List.of(AllocationOrigin.STICKY, AllocationOrigin.STICKY), again.origins());
  }

  @Test
  void release_podWithoutName_makesNoHold() {
    Pool pool = pool("198.18.9.0/24", sticky("db/*", 25));
    GroupCommitStore a = store("node-a");
    addressOf(a.allocate(pool, add("c1", "db", "")));
    a.release(pool, new Attachment("c1", "eth0"));
    assertEquals(List.of(), a.claims(pool), "a hold names a pod: a namespace alone is none");
  }

  @Test
  void allocate_requestedAddressHeldForAnotherPod_isUnavailable() {
    Pool pool = pool("198.18.11.0/24", sticky("db/*", 25));
    GroupCommitStore a = store("node-a");
    IpAddress x = addressOf(a.allocate(pool, add("c1", "db", "web-0")));
    a.release(pool, new Attachment("c1", "eth0"));
    AllocationRequest wantX = new AllocationRequest(new Attachment("c2", "eth0"), List.of(x), new PodRef("db", "web-1"));
    AllocationOutcome.Unavailable refused = assertInstanceOf(AllocationOutcome.Unavailable.class,
        store("node-b").allocate(pool, wantX));
    assertTrue(refused.reason().contains("db/web-0"), refused.reason());
  }

  @Test
  void release_holdsBeyondTheBound_areRefusedInReleaseOrder() {
    // a /28 block: 13 addresses that may be handed out; 20 % of them is 2 holds
    Pool pool = pool("198.18.12.0/28", sticky("db/*", 20));
    GroupCommitStore a = store("node-a");
    List<Attachment> atts = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      addressOf(a.allocate(pool, add("c" + i, "db", "web-" + i)));
      atts.add(new Attachment("c" + i, "eth0"));
    }
    for (Attachment att : atts) {
      a.release(pool, att);
    }
    List<PodRef> held = a.claims(pool).stream().map(Claim::pod).toList();
    assertEquals(Set.of(new PodRef("db", "web-0"), new PodRef("db", "web-1")), new HashSet<>(held));
  }

  @Test
  void reserve_givesTheAddressOnlyToItsPod_andRefusesAnAddressInUse() throws Exception {
    Pool pool = pool("198.18.13.0/28", AddressPolicy.NONE);
    GroupCommitStore a = store("node-a");
    GroupCommitStore b = store("node-b");
    IpAddress used = addressOf(a.allocate(pool, add("c0", "ns", "other")));
    String before = keysUnderPrefix(a);
    ReserveOutcome.InUse inUse = assertInstanceOf(ReserveOutcome.InUse.class,
        b.reserve(pool, used, new PodRef("ns", "p"), false));
    assertTrue(inUse.holder().contains("c0") && inUse.holder().contains("ns/other"), inUse.holder());
    assertEquals(before, keysUnderPrefix(a), "a refused reservation writes nothing");
    IpAddress x = IpAddress.parse("198.18.13.9");
    assertInstanceOf(ReserveOutcome.Reserved.class, b.reserve(pool, x, new PodRef("ns", "p"), false));
    assertInstanceOf(ReserveOutcome.Reserved.class, b.reserve(pool, x, new PodRef("ns", "p"), false),
        "reserving again for the same pod is idempotent");
    assertInstanceOf(ReserveOutcome.InUse.class, b.reserve(pool, x, new PodRef("ns", "q"), false));
    // node A's warm store fills the pool with other pods: never the reserved address
    Set<IpAddress> given = new HashSet<>();
    for (int i = 1; ; i++) {
      AllocationOutcome out = a.allocate(pool, add("c" + i, "ns", "q" + i));
      if (out instanceof AllocationOutcome.Exhausted) {
        break;
      }
      given.add(addressOf(out));
      assertTrue(i < 20, "bounded");
    }
    assertTrue(!given.contains(x) && given.size() == 11, given.toString());
    AllocationOutcome.Allocated mine = allocated(b.allocate(pool, add("cp", "ns", "p")));
    assertEquals(x, mine.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.RESERVED), mine.origins());
    // released, it stays reserved; unreserved, it is free
    b.release(pool, new Attachment("cp", "eth0"));
    assertEquals(List.of(Claim.reservation(x, new PodRef("ns", "p"))), a.claims(pool));
    assertInstanceOf(AllocationOutcome.Exhausted.class, a.allocate(pool, add("cz", "ns", "z")));
    assertEquals(Claim.reservation(x, new PodRef("ns", "p")), a.unreserve(pool, x).orElseThrow());
    assertEquals(x, addressOf(a.allocate(pool, add("cz", "ns", "z"))));
  }

  @Test
  void reserve_forANamespace_admitsItsPodsOnly() {
    Pool pool = pool("198.18.14.0/24", AddressPolicy.NONE);
    GroupCommitStore a = store("node-a");
    IpAddress x = IpAddress.parse("198.18.14.77");
    assertInstanceOf(ReserveOutcome.Reserved.class, a.reserve(pool, x, new PodRef("team", ""), false));
    assertNotEquals(x, addressOf(a.allocate(pool, add("c1", "other", "p"))));
    AllocationOutcome.Allocated got = allocated(store("node-b").allocate(pool, add("c2", "team", "any")));
    assertEquals(x, got.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.RESERVED), got.origins());
    assertEquals(List.of(), a.audit(pool));
    // the record lost: the audit names the reservation it no longer lists
    a.etcd().txn(List.of(), List.of(EtcdClient.delete(a.keys().reservations(pool.name()))), List.of(),
        System.nanoTime() + 3_000_000_000L, "test");
    String record = a.keys().reservations(pool.name());
    assertEquals(List.of("claims: a block reserves " + x + " for " + new PodRef("team", "") + ", which " + record
        + " does not list"), a.audit(pool));
    // unreserving ends it in the block too, so the invariants after the test hold again
    assertTrue(a.unreserve(pool, x).isPresent());
  }

  @Test
  void allocate_withReuseDelay_skipsCoolingAddressesUntilNothingElseIsLeft() {
    Pool pool = pool("198.18.15.0/28", new AddressPolicy(null, Duration.ofSeconds(60)));
    GroupCommitStore a = store("node-a");
    IpAddress first = addressOf(a.allocate(pool, add("c0", "ns", "p0")));
    IpAddress second = addressOf(a.allocate(pool, add("c1", "ns", "p1")));
    a.release(pool, new Attachment("c0", "eth0"));
    clock.advance(Duration.ofSeconds(1));
    a.release(pool, new Attachment("c1", "eth0"));
    assertEquals(13, a.usage(pool).free().get(0), "cooling addresses count as free");
    Set<IpAddress> given = new HashSet<>();
    for (int i = 2; i < 13; i++) {
      AllocationOutcome.Allocated out = allocated(a.allocate(pool, add("c" + i, "ns", "p" + i)));
      assertEquals(List.of(AllocationOrigin.FREE), out.origins());
      given.add(out.allocations().get(0).address());
    }
    assertTrue(!given.contains(first) && !given.contains(second), given.toString());
    AllocationOutcome.Allocated cooled = allocated(store("node-b").allocate(pool, add("c13", "ns", "p13")));
    assertEquals(first, cooled.allocations().get(0).address(), "the one that cooled longest");
    assertEquals(List.of(AllocationOrigin.COOLED), cooled.origins());
    clock.advance(Duration.ofSeconds(60));
    AllocationOutcome.Allocated free = allocated(a.allocate(pool, add("c14", "ns", "p14")));
    assertEquals(second, free.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.FREE), free.origins());
  }

  @Test
  void reclaimNode_leavesHoldsAndReservationsInItsBlocks() {
    Pool pool = pool("198.18.16.0/24", sticky("db/*", 50));
    GroupCommitStore a = store("node-a");
    IpAddress x = addressOf(a.allocate(pool, add("c1", "db", "web-0")));
    addressOf(a.allocate(pool, add("c2", "ns", "keep")));
    a.release(pool, new Attachment("c1", "eth0"));
    IpAddress reserved = IpAddress.parse("198.18.16.5");
    assertInstanceOf(ReserveOutcome.Reserved.class, a.reserve(pool, reserved, new PodRef("ns", "r"), false));
    List<Claim> before = a.claims(pool);
    assertEquals(2, before.size());
    GroupCommitStore b = store("node-b");
    b.reclaimNode("node-a", ReclaimPolicy.FORCE);
    assertEquals(before, b.claims(pool));
    assertEquals(x, addressOf(b.allocate(pool, add("c3", "db", "web-0"))));
    assertEquals(reserved, addressOf(b.allocate(pool, add("c4", "ns", "r"))));
  }

  /**
   * A gone node's sticky pods keep their addresses: reclaiming it with the pool's rules (as jipamctl
   * gives them from --conf, jipamd from its pools) makes each sticky pod's allocation a hold, as its
   * DEL would, within the bound (a /28 block, 10 %: one hold; the other sticky pod's address is
   * free), frees the other pods' addresses, and the held pod gets its address back on another node.
   * Without the rules nothing is held.
   */
  @Test
  void reclaimNode_withTheRules_stickyPodsAllocationBecomesAHoldWithinTheBound() {
    Pool pool = pool("198.18.21.0/28", sticky("db/*", 10));
    GroupCommitStore a = store("node-a");
    IpAddress db0 = addressOf(a.allocate(pool, add("c1", "db", "db-0")));
    IpAddress db1 = addressOf(a.allocate(pool, add("c2", "db", "db-1")));
    IpAddress web = addressOf(a.allocate(pool, add("c3", "web", "web-0")));
    GroupCommitStore b = store("node-b");
    Pool stored = b.definedPools().get(0);
    assertTrue(stored.policy().isNone(), "etcd keeps ranges, not rules: " + stored);
    b.reclaimNode("node-a", ReclaimPolicy.FORCE.withRules(List.of(pool)));
    List<Claim> claims = b.claims(pool);
    assertEquals(1, claims.size(), "the bound allows one hold in the block: " + claims);
    Claim hold = claims.get(0);
    assertEquals(Claim.Kind.HOLD, hold.kind());
    assertTrue(hold.address().equals(db0) || hold.address().equals(db1), hold.toString());
    assertEquals(clock.instant().plus(HOLD).truncatedTo(java.time.temporal.ChronoUnit.MILLIS), hold.until());
    assertTrue(b.list(pool).isEmpty(), "every allocation of the node is released");
    AllocationOutcome.Allocated back = allocated(b.allocate(pool, add("c4", "db", hold.pod().name())));
    assertEquals(hold.address(), back.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.STICKY), back.origins());
    assertNotEquals(web, hold.address());
  }

  @Test
  void reclaimNode_withoutRules_holdsNothing() {
    Pool pool = pool("198.18.22.0/28", sticky("db/*", 100));
    GroupCommitStore a = store("node-a");
    addressOf(a.allocate(pool, add("c1", "db", "db-0")));
    GroupCommitStore b = store("node-b");
    b.reclaimNode("node-a", ReclaimPolicy.FORCE);
    assertEquals(List.of(), b.claims(pool));
  }

  @Test
  void allocate_poolWithoutPolicy_costsOneRequestPerCall() {
    Pool pool = pool("198.18.17.0/24", AddressPolicy.NONE);
    GroupCommitStore a = store("node-a");
    addressOf(a.allocate(pool, add("warm", "ns", "warm")));
    long before = a.etcd().tally().requests();
    for (int i = 0; i < 10; i++) {
      addressOf(a.allocate(pool, add("c" + i, "ns", "p" + i)));
      a.release(pool, new Attachment("c" + i, "eth0"));
    }
    assertEquals(20, a.etcd().tally().requests() - before, "one transaction per ADD and per DEL, no read");
  }

  @Test
  void allocate_stickyPodRestartingOnItsNode_readsItsHoldsOncePerCall() {
    Pool pool = pool("198.18.19.0/24", sticky("db/*", 25));
    GroupCommitStore a = store("node-a");
    addressOf(a.allocate(pool, add("warm", "ns", "warm")));
    long before = a.etcd().tally().requests();
    IpAddress first = null;
    for (int i = 0; i < 5; i++) {
      IpAddress got = addressOf(a.allocate(pool, add("c" + i, "db", "web-0")));
      first = first == null ? got : first;
      assertEquals(first, got);
      a.release(pool, new Attachment("c" + i, "eth0"));
    }
    assertEquals(20, a.etcd().tally().requests() - before, "per ADD and per DEL: its pod's hold index, then the transaction");
  }

  /**
   * Every key under this test's prefix with its mod revision: unchanged when nothing was written
   * there. (Not etcd's revision: the member is shared with IT classes running at the same time.)
   */
  String keysUnderPrefix(GroupCommitStore s) throws Exception {
    StringBuilder b = new StringBuilder();
    for (io.etcd.jetcd.KeyValue kv : s.etcd().raw().getKVClient().get(EtcdClient.bytes(prefix),
        io.etcd.jetcd.options.GetOption.builder().isPrefix(true).withKeysOnly(true).build()).get().getKvs()) {
      b.append(kv.getKey().toString(java.nio.charset.StandardCharsets.UTF_8)).append('@').append(kv.getModRevision()).append('\n');
    }
    return b.toString();
  }

  /**
   * A pod's hold index outlives every hold it lists: after a hold made under 600 s and another
   * under a policy lowered to 1 s, the index's lease runs past the first hold (it ran on a 61 s
   * lease, and once it vanished the pod's ADD no longer found the first hold, which stayed
   * blocked for the hour).
   */
  @Test
  void release_holdSecondsLoweredWhileAHoldRuns_indexLeaseOutlivesTheLongerHold() throws Exception {
    AddressPolicy hour = sticky("db/*", 100);
    AddressPolicy second = new AddressPolicy(new StickyRule(List.of(PodPattern.parse("db/*")), Duration.ofSeconds(1), 100),
        Duration.ZERO);
    GroupCommitStore a = store("node-a");
    PodRef pod = new PodRef("db", "web-2");
    for (String ifname : List.of("eth0", "net1")) {
      allocated(a.allocate(pool("198.18.12.0/24", hour), new AllocationRequest(new Attachment("z1", ifname), List.of(), pod)));
    }
    a.release(pool("198.18.12.0/24", hour), new Attachment("z1", "eth0"));
    a.release(pool("198.18.12.0/24", second), new Attachment("z1", "net1"));
    EtcdClient client = new EtcdClient(EtcdStoreConfig.of(etcd.endpoints(), "probe").withPrefix(prefix), System::nanoTime);
    try {
      String key = new Keys(prefix).holds("claims", pod);
      io.etcd.jetcd.KeyValue kv = client.getAll(List.of(key), System.nanoTime() + 5_000_000_000L, "the index").get(0);
      assertTrue(kv != null && kv.getLease() != 0, "the index, on a lease: " + kv);
      long ttl = client.raw().getLeaseClient().timeToLive(kv.getLease(), io.etcd.jetcd.options.LeaseOption.DEFAULT)
          .get().getGrantedTTL();
      assertTrue(ttl >= HOLD.toSeconds(), "the index's lease of " + ttl + " s ends before the hold of " + HOLD);
    } finally {
      client.close();
    }
  }

  /** The block views count held and reserved addresses as not free, as the pool's usage does (they counted them free). */
  @Test
  void blockUsage_reservedAndHeldAddresses_notFreeAsInThePoolsUsage() {
    Pool pool = pool("198.18.13.0/28", sticky("db/*", 100));
    GroupCommitStore a = store("node-a");
    allocated(a.allocate(pool, add("h1", "db", "web-0")));
    a.release(pool, new Attachment("h1", "eth0")); // a hold
    allocated(a.allocate(pool, add("u1", "other", "x")));
    assertInstanceOf(ReserveOutcome.Reserved.class, a.reserve(pool, IpAddress.parse("198.18.13.9"), new PodRef("ns", "p"), false));
    long poolFree = a.usage(pool).free().get(0);
    io.jipam.core.store.capability.PoolBlocks mine = a.nodeBlockUsage(pool);
    long blocksFree = mine.blocks().stream().mapToLong(io.jipam.core.store.capability.BlockUsage::free).sum();
    assertEquals(poolFree, blocksFree, mine.blocks().toString());
    assertEquals(poolFree, a.blockUsage(pool).blocks().stream().mapToLong(io.jipam.core.store.capability.BlockUsage::free).sum());
  }
}
