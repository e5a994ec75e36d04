package io.jipam.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.api.v1.Allocated;
import io.jipam.api.v1.ClaimKind;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The workload-aware values on the wire: lossless both ways, and malformed fields refused naming them. */
class ClaimWireTest {
  static final IpAddress A = IpAddress.parse("198.18.0.7");
  static final Attachment ATT = new Attachment("c1", "eth0");
  static final Instant UNTIL = Instant.parse("2026-12-05T01:02:03.456Z");

  static Pool pool(AddressPolicy policy) {
    return new Pool("net", List.of(new RangeSet(List.of(IpRange.withDefaults(Cidr.parse("198.18.0.0/24"), null, null,
        null, List.of())))), AllocationOrder.LOWEST_FREE, policy);
  }

  static Stream<AddressPolicy> policies() {
    return Stream.of(AddressPolicy.NONE, new AddressPolicy(null, Duration.ofSeconds(30)),
        new AddressPolicy(new StickyRule(List.of(PodPattern.parse("db/*"), PodPattern.parse("*/web-?")),
            Duration.ofSeconds(900), 40), Duration.ZERO),
        new AddressPolicy(new StickyRule(List.of(PodPattern.parse("a/b")), StickyRule.MAX_HOLD, 100),
            AddressPolicy.MAX_REUSE_DELAY));
  }

  @ParameterizedTest
  @MethodSource("policies")
  void pool_withPolicy_roundTrips(AddressPolicy policy) {
    Pool pool = pool(policy);
    io.jipam.api.v1.Pool message = WireMapping.pool(pool);
    assertEquals(!policy.isNone(), message.hasPolicy());
    assertEquals(pool, WireMapping.pool(message));
  }

  @Test
  void pool_badPolicyOnTheWire_invalidConfigNamingPool() {
    io.jipam.api.v1.Pool message = WireMapping.pool(pool(AddressPolicy.NONE)).toBuilder()
        .setPolicy(io.jipam.api.v1.AddressPolicy.newBuilder().setSticky(io.jipam.api.v1.StickyRule.newBuilder()
            .addPods("DB/*").setHoldSeconds(10).setMaxHeldPercent(10))).build();
    IpamException e = assertThrows(IpamException.class, () -> WireMapping.pool(message));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertEquals("pool net policy: pattern \"DB/*\": namespace \"DB\" may hold only lowercase letters, digits, '-',"
        + " '.', '*' and '?'", e.getMessage());
  }

  /**
   * A policy's pod patterns are bounded on the wire as in a network config: 500,000 of them in
   * one Allocate (3.5 MB, under the 4 MiB message bound), kept with the pool's definition, ran a
   * central jipamd out of memory in three calls. 256 are taken; 257 are refused before any is parsed.
   */
  @Test
  void pool_policyWithMorePodPatternsThanTheBound_invalidConfigCountingThem() {
    for (int n : new int[] {StickyRule.MAX_PODS, StickyRule.MAX_PODS + 1, 500_000}) {
      io.jipam.api.v1.StickyRule.Builder sticky = io.jipam.api.v1.StickyRule.newBuilder().setHoldSeconds(10)
          .setMaxHeldPercent(10);
      for (int i = 0; i < n; i++) {
        sticky.addPods(i < 2 ? "a/b" : "x");
      }
      io.jipam.api.v1.Pool message = WireMapping.pool(pool(AddressPolicy.NONE)).toBuilder()
          .setPolicy(io.jipam.api.v1.AddressPolicy.newBuilder().setSticky(sticky)).build();
      if (n == StickyRule.MAX_PODS) {
        String parsed = assertThrows(IpamException.class, () -> WireMapping.pool(message)).getMessage();
        assertTrue(parsed.startsWith("pool net policy: pod pattern \"x\""), "within the bound, the patterns are parsed: " + parsed);
        continue;
      }
      IpamException e = assertThrows(IpamException.class, () -> WireMapping.pool(message));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertEquals("pool net policy: sticky.pods has " + n + " patterns; jipam allows at most 256", e.getMessage());
    }
    List<PodPattern> many = java.util.Collections.nCopies(StickyRule.MAX_PODS + 1, PodPattern.parse("db/*"));
    assertEquals("sticky.pods has 257 patterns; jipam allows at most 256", assertThrows(IpamException.class,
        () -> new StickyRule(many, Duration.ofSeconds(10), 10)).getMessage(), "every other way in: the rule's own bound");
    assertEquals(StickyRule.MAX_PODS, new StickyRule(many.subList(0, StickyRule.MAX_PODS), Duration.ofSeconds(10), 10)
        .pods().size());
  }

  static Stream<Claim> claims() {
    return Stream.of(Claim.hold(A, new PodRef("db", "db-0"), UNTIL, ATT),
        Claim.reservation(A, new PodRef("db", "db-0")), Claim.reservation(A, new PodRef("db", "")),
        Claim.cooling(A, PodRef.UNKNOWN, UNTIL, ATT));
  }

  @ParameterizedTest
  @MethodSource("claims")
  void claim_roundTrips(Claim claim) {
    assertEquals(claim, ClaimWire.claim(ClaimWire.claim(claim)));
  }

  @Test
  void claim_malformedOnTheWire_invalidConfigNamingIt() {
    io.jipam.api.v1.Claim good = ClaimWire.claim(Claim.hold(A, new PodRef("db", "db-0"), UNTIL, ATT));
    assertEquals("claim of 198.18.0.7 has no known kind (0)", assertThrows(IpamException.class,
        () -> ClaimWire.claim(good.toBuilder().setKind(ClaimKind.CLAIM_KIND_UNSPECIFIED).build())).getMessage());
    assertEquals("claim of 198.18.0.7: until \"soon\" is not an RFC 3339 time", assertThrows(IpamException.class,
        () -> ClaimWire.claim(good.toBuilder().setUntil("soon").build())).getMessage());
    IpamException noPod = assertThrows(IpamException.class,
        () -> ClaimWire.claim(good.toBuilder().clearPod().build()));
    assertEquals(ErrorCode.INVALID_CONFIG, noPod.code(), noPod.getMessage());
  }

  @Test
  void reserveOutcome_eachKind_roundTrips() {
    for (ReserveOutcome o : List.of(new ReserveOutcome.Reserved(Claim.reservation(A, new PodRef("ns", ""))),
        new ReserveOutcome.InUse(A, "c1/eth0 (pod db/db-0)"), new ReserveOutcome.InUse(A, "reserved for pod db/db-1"
            + " in pool net+old of network net, whose pools share its addresses", "net+old"),
        new ReserveOutcome.Unavailable(A, "it is the gateway"))) {
      assertEquals(o, ClaimWire.outcome(ClaimWire.outcome(o)));
    }
  }

  /** An InUse answer's other pool: a pool name, else INVALID_CONFIG with the value escaped. */
  @Test
  void inUseOutcome_poolNotAPoolName_refusedEscaped() {
    for (String bad : List.of("net/../x", "a\u001b[2J", "-net", "net+a+b")) {
      io.jipam.api.v1.ReserveResponse wire = io.jipam.api.v1.ReserveResponse.newBuilder().setInUse(
          io.jipam.api.v1.InUse.newBuilder().setAddress(A.toString()).setHolder("allocated").setPool(bad)).build();
      IpamException e = assertThrows(IpamException.class, () -> ClaimWire.outcome(wire), bad);
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().startsWith("in_use address's pool \"") && !e.getMessage().contains("\u001b"),
          e.getMessage());
    }
  }

  @Test
  void reservedFor_needsANamespaceAndKubernetesNames() {
    assertEquals(new PodRef("db", ""), ClaimWire.reservedFor(WireMapping.pod(new PodRef("db", ""))));
    assertEquals("reserve needs a namespace (for a pod: its namespace and name)", assertThrows(IpamException.class,
        () -> ClaimWire.reservedFor(WireMapping.pod(new PodRef("", "x")))).getMessage());
    assertEquals(ErrorCode.INVALID_CONFIG, assertThrows(IpamException.class,
        () -> ClaimWire.reservedFor(WireMapping.pod(new PodRef("Bad_NS", "")))).code());
  }

  @Test
  void allocated_origins_roundTripAndDefaultForAnOlderServer() {
    Allocation a = new Allocation(A, 0, ATT, new PodRef("db", "db-0"));
    for (AllocationOrigin origin : AllocationOrigin.values()) {
      AllocationOutcome out = new AllocationOutcome.Allocated(List.of(a), origin == AllocationOrigin.EXISTING,
          List.of(origin));
      assertEquals(out, WireMapping.outcome(WireMapping.outcome(out)));
    }
    Allocated old = Allocated.newBuilder().addAllocations(WireMapping.allocation(a)).build();
    assertEquals(List.of(AllocationOrigin.FREE), ClaimWire.origins(old));
    assertEquals(List.of(AllocationOrigin.EXISTING), ClaimWire.origins(old.toBuilder().setExisting(true).build()));
    assertFalse(ClaimWire.origins(old).isEmpty());
  }
}
