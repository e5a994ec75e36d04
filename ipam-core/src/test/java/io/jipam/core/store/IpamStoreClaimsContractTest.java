package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.KeptPools;
import io.jipam.core.store.capability.RetireOutcome;
import io.jipam.core.store.capability.RetirePools;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.testing.TestClock;
import io.jipam.core.testing.TestPools;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The claims contract ({@link AddressPolicy}'s rules and the {@link Claims} ability): sticky
 * addresses, reservations and the reuse cool-down, run against every store beside {@link
 * IpamStoreContractTest}. A store module extends this class and opens its store on {@link #clock},
 * which the tests move by hand (no sleeps).
 *
 * <p>Pools are tight on purpose: {@code /29} gives five addresses (.2 to .6), {@code /30} one.
 */
public abstract class IpamStoreClaimsContractTest {
  /** The clock every store of a test runs its holds and cool-downs on. */
  protected final TestClock clock = new TestClock();
  protected IpamStore store;
  protected Claims claims;

  /** A fresh, empty store on {@code clock}. Called once per test. */
  protected abstract IpamStore openStore(Clock clock) throws Exception;

  @BeforeEach
  void openClaimsStore() throws Exception {
    store = openStore(clock);
    claims = store.capability(Claims.class).orElseThrow(() -> new AssertionError(store + " offers no Claims"));
  }

  @AfterEach
  void closeClaimsStore() {
    if (store != null) {
      store.close();
    }
  }

  // ---------------------------------------------------------------- helpers

  protected static final PodRef DB0 = new PodRef("db", "web-0");
  protected static final PodRef DB1 = new PodRef("db", "web-1");
  protected static final PodRef OTHER = new PodRef("other", "app-0");

  /** A /29 (five addresses) in the order, with the policy. */
  protected static Pool pool(String name, AllocationOrder order, AddressPolicy policy) {
    return TestPools.pool(name, order, "198.18.0.0/29").withPolicy(policy);
  }

  protected static AddressPolicy sticky(int maxHeldPercent, long reuseDelaySeconds) {
    return new AddressPolicy(new StickyRule(List.of(PodPattern.parse("db/*")), Duration.ofSeconds(900),
        maxHeldPercent), Duration.ofSeconds(reuseDelaySeconds));
  }

  protected static AddressPolicy delay(long seconds) {
    return new AddressPolicy(null, Duration.ofSeconds(seconds));
  }

  protected static IpAddress ip(String text) {
    return IpAddress.parse(text);
  }

  protected static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }

  protected AllocationOutcome.Allocated add(Pool pool, String id, PodRef pod, IpAddress... requested) {
    AllocationOutcome out = store.allocate(pool, new AllocationRequest(att(id), List.of(requested), pod));
    return assertInstanceOf(AllocationOutcome.Allocated.class, out, () -> id + " " + pod + ": " + out);
  }

  protected IpAddress addOne(Pool pool, String id, PodRef pod) {
    return add(pool, id, pod).allocations().get(0).address();
  }

  protected void del(Pool pool, String id) {
    store.release(pool, att(id));
  }

  protected Claim claimOf(Pool pool, IpAddress address) {
    for (Claim c : claims.claims(pool)) {
      if (c.address().equals(address)) {
        return c;
      }
    }
    return null;
  }

  /** Fills every unclaimed free address with attachments of OTHER's namespace; returns them. */
  protected List<IpAddress> fill(Pool pool, String prefix) {
    List<IpAddress> got = new ArrayList<>();
    for (int i = 0; ; i++) {
      AllocationOutcome out = store.allocate(pool, new AllocationRequest(att(prefix + i), List.of(),
          new PodRef("other", prefix + i)));
      if (out instanceof AllocationOutcome.Exhausted) {
        return got;
      }
      AllocationOutcome.Allocated a = assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString);
      assertEquals(AllocationOrigin.FREE, a.origins().get(0), "filling " + prefix + i);
      got.add(a.allocations().get(0).address());
    }
  }

  // ---------------------------------------------------------------- sticky

  @Test
  void allocate_stickyPodAfterDel_getsTheSameAddressBack() {
    Pool pool = pool("sticky", AllocationOrder.ROUND_ROBIN, sticky(100, 0));
    IpAddress first = addOne(pool, "c1", DB0);
    addOne(pool, "c2", DB1);
    del(pool, "c1");
    Claim hold = claimOf(pool, first);
    assertEquals(Claim.Kind.HOLD, hold.kind(), String.valueOf(hold));
    assertEquals(DB0, hold.pod());
    assertEquals(clock.instant().plusSeconds(900), hold.until());
    assertEquals(att("c1"), hold.releasedBy());
    clock.advanceSeconds(899);
    AllocationOutcome.Allocated again = add(pool, "c1-new", DB0);
    assertEquals(first, again.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.STICKY), again.origins());
    assertEquals(null, claimOf(pool, first), "the hold ends when the pod takes it");
    assertEquals(List.of(AllocationOrigin.EXISTING), add(pool, "c1-new", DB0).origins());
  }

  /** A sticky pod with two interfaces on the network gets each one's address back on it, whichever ADD comes first. */
  @Test
  void allocate_stickyPodWithTwoInterfaces_eachInterfaceGetsItsOwnAddressBack() {
    Pool pool = pool("twoif", AllocationOrder.ROUND_ROBIN, sticky(100, 0));
    Map<String, IpAddress> first = new HashMap<>();
    for (String ifname : List.of("eth0", "net1")) {
      AllocationOutcome out = store.allocate(pool, new AllocationRequest(new Attachment("p1", ifname), List.of(), DB0));
      first.put(ifname, assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString).allocations().get(0).address());
    }
    assertNotEquals(first.get("eth0"), first.get("net1"));
    store.release(pool, new Attachment("p1", "eth0"));
    store.release(pool, new Attachment("p1", "net1"));
    for (String ifname : List.of("net1", "eth0")) { // the other order
      AllocationOutcome out = store.allocate(pool, new AllocationRequest(new Attachment("p2", ifname), List.of(), DB0));
      AllocationOutcome.Allocated back = assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString);
      assertEquals(first.get(ifname), back.allocations().get(0).address(), ifname);
      assertEquals(List.of(AllocationOrigin.STICKY), back.origins(), ifname);
    }
  }

  @Test
  void allocate_otherPods_neverGetAHeldAddress() {
    Pool pool = pool("held", AllocationOrder.LOWEST_FREE, sticky(100, 0));
    IpAddress held = addOne(pool, "c1", DB0);
    del(pool, "c1");
    List<IpAddress> others = fill(pool, "o");
    assertEquals(4, others.size(), "the other pods get every address but the held one: " + others);
    assertTrue(!others.contains(held));
    AllocationOutcome asked = store.allocate(pool, new AllocationRequest(att("x"), List.of(held), OTHER));
    assertInstanceOf(AllocationOutcome.Unavailable.class, asked, asked::toString);
    assertEquals(held, addOne(pool, "c1-new", DB0));
  }

  @Test
  void allocate_holdExpired_addressIsFreeForAnyone() {
    Pool pool = pool("expiry", AllocationOrder.LOWEST_FREE, sticky(100, 0));
    IpAddress held = addOne(pool, "c1", DB0);
    del(pool, "c1");
    clock.advanceSeconds(900);
    assertEquals(null, claimOf(pool, held), "a claim past its expiry is none");
    AllocationOutcome.Allocated other = add(pool, "o1", OTHER);
    assertEquals(held, other.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.FREE), other.origins());
  }

  /**
   * A hold or cool-down another pool of the network keeps ends at its time for this pool too: past
   * it, the address goes to an ADD of a renamed pool though the old pool, with no call since, still
   * stores the claim (as the etcd store's blocks do and the memory and file stores once did not).
   */
  @Test
  void allocate_claimExpiredInAnotherPoolOfTheNetwork_addressFreeWithoutACallThere() {
    for (String kind : List.of("hold", "cool-down")) {
      Pool old = pool("exp" + kind.length() + "+old", AllocationOrder.LOWEST_FREE,
          kind.equals("hold") ? sticky(100, 0) : delay(600));
      Pool renamed = pool(Pool.networkOf(old.name()) + "+new", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
      IpAddress held = addOne(old, "c1-" + kind, DB0);
      del(old, "c1-" + kind);
      AllocationOutcome before = store.allocate(renamed, new AllocationRequest(att("asks-" + kind), List.of(held), OTHER));
      assertInstanceOf(AllocationOutcome.Unavailable.class, before, kind + ": " + before);
      clock.advanceSeconds(900);
      AllocationOutcome after = store.allocate(renamed, new AllocationRequest(att("asks-" + kind), List.of(held), OTHER));
      assertEquals(held, assertInstanceOf(AllocationOutcome.Allocated.class, after, kind + ": " + after)
          .allocations().get(0).address(), kind);
    }
  }

  @Test
  void release_holdBoundReached_laterReleasesAreRefused() {
    // five addresses, 40 %: two holds at most
    Pool pool = pool("bound", AllocationOrder.LOWEST_FREE, sticky(40, 0));
    List<PodRef> pods = List.of(new PodRef("db", "p0"), new PodRef("db", "p1"), new PodRef("db", "p2"));
    List<IpAddress> addresses = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      addresses.add(addOne(pool, "c" + i, pods.get(i)));
    }
    for (int i = 0; i < 3; i++) {
      del(pool, "c" + i);
    }
    assertEquals(Claim.Kind.HOLD, claimOf(pool, addresses.get(0)).kind());
    assertEquals(Claim.Kind.HOLD, claimOf(pool, addresses.get(1)).kind());
    assertEquals(null, claimOf(pool, addresses.get(2)), "the third release is beyond the bound: no hold");
    assertEquals(addresses.get(2), addOne(pool, "o1", OTHER));
  }

  @Test
  void retainOnly_gcOfStickyPod_holdsAndNeverEndsClaims() {
    Pool pool = pool("gc", AllocationOrder.LOWEST_FREE, sticky(100, 0));
    IpAddress a = addOne(pool, "c1", DB0);
    IpAddress reserved = ip("198.18.0.6");
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, reserved, DB1, false));
    store.retainOnly(pool, Set.of());
    assertEquals(Claim.Kind.HOLD, claimOf(pool, a).kind(), "GC releases as DEL does");
    store.retainOnly(pool, Set.of());
    assertEquals(2, claims.claims(pool).size(), "GC never ends a claim: " + claims.claims(pool));
  }

  // ---------------------------------------------------------------- reservations

  /** Who a reservation is for, who gets it, and who does not. */
  record ReservationCase(String name, PodRef reservedFor, PodRef taker, PodRef stranger) {}

  static final List<ReservationCase> RESERVATIONS = List.of(
      new ReservationCase("by pod", DB0, DB0, DB1),
      new ReservationCase("by namespace", new PodRef("db", ""), DB1, OTHER));

  @Test
  void allocate_reservedAddress_onlyTheReservingPodOrNamespaceGetsIt() {
    for (ReservationCase c : RESERVATIONS) {
      Pool pool = pool("res" + c.name().length(), AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
      IpAddress reserved = ip("198.18.0.5");
      ReserveOutcome r = claims.reserve(pool, reserved, c.reservedFor(), false);
      assertEquals(Claim.reservation(reserved, c.reservedFor()),
          assertInstanceOf(ReserveOutcome.Reserved.class, r, c.name()).reservation());
      AllocationOutcome asked = store.allocate(pool, new AllocationRequest(att("s"), List.of(reserved), c.stranger()));
      assertInstanceOf(AllocationOutcome.Unavailable.class, asked, c.name() + ": " + asked);
      AllocationOutcome.Allocated got = add(pool, "t", c.taker());
      assertEquals(reserved, got.allocations().get(0).address(), c.name() + ": reserved first");
      assertEquals(List.of(AllocationOrigin.RESERVED), got.origins(), c.name());
      del(pool, "t");
      assertEquals(Claim.Kind.RESERVATION, claimOf(pool, reserved).kind(), c.name() + ": DEL keeps a reservation");
      List<IpAddress> others = fill(pool, "s" + c.name().length());
      assertTrue(!others.contains(reserved), c.name() + ": " + others);
      assertEquals(4, others.size(), c.name());
    }
  }

  /**
   * A range set exhausted while some of its addresses are held or reserved for others says how
   * many: a hold and an unallocated reservation count; a reservation its pod took (allocated) does
   * not, nor does anything once every claim has expired.
   */
  @Test
  void allocate_exhaustedWithHeldAndReservedAddresses_countsThemClaimed() {
    Pool pool = pool("claimed", AllocationOrder.LOWEST_FREE, sticky(100, 0));
    IpAddress held = addOne(pool, "c1", DB0);
    del(pool, "c1");
    PodRef db2 = new PodRef("db", "web-2");
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, ip("198.18.0.5"), DB1, false));
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, ip("198.18.0.6"), db2, false));
    assertEquals(ip("198.18.0.6"), addOne(pool, "c2", db2));
    List<IpAddress> others = fill(pool, "o");
    assertEquals(2, others.size(), "five addresses: one held, two reserved: " + others);
    assertTrue(!others.contains(held));
    AllocationOutcome refused = store.allocate(pool, new AllocationRequest(att("x"), List.of(), OTHER));
    assertEquals(new AllocationOutcome.Exhausted(0, 2), refused, "the hold and the reservation its pod has not taken");
    clock.advanceSeconds(900); // the hold expires: its address goes to the next ADD
    assertEquals(held, addOne(pool, "x", OTHER));
    assertEquals(new AllocationOutcome.Exhausted(0, 1),
        store.allocate(pool, new AllocationRequest(att("y"), List.of(), OTHER)), "the reservation is left");
  }

  @Test
  void reserve_addressInUse_isRefusedNamingTheHolderAndWritesNothing() {
    Pool pool = pool("inuse", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
    IpAddress a = addOne(pool, "holder1", OTHER);
    ReserveOutcome r = claims.reserve(pool, a, DB0, false);
    ReserveOutcome.InUse inUse = assertInstanceOf(ReserveOutcome.InUse.class, r, r::toString);
    assertTrue(inUse.holder().contains("holder1") && inUse.holder().contains("other/app-0"), inUse.holder());
    assertEquals(List.of(), claims.claims(pool), "nothing written");
    assertEquals(List.of(att("holder1")), store.list(pool).stream().map(Allocation::attachment).toList());
    assertInstanceOf(ReserveOutcome.Unavailable.class, claims.reserve(pool, ip("198.18.0.1"), DB0, false), "gateway");
    assertInstanceOf(ReserveOutcome.Unavailable.class, claims.reserve(pool, ip("198.18.1.9"), DB0, false), "outside");
    IpAddress free = ip("198.18.0.4");
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, free, DB0, false));
    ReserveOutcome twice = claims.reserve(pool, free, DB0, false);
    assertInstanceOf(ReserveOutcome.Reserved.class, twice, "idempotent");
    ReserveOutcome another = claims.reserve(pool, free, DB1, false);
    assertTrue(assertInstanceOf(ReserveOutcome.InUse.class, another).holder().contains("db/web-0"), another.toString());
    assertEquals(1, claims.claims(pool).size());
  }

  // ---------------------------------------------------------------- reservations in a network's pools

  /**
   * What another pool of the network has on the address a reservation for {@link #DB0} asks for,
   * and what the reservation answers without and with {@code whenFree}: {@code inUse} is the text
   * the holder names (null: {@link ReserveOutcome.Reserved}), {@code inUseWhenFree} whether it is
   * refused with {@code whenFree} too.
   */
  record OtherPoolCase(String name, AddressPolicy policy, String inUse, boolean inUseWhenFree) {}

  static final List<OtherPoolCase> OTHER_POOL_CASES = List.of(
      new OtherPoolCase("free", AddressPolicy.NONE, null, false),
      new OtherPoolCase("allocated", AddressPolicy.NONE, "allocated to q1/eth0 of pod other/app-0", false),
      new OtherPoolCase("allocated to the pod", AddressPolicy.NONE, null, false),
      new OtherPoolCase("held", sticky(100, 0), "held for pod db/web-1 until", false),
      new OtherPoolCase("cooling", delay(600), null, false),
      new OtherPoolCase("reserved for a pod", AddressPolicy.NONE, "reserved for pod db/web-1", true),
      new OtherPoolCase("reserved for a namespace", AddressPolicy.NONE, "reserved for namespace other", true),
      new OtherPoolCase("reserved for the pod", AddressPolicy.NONE, "reserved for pod db/web-0", true));

  /** Gives {@code other} what the case says it has on {@code a}. */
  private void makeOtherPoolCase(OtherPoolCase c, Pool other, IpAddress a) {
    switch (c.name()) {
      case "free" -> { }
      case "allocated" -> add(other, "q1", OTHER, a);
      case "allocated to the pod" -> add(other, "q1", DB0, a);
      case "held" -> {
        add(other, "q1", DB1, a);
        del(other, "q1");
      }
      case "cooling" -> {
        add(other, "q1", OTHER, a);
        del(other, "q1");
      }
      case "reserved for a pod" -> claims.reserve(other, a, DB1, false);
      case "reserved for a namespace" -> claims.reserve(other, a, new PodRef("other", ""), false);
      case "reserved for the pod" -> claims.reserve(other, a, DB0, false);
      default -> throw new AssertionError(c.name());
    }
  }

  /**
   * A network's pools share its addresses: a reservation in one of them (the network's own pool or
   * a sub-pool) counts what another, whose ranges overlap its own (ranges moved between the
   * network's pools), has on the address. Refused: InUse naming the holder and that pool, nothing
   * written in either pool. A reservation elsewhere is refused even with {@code whenFree} (one
   * address, one reservation per network); an allocation or a hold there is not, and the address
   * then goes to the reserved pod in this pool only once the other pool has released it (its range
   * covers only part of this one's, so the pod's ADDs meanwhile take free addresses outside it).
   */
  @Test
  void reserve_addressOfAnotherPoolOfTheNetwork_tableOfWhatThatPoolHas() {
    IpAddress a = ip("198.18.0.12"); // in both pools' ranges: .2 to .14 here, .10 to .14 there
    int n = 0;
    for (OtherPoolCase c : OTHER_POOL_CASES) {
      for (boolean whenFree : List.of(false, true)) {
        for (boolean inSubPool : List.of(true, false)) {
          String network = "rn" + n++;
          String sub = network + Pool.SUB_POOL_SEPARATOR + "old";
          Pool here = TestPools.pool(inSubPool ? sub : network, AllocationOrder.LOWEST_FREE, "198.18.0.0/28");
          Pool other = TestPools.pool(inSubPool ? network : sub, AllocationOrder.LOWEST_FREE, "198.18.0.8/29")
              .withPolicy(c.policy());
          String what = c.name() + (whenFree ? ", when free" : "") + ", reserved in " + here.name();
          makeOtherPoolCase(c, other, a);
          List<Claim> otherClaims = claims.claims(other);
          List<Allocation> otherAllocations = store.list(other);

          ReserveOutcome r = claims.reserve(here, a, DB0, whenFree);

          assertEquals(otherClaims, claims.claims(other), what + ": the other pool's claims unchanged");
          assertEquals(otherAllocations, store.list(other), what + ": the other pool's allocations unchanged");
          if (c.inUse() != null && (!whenFree || c.inUseWhenFree())) {
            ReserveOutcome.InUse inUse = assertInstanceOf(ReserveOutcome.InUse.class, r, () -> what + ": " + r);
            assertEquals(a, inUse.address(), what);
            assertEquals(other.name(), inUse.pool(), what + ": names the other pool");
            assertTrue(inUse.holder().startsWith(c.inUse()) && inUse.holder().contains(" in pool " + other.name()
                + " of network " + network), what + ": " + inUse.holder());
            assertEquals(List.of(), claims.claims(here), what + ": nothing written");
            assertEquals(List.of(), store.list(here), what);
            continue;
          }
          assertEquals(Claim.reservation(a, DB0),
              assertInstanceOf(ReserveOutcome.Reserved.class, r, () -> what + ": " + r).reservation(), what);
          assertEquals(List.of(Claim.reservation(a, DB0)), claims.claims(here), what);
          if (c.name().equals("allocated")) {
            // the other pool keeps it: the reserved pod gets another address here until it is released there
            AllocationOutcome asked = store.allocate(here, new AllocationRequest(att("d0"), List.of(a), DB0));
            assertEquals(other.name(), assertInstanceOf(AllocationOutcome.Taken.class, asked, asked::toString).pool(),
                what);
            assertNotEquals(a, addOne(here, "d0", DB0), what + ": not handed out while the other pool holds it");
            del(here, "d0");
            del(other, "q1");
            AllocationOutcome.Allocated got = add(here, "d1", DB0);
            assertEquals(List.of(a), got.allocations().stream().map(Allocation::address).toList(), what);
            assertEquals(List.of(AllocationOrigin.RESERVED), got.origins(), what);
          }
        }
      }
    }
  }

  /**
   * A reservation and, at once, an ADD or a reservation for another pod of the same address in
   * another pool of the network (the network's own pool or another sub-pool): exactly one of them
   * succeeds, the other is refused.
   */
  @Test
  void reserve_racingAnAddOrReservationInAnotherPoolOfTheNetwork_exactlyOneSucceeds() throws Exception {
    IpAddress a = ip("198.18.0.4");
    for (int round = 0; round < 16; round++) {
      String network = "race" + round;
      Pool here = pool(network + Pool.SUB_POOL_SEPARATOR + "new", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
      Pool other = pool(round % 4 < 2 ? network : network + Pool.SUB_POOL_SEPARATOR + "old",
          AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
      boolean add = round % 2 == 0;
      Object[] got = new Object[2];
      io.jipam.core.testing.Concurrently.run(2, Duration.ofMinutes(1), t -> {
        if (t == 0) {
          got[0] = claims.reserve(here, a, DB0, false);
        } else {
          got[1] = add ? store.allocate(other, new AllocationRequest(att("q1"), List.of(a), OTHER))
              : claims.reserve(other, a, DB1, false);
        }
      });
      String what = "round " + round + " (" + other.name() + (add ? " ADD" : " reserve") + "): " + got[0] + ", "
          + got[1];
      boolean reserved = got[0] instanceof ReserveOutcome.Reserved;
      boolean otherWon = got[1] instanceof AllocationOutcome.Allocated || got[1] instanceof ReserveOutcome.Reserved;
      assertTrue(reserved != otherWon, what);
      if (!reserved) {
        assertEquals(other.name(), assertInstanceOf(ReserveOutcome.InUse.class, got[0], what).pool(), what);
        assertEquals(List.of(), claims.claims(here), what);
      }
    }
  }

  /**
   * Another network's pool with the same range is another address space: what it has on the
   * address counts for nothing.
   */
  @Test
  void reserve_addressAnotherNetworkHas_isReserved() {
    IpAddress a = ip("198.18.0.4");
    Pool here = pool("resnet+a", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
    List<Pool> elsewhere = List.of(pool("resnetx", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE),
        pool("resnety+b", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE));
    add(elsewhere.get(0), "x1", OTHER, a);
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(elsewhere.get(1), a, DB1, false));
    ReserveOutcome r = claims.reserve(here, a, DB0, false);
    assertEquals(Claim.reservation(a, DB0),
        assertInstanceOf(ReserveOutcome.Reserved.class, r, r::toString).reservation());
    assertEquals(a, addOne(here, "d0", DB0));
  }

  @Test
  void reserve_whenFree_appliesFromTheReleaseOn() {
    Pool pool = pool("whenfree", AllocationOrder.LOWEST_FREE, sticky(100, 60));
    IpAddress a = addOne(pool, "holder1", new PodRef("db", "old"));
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, a, DB0, true));
    assertEquals(List.of(a), store.find(pool, att("holder1")).stream().map(Allocation::address).toList(),
        "the holder keeps it");
    del(pool, "holder1");
    Claim c = claimOf(pool, a);
    assertEquals(Claim.Kind.RESERVATION, c.kind(), "no hold and no cool-down: " + c);
    assertTrue(!fill(pool, "o").contains(a));
    assertEquals(a, addOne(pool, "d0", DB0));
  }

  @Test
  void unreserve_freesAnUnallocatedAddressAndKeepsAnAllocation() {
    Pool pool = pool("unres", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
    IpAddress a = ip("198.18.0.3");
    IpAddress b = ip("198.18.0.4");
    claims.reserve(pool, a, DB0, false);
    claims.reserve(pool, b, DB1, false);
    assertEquals(b, addOne(pool, "d1", DB1));
    assertEquals(Optional.of(Claim.reservation(a, DB0)), claims.unreserve(pool, a));
    assertEquals(Optional.empty(), claims.unreserve(pool, a));
    assertEquals(Optional.of(Claim.reservation(b, DB1)), claims.unreserve(pool, b));
    assertEquals(List.of(b), store.find(pool, att("d1")).stream().map(Allocation::address).toList());
    assertEquals(a, add(pool, "o1", OTHER, a).allocations().get(0).address());
    del(pool, "d1");
    assertEquals(List.of(), claims.claims(pool));
  }

  @Test
  void endHold_endsTheHoldEarly() {
    Pool pool = pool("endhold", AllocationOrder.LOWEST_FREE, sticky(100, 0));
    IpAddress a = addOne(pool, "c1", DB0);
    del(pool, "c1");
    assertEquals(Optional.empty(), claims.unreserve(pool, a), "a hold is no reservation");
    Optional<Claim> ended = claims.endHold(pool, a);
    assertEquals(Claim.Kind.HOLD, ended.orElseThrow().kind());
    assertEquals(Optional.empty(), claims.endHold(pool, a));
    assertEquals(a, addOne(pool, "o1", OTHER));
  }

  // ---------------------------------------------------------------- cool-down

  @ParameterizedTest
  @EnumSource(AllocationOrder.class)
  void allocate_coolDownChurn_noAddressReusedWithinTheDelayWhileAnotherIsFree(AllocationOrder order) {
    long delay = 60;
    Pool pool = pool("cool-" + order.ordinal(), order, delay(delay));
    Random random = new Random(22);
    Map<IpAddress, Instant> releasedAt = new HashMap<>();
    Map<String, IpAddress> live = new HashMap<>();
    int cooled = 0;
    for (int step = 0; step < 300; step++) {
      clock.advanceSeconds(random.nextInt(25));
      Instant now = clock.instant();
      if (live.size() >= 3 || live.size() > 0 && random.nextBoolean()) {
        String id = new ArrayList<>(live.keySet()).get(random.nextInt(live.size()));
        del(pool, id);
        releasedAt.put(live.remove(id), now);
        continue;
      }
      Set<IpAddress> cooling = new HashSet<>();
      releasedAt.forEach((a, t) -> {
        if (t.plusSeconds(delay).isAfter(now) && !live.containsValue(a)) {
          cooling.add(a);
        }
      });
      long idle = 5 - live.size() - cooling.size();
      String id = "c" + step;
      AllocationOutcome.Allocated got = add(pool, id, new PodRef("ns", id));
      IpAddress a = got.allocations().get(0).address();
      if (idle > 0) {
        assertTrue(!cooling.contains(a), "step " + step + ": " + a + " cooling, " + idle + " idle");
        assertEquals(List.of(AllocationOrigin.FREE), got.origins());
      } else {
        IpAddress longest = cooling.stream().min((x, y) -> releasedAt.get(x).compareTo(releasedAt.get(y))).orElseThrow();
        assertEquals(longest, a, "step " + step + ": the longest-cooled address");
        assertEquals(List.of(AllocationOrigin.COOLED), got.origins());
        cooled++;
      }
      live.put(id, a);
      releasedAt.remove(a);
    }
    assertTrue(cooled > 0, "the churn never reached the last resort");
  }

  @Test
  void allocate_onlyCoolingLeft_handsOutTheLongestCooled() {
    Pool pool = TestPools.pool("onecool", AllocationOrder.ROUND_ROBIN, "198.18.0.0/30").withPolicy(delay(600));
    IpAddress only = addOne(pool, "c1", OTHER);
    del(pool, "c1");
    assertEquals(Claim.Kind.COOLING, claimOf(pool, only).kind());
    assertEquals(List.of(1L), store.usage(pool).free(), "a cooling address counts as free");
    AllocationOutcome.Allocated got = add(pool, "c2", DB0);
    assertEquals(only, got.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.COOLED), got.origins());
    assertInstanceOf(AllocationOutcome.Exhausted.class, store.allocate(pool, AllocationRequest.of(att("c3"))));
  }

  /**
   * A cooling address is kept from other attachments, not from the pod that released it: a pod
   * restarted with its static address ({@code ips}) gets it back (it was refused until the
   * cool-down ended, up to a day); another pod, or one the runtime did not name, is refused.
   */
  @Test
  void allocate_podRequestsTheAddressItReleasedWhileCooling_getsItOthersRefused() {
    Pool pool = pool("coolback", AllocationOrder.ROUND_ROBIN, delay(3600));
    IpAddress mine = add(pool, "c1", DB0).allocations().get(0).address();
    del(pool, "c1");
    assertEquals(Claim.Kind.COOLING, claimOf(pool, mine).kind());
    for (PodRef other : List.of(DB1, OTHER, PodRef.UNKNOWN)) {
      AllocationOutcome refused = store.allocate(pool, new AllocationRequest(att("x"), List.of(mine), other));
      assertInstanceOf(AllocationOutcome.Unavailable.class, refused, other + ": " + refused);
    }
    AllocationOutcome.Allocated back = add(pool, "c2", DB0, mine);
    assertEquals(mine, back.allocations().get(0).address());
    assertEquals(List.of(AllocationOrigin.REQUESTED), back.origins());
    assertNull(claimOf(pool, mine), "the cool-down ended with the allocation");
    del(pool, "c2");
    assertEquals(Claim.Kind.COOLING, claimOf(pool, mine).kind(), "released again: cooling again");
  }

  @Test
  void usage_countsCoolingAsFreeAndHeldOrReservedAsNot() {
    Pool pool = pool("usage", AllocationOrder.LOWEST_FREE, sticky(100, 60));
    addOne(pool, "c1", DB0); // held after DEL
    addOne(pool, "c2", OTHER); // cools after DEL
    addOne(pool, "c3", OTHER); // stays
    del(pool, "c1");
    del(pool, "c2");
    claims.reserve(pool, ip("198.18.0.6"), DB1, false);
    PoolUsage usage = store.usage(pool);
    assertEquals(List.of(1L), usage.allocated());
    assertEquals(List.of(2L), usage.free(), "5 - 1 allocated - 1 held - 1 reserved; the cooling one counts");
  }

  // ---------------------------------------------------------------- origins kept

  /** The origin {@code find} and {@code list} return for the attachment's one address. */
  private AllocationOrigin storedOrigin(Pool pool, String id, IpAddress address) {
    List<Allocation> found = store.find(pool, att(id));
    assertEquals(List.of(address), found.stream().map(Allocation::address).toList(), id);
    List<Allocation> listed = store.list(pool).stream().filter(a -> a.address().equals(address)).toList();
    assertEquals(found, listed, id + ": list agrees with find");
    return found.get(0).origin();
  }

  @Test
  void find_afterEachKindOfAdd_returnsTheOriginTheAddReported() {
    Pool pool = pool("origins", AllocationOrder.LOWEST_FREE, sticky(100, 0));
    assertInstanceOf(ReserveOutcome.Reserved.class, claims.reserve(pool, ip("198.18.0.6"), DB1, false));
    Map<String, AllocationOutcome.Allocated> adds = new java.util.LinkedHashMap<>();
    adds.put("free", add(pool, "free", OTHER));
    adds.put("requested", add(pool, "requested", OTHER, ip("198.18.0.5")));
    adds.put("reserved", add(pool, "reserved", DB1));
    add(pool, "old", DB0);
    del(pool, "old");
    adds.put("sticky", add(pool, "sticky", DB0));
    Map<String, AllocationOrigin> expected = Map.of("free", AllocationOrigin.FREE, "requested",
        AllocationOrigin.REQUESTED, "reserved", AllocationOrigin.RESERVED, "sticky", AllocationOrigin.STICKY);
    adds.forEach((id, got) -> {
      assertEquals(List.of(expected.get(id)), got.origins(), id);
      assertEquals(expected.get(id), got.allocations().get(0).origin(), id + ": the allocation ADD returned");
      assertEquals(expected.get(id), storedOrigin(pool, id, got.allocations().get(0).address()), id);
    });
    Pool cool = TestPools.pool("origincool", AllocationOrder.ROUND_ROBIN, "198.18.0.0/30").withPolicy(delay(600));
    addOne(cool, "gone", OTHER);
    del(cool, "gone");
    AllocationOutcome.Allocated cooled = add(cool, "cooled", OTHER);
    assertEquals(List.of(AllocationOrigin.COOLED), cooled.origins());
    assertEquals(AllocationOrigin.COOLED, storedOrigin(cool, "cooled", cooled.allocations().get(0).address()));
    List<Allocation> released = store.release(cool, att("cooled"));
    assertEquals(List.of(AllocationOrigin.COOLED), released.stream().map(Allocation::origin).toList(),
        "release returns what was stored");
  }

  @Test
  void allocate_repeatedAdd_keepsTheFirstAddsOrigin() {
    Pool pool = pool("originagain", AllocationOrder.ROUND_ROBIN, sticky(100, 0));
    IpAddress first = addOne(pool, "c1", DB0);
    del(pool, "c1");
    AllocationOutcome.Allocated sticky = add(pool, "c2", DB0);
    assertEquals(first, sticky.allocations().get(0).address());
    for (int i = 0; i < 2; i++) {
      AllocationOutcome.Allocated again = add(pool, "c2", DB0);
      assertTrue(again.existing());
      assertEquals(List.of(AllocationOrigin.EXISTING), again.origins(), "the repeated ADD reports EXISTING");
      assertEquals(sticky.allocations(), again.allocations(), "and returns the allocation as first recorded");
      assertEquals(AllocationOrigin.STICKY, storedOrigin(pool, "c2", first), "repeat " + i);
    }
    AllocationOutcome.Allocated requestedAgain = add(pool, "c2", DB0, first);
    assertEquals(AllocationOrigin.STICKY, requestedAgain.allocations().get(0).origin(),
        "asking again for the held address does not make it REQUESTED");
    assertEquals(AllocationOrigin.STICKY, storedOrigin(pool, "c2", first));
  }

  /**
   * Whether the store takes a {@linkplain AllocationRequest#copy copy} with its origins; a remote
   * store refuses it (jipamd's API carries no copied origins) and overrides this.
   */
  protected boolean takesCopies() {
    return true;
  }

  @Test
  void allocate_copyWithOrigins_recordsTheCopiedOriginAndReportsRequested() {
    Pool pool = TestPools.pool("copies", AllocationOrder.LOWEST_FREE, "198.18.0.0/28");
    Map<String, AllocationOrigin> cases = new java.util.LinkedHashMap<>();
    cases.put("free", AllocationOrigin.FREE);
    cases.put("requested", AllocationOrigin.REQUESTED);
    cases.put("reserved", AllocationOrigin.RESERVED);
    cases.put("sticky", AllocationOrigin.STICKY);
    cases.put("cooled", AllocationOrigin.COOLED);
    cases.put("none", null); // the source recorded none (host-local's files)
    int last = 2;
    for (Map.Entry<String, AllocationOrigin> c : cases.entrySet()) {
      String id = c.getKey();
      IpAddress address = ip("198.18.0." + last++);
      Map<IpAddress, AllocationOrigin> origins = new HashMap<>();
      origins.put(address, c.getValue());
      AllocationRequest copy = AllocationRequest.copy(att(id), origins, DB0);
      if (!takesCopies()) {
        IpamException e = org.junit.jupiter.api.Assertions.assertThrows(IpamException.class,
            () -> store.allocate(pool, copy), id);
        assertEquals(ErrorCode.UNSUPPORTED_FIELD, e.code(), e.getMessage());
        assertEquals(List.of(), store.find(pool, att(id)), id + ": nothing written");
        continue;
      }
      AllocationOutcome out = store.allocate(pool, copy);
      AllocationOutcome.Allocated got = assertInstanceOf(AllocationOutcome.Allocated.class, out, () -> id + ": " + out);
      assertEquals(List.of(address), got.allocations().stream().map(Allocation::address).toList(), id);
      assertEquals(List.of(AllocationOrigin.REQUESTED), got.origins(), id + ": the call reports why it got the address");
      assertEquals(c.getValue(), got.allocations().get(0).origin(), id + ": the allocation as recorded");
      assertEquals(c.getValue(), storedOrigin(pool, id, address), id);
      AllocationOutcome.Allocated again = assertInstanceOf(AllocationOutcome.Allocated.class,
          store.allocate(pool, copy), id);
      assertTrue(again.existing(), id + ": a second copy finds it held");
      assertEquals(c.getValue(), storedOrigin(pool, id, address), id + ": and leaves the record alone");
      assertEquals(java.util.Collections.singletonList(c.getValue()),
          store.release(pool, att(id)).stream().map(Allocation::origin).toList(),
          id + ": release returns what was stored");
    }
  }

  // ---------------------------------------------------------------- a tight pool with churn

  @Test
  void allocate_tightStickyPoolWithChurn_everyPodGetsAnAddressAndTheBoundHolds() {
    Pool pool = pool("tight", AllocationOrder.ROUND_ROBIN, new AddressPolicy(new StickyRule(
        List.of(PodPattern.parse("db/*")), Duration.ofSeconds(600), 40), Duration.ofSeconds(30)));
    Random random = new Random(2222);
    int pods = 5;
    String[] container = new String[pods];
    IpAddress[] heldFor = new IpAddress[pods];
    int sticky = 0;
    for (int step = 0; step < 400; step++) {
      clock.advanceSeconds(random.nextInt(120));
      int p = random.nextInt(pods);
      PodRef pod = new PodRef("db", "web-" + p);
      if (container[p] != null) {
        del(pool, container[p]);
        container[p] = null;
        continue;
      }
      Claim hold = null;
      for (Claim c : claims.claims(pool)) {
        if (c.kind() == Claim.Kind.HOLD && c.pod().equals(pod)) {
          hold = c;
        }
      }
      container[p] = "c" + step;
      AllocationOutcome.Allocated got = add(pool, container[p], pod);
      IpAddress a = got.allocations().get(0).address();
      if (hold != null) {
        assertEquals(hold.address(), a, "step " + step + ": " + pod + " gets its held address");
        assertEquals(List.of(AllocationOrigin.STICKY), got.origins());
        sticky++;
      }
      heldFor[p] = a;
      List<IpAddress> listed = store.list(pool).stream().map(Allocation::address).toList();
      assertEquals(listed.size(), new HashSet<>(listed).size(), "an address held twice: " + listed);
      long holds = claims.claims(pool).stream().filter(c -> c.kind() == Claim.Kind.HOLD).count();
      assertTrue(holds <= 2, "step " + step + ": " + holds + " holds beyond the bound of 2");
      for (Claim c : claims.claims(pool)) {
        if (c.kind() == Claim.Kind.HOLD && listed.contains(c.address())) {
          fail("step " + step + ": " + c + " on an allocated address");
        }
      }
    }
    assertTrue(sticky > 10, "only " + sticky + " sticky ADDs: the churn did not exercise holds");
    assertNotEquals(null, heldFor[0]);
  }

  // ---------------------------------------------------------------- retiring a pool

  /** What still holds a pool a retire is asked for. */
  enum Holding {
    ALLOCATION(1, 0), HOLD(0, 1), RESERVATION(0, 1), COOL_DOWN(0, 1);

    final int allocations;
    final int claims;

    Holding(int allocations, int claims) {
      this.allocations = allocations;
      this.claims = claims;
    }
  }

  protected RetirePools retirer() {
    return store.capability(RetirePools.class).orElseThrow(() -> new AssertionError(store + " offers no RetirePools"));
  }

  /** The names of the pools of {@code network} the store keeps besides its own pool. */
  protected List<String> kept(String network) {
    KeptPools kept = store.capability(KeptPools.class).orElseThrow(() -> new AssertionError(store + " offers no KeptPools"));
    Pool like = pool(network, AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
    return kept.keptPools(network, Set.of(network), like).stream().map(Pool::name).toList();
  }

  @Test
  void retire_emptiedPool_isRetiredNoLongerKeptAndThenNotFound() {
    Pool old = pool("ret+old", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
    addOne(old, "c1", OTHER);
    del(old, "c1");
    assertEquals(List.of("ret+old"), kept("ret"));
    assertEquals(new RetireOutcome.Retired("ret+old"), retirer().retire("ret+old"));
    assertEquals(List.of(), kept("ret"));
    assertEquals(List.of(), store.list(old));
    assertEquals(new RetireOutcome.NotFound("ret+old"), retirer().retire("ret+old"));
  }

  @ParameterizedTest
  @EnumSource(Holding.class)
  void retire_poolStillHolding_isInUseAndChangesNothing(Holding holding) {
    Pool old = pool("ret+old", AllocationOrder.LOWEST_FREE, switch (holding) {
      case HOLD -> sticky(100, 0);
      case COOL_DOWN -> delay(60);
      default -> AddressPolicy.NONE;
    });
    switch (holding) {
      case ALLOCATION -> addOne(old, "c1", OTHER);
      case HOLD, COOL_DOWN -> {
        addOne(old, "c1", DB0);
        del(old, "c1");
      }
      case RESERVATION -> assertInstanceOf(ReserveOutcome.Reserved.class,
          claims.reserve(old, ip("198.18.0.4"), DB0, false));
    }
    List<Allocation> listed = store.list(old);
    List<Claim> claimed = claims.claims(old);
    List<String> keptBefore = kept("ret");
    RetireOutcome out = retirer().retire("ret+old");
    assertEquals(new RetireOutcome.InUse("ret+old", holding.allocations, holding.claims), out, holding::toString);
    assertEquals(listed, store.list(old));
    assertEquals(claimed, claims.claims(old));
    assertEquals(keptBefore, kept("ret"));
  }

  @Test
  void retire_claimExpired_isRetired() {
    Pool old = pool("ret+old", AllocationOrder.LOWEST_FREE, delay(60));
    addOne(old, "c1", DB0);
    del(old, "c1");
    clock.advanceSeconds(60);
    assertEquals(new RetireOutcome.Retired("ret+old"), retirer().retire("ret+old"));
    assertEquals(List.of(), claims.claims(old));
    assertEquals(List.of(), kept("ret"));
  }

  @Test
  void retire_unknownPool_isNotFound() {
    assertEquals(new RetireOutcome.NotFound("ret+never"), retirer().retire("ret+never"));
  }

  @Test
  void retire_invalidName_isRefusedNamingIt() {
    String name = "ret\n+x";
    IpamException e = org.junit.jupiter.api.Assertions.assertThrows(IpamException.class, () -> retirer().retire(name));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("\"" + Printable.escape(name) + "\""), e.getMessage());
  }

  @Test
  void allocate_afterRetire_definesThePoolAgainAndAllocates() {
    Pool old = pool("ret+old", AllocationOrder.LOWEST_FREE, AddressPolicy.NONE);
    addOne(old, "c1", OTHER);
    del(old, "c1");
    assertEquals(new RetireOutcome.Retired("ret+old"), retirer().retire("ret+old"));
    IpAddress got = addOne(old, "c2", OTHER);
    assertEquals(List.of(got), store.list(old).stream().map(Allocation::address).toList());
    assertEquals(List.of(att("c2")), store.list(old).stream().map(Allocation::attachment).toList());
    assertEquals(List.of("ret+old"), kept("ret"));
    assertInstanceOf(RetireOutcome.InUse.class, retirer().retire("ret+old"));
  }
}
