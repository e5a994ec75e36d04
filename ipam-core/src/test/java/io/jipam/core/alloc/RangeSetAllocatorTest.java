package io.jipam.core.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.spi.PoolState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvFileSource;
import org.junit.jupiter.params.provider.CsvSource;

class RangeSetAllocatorTest {

  static IpAddress ip(String text) {
    return text == null || text.isEmpty() ? null : IpAddress.parse(text);
  }

  static IpRange range(String subnet, String start, String end, String gateway, String... exclude) {
    return IpRange.withDefaults(Cidr.parse(subnet), ip(start), ip(end), ip(gateway),
        Arrays.stream(exclude).map(Cidr::parse).toList());
  }

  static RangeSet set(IpRange... ranges) {
    return new RangeSet(List.of(ranges));
  }

  /** Allocates n addresses as PoolState does (next, mark, move the cursor). */
  static List<IpAddress> allocate(RangeSetAllocator allocator, AllocationOrder order, int n, IpAddress[] cursor) {
    List<IpAddress> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      IpAddress next = allocator.next(order, cursor[0]);
      if (next == null) {
        break;
      }
      assertTrue(allocator.mark(next), "mark " + next);
      cursor[0] = next;
      out.add(next);
    }
    return out;
  }

  // ================================================================ reference: host-local's RangeIter

  /**
   * The reference host-local's round-robin iterator (plugins/ipam/host-local/backend/allocator,
   * GetIter and RangeIter.Next) transcribed: start after lastReserved, walk every range of the set,
   * skip the gateway, stop on coming back to the first address visited.
   */
  static final class HostLocalIter {
    final List<IpRange> ranges;
    int rangeIdx;
    IpAddress cur;
    IpAddress startIp;

    HostLocalIter(RangeSet set, IpAddress lastReserved) {
      this.ranges = set.ranges();
      if (lastReserved != null && set.contains(lastReserved)) {
        rangeIdx = set.indexOf(lastReserved);
        cur = lastReserved;
      } else {
        rangeIdx = 0;
        startIp = ranges.get(0).rangeStart();
      }
    }

    IpAddress next() {
      IpRange r = ranges.get(rangeIdx);
      if (cur == null) {
        cur = r.rangeStart();
        startIp = cur;
        if (cur.equals(r.gateway())) {
          return next();
        }
        return cur;
      }
      if (cur.equals(r.rangeEnd())) {
        rangeIdx = (rangeIdx + 1) % ranges.size();
        r = ranges.get(rangeIdx);
        cur = r.rangeStart();
      } else {
        cur = cur.plus(1);
      }
      if (startIp == null) {
        startIp = cur;
      } else if (cur.equals(startIp)) {
        return null;
      }
      if (cur.equals(r.gateway())) {
        return next();
      }
      return cur;
    }
  }

  /** What host-local hands out, with jipam's reserved addresses counted as taken. */
  static IpAddress hostLocalNext(RangeSet set, IpAddress lastReserved, Set<IpAddress> held) {
    HostLocalIter iter = new HostLocalIter(set, lastReserved);
    for (IpAddress a = iter.next(); a != null; a = iter.next()) {
      IpRange r = set.ranges().get(set.indexOf(a));
      if (!held.contains(a) && !r.isReserved(a)) {
        return a;
      }
    }
    return null;
  }

  static IpAddress lowestFree(RangeSet set, Set<IpAddress> held) {
    for (IpRange r : set.ranges()) {
      for (long o = 0; o <= r.lastOffset(); o++) {
        IpAddress a = r.addressAt(o);
        if (!held.contains(a) && !r.isReserved(a)) {
          return a;
        }
      }
    }
    return null;
  }

  // ================================================================ round-robin examples

  /** Ranges .10-.12 and .20-.21 of 10.0.0.0/24 (gateway .1 lies outside both). */
  static final RangeSet TWO_RANGES = set(range("10.0.0.0/24", "10.0.0.10", "10.0.0.12", null),
      range("10.0.0.0/24", "10.0.0.20", "10.0.0.21", null));

  @ParameterizedTest(name = "cursor {0}, held [{1}] -> {2}")
  @CsvSource(delimiter = '|', nullValues = "none", textBlock = """
      none      |                       | 10.0.0.10
      10.0.0.10 |                       | 10.0.0.11
      10.0.0.11 |                       | 10.0.0.12
      10.0.0.12 |                       | 10.0.0.20
      10.0.0.20 |                       | 10.0.0.21
      10.0.0.21 |                       | 10.0.0.10
      10.0.0.15 |                       | 10.0.0.10
      10.0.0.9  |                       | 10.0.0.10
      10.0.0.1  |                       | 10.0.0.10
      10.0.1.11 |                       | 10.0.0.10
      fd00::11  |                       | 10.0.0.10
      10.0.0.10 | 10.0.0.11 10.0.0.12   | 10.0.0.20
      10.0.0.12 | 10.0.0.20 10.0.0.21   | 10.0.0.10
      10.0.0.21 | 10.0.0.10 10.0.0.11   | 10.0.0.12
      10.0.0.11 | 10.0.0.12 10.0.0.20 10.0.0.21 10.0.0.10 | 10.0.0.11
      10.0.0.11 | 10.0.0.12 10.0.0.20 10.0.0.21 | 10.0.0.10
      10.0.0.21 | 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.20 | 10.0.0.21
      10.0.0.20 | 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.20 10.0.0.21 | none
      none      | 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.20 10.0.0.21 | none
      """)
  void next_roundRobinTwoRanges_matchesHostLocal(String cursor, String held, String expected) {
    RangeSetAllocator allocator = new RangeSetAllocator(TWO_RANGES);
    Set<IpAddress> heldSet = new HashSet<>();
    if (held != null) {
      for (String h : held.trim().split(" +")) {
        assertTrue(allocator.mark(ip(h)));
        heldSet.add(ip(h));
      }
    }
    IpAddress next = allocator.next(AllocationOrder.ROUND_ROBIN, ip(cursor));
    assertEquals(ip(expected), next);
    assertEquals(hostLocalNext(TWO_RANGES, ip(cursor), heldSet), next, "the reference agrees");
  }

  @Test
  void next_roundRobinRepeatedAllocateRelease_cyclesThroughWholeSet() {
    RangeSetAllocator allocator = new RangeSetAllocator(TWO_RANGES);
    IpAddress cursor = null;
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < 11; i++) {
      IpAddress a = allocator.next(AllocationOrder.ROUND_ROBIN, cursor);
      assertTrue(allocator.mark(a));
      assertTrue(allocator.unmark(a)); // a crash-looping container releases at once
      cursor = a;
      seen.add(a.toString());
    }
    assertEquals(List.of("10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.20", "10.0.0.21",
        "10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.20", "10.0.0.21", "10.0.0.10"), seen);
  }

  @Test
  void next_lowestFree_ignoresCursor() {
    RangeSetAllocator allocator = new RangeSetAllocator(TWO_RANGES);
    assertEquals(ip("10.0.0.10"), allocator.next(AllocationOrder.LOWEST_FREE, ip("10.0.0.20")));
    allocator.mark(ip("10.0.0.10"));
    allocator.mark(ip("10.0.0.12"));
    assertEquals(ip("10.0.0.11"), allocator.next(AllocationOrder.LOWEST_FREE, ip("10.0.0.11")));
    allocator.mark(ip("10.0.0.11"));
    assertEquals(ip("10.0.0.20"), allocator.next(AllocationOrder.LOWEST_FREE, null));
  }

  @Test
  void next_gatewayInsideRange_skipped() {
    RangeSet s = set(range("10.0.0.0/29", null, null, "10.0.0.3"));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    IpAddress[] cursor = {null};
    List<IpAddress> got = allocate(allocator, AllocationOrder.ROUND_ROBIN, 10, cursor);
    assertEquals(List.of(ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.4"), ip("10.0.0.5"), ip("10.0.0.6")), got);
    assertEquals(5, allocator.capacity());
    assertEquals(5, allocator.allocated());
  }

  // ================================================================ exhaustion and reuse

  @Test
  void next_fillSlash24ToLastAddress_thenNullAndReleasedReused() {
    RangeSet s = set(range("10.0.0.0/24", null, null, null));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    assertEquals(253, allocator.capacity());
    IpAddress[] cursor = {null};
    List<IpAddress> got = allocate(allocator, AllocationOrder.ROUND_ROBIN, 1000, cursor);
    assertEquals(253, got.size());
    assertEquals(ip("10.0.0.2"), got.get(0));
    assertEquals(ip("10.0.0.254"), got.get(252));
    assertEquals(253, new HashSet<>(got).size());
    assertNull(allocator.next(AllocationOrder.ROUND_ROBIN, cursor[0]));
    assertNull(allocator.next(AllocationOrder.LOWEST_FREE, null));
    assertNull(allocator.next(AllocationOrder.ROUND_ROBIN, ip("10.0.0.100")));
    assertTrue(allocator.unmark(ip("10.0.0.100")));
    assertFalse(allocator.unmark(ip("10.0.0.100")));
    assertTrue(allocator.isFree(ip("10.0.0.100")));
    assertEquals(ip("10.0.0.100"), allocator.next(AllocationOrder.ROUND_ROBIN, cursor[0]));
    assertEquals(ip("10.0.0.100"), allocator.next(AllocationOrder.LOWEST_FREE, null));
    assertEquals(ip("10.0.0.100"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("10.0.0.100")));
    assertTrue(allocator.mark(ip("10.0.0.100")));
    assertFalse(allocator.mark(ip("10.0.0.100")), "second mark of one address");
    assertEquals(253, allocator.allocated());
  }

  @Test
  void mark_reservedOrOutside_refused() {
    RangeSet s = set(range("10.0.0.0/24", "10.0.0.1", "10.0.0.254", "10.0.0.7", "10.0.0.64/27"));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    for (String a : List.of("10.0.0.0", "10.0.0.255", "10.0.0.7", "10.0.0.64", "10.0.0.80", "10.0.0.95",
        "10.0.1.1", "fd00::1")) {
      assertFalse(allocator.mark(ip(a)), a);
      assertFalse(allocator.isFree(ip(a)), a);
      assertFalse(allocator.unmark(ip(a)), a);
    }
    assertEquals(0, allocator.allocated());
    assertEquals(254 - 1 - 32, allocator.capacity());
  }

  /**
   * Explicit bounds at the network address or the IPv4 broadcast hand them out, as the reference
   * host-local does (its sequences, run against {@code /usr/lib/cni/host-local} 1.1.1, are the
   * expected column): only the gateway and excluded prefixes are skipped. Columns: subnet,
   * rangeStart, rangeEnd, gateway (empty: defaults), the round-robin sequence from an empty set
   * until it is exhausted.
   */
  @ParameterizedTest(name = "{0} {1}-{2} gw {3}")
  @CsvFileSource(resources = "/io/jipam/core/host-local-explicit-bounds.csv", delimiter = '|')
  void next_explicitBoundsAtNetworkOrBroadcast_handedOutAsHostLocal(String subnet, String start,
      String end, String gateway, String sequence) {
    RangeSet s = set(range(subnet, start, end, gateway));
    List<IpAddress> want = Arrays.stream(sequence.split(" ")).map(RangeSetAllocatorTest::ip).toList();
    for (AllocationOrder order : AllocationOrder.values()) {
      RangeSetAllocator allocator = new RangeSetAllocator(s);
      assertEquals(want.size(), allocator.capacity(), order.toString());
      IpAddress[] cursor = {null};
      assertEquals(want, allocate(allocator, order, 100, cursor), order.toString());
      assertNull(allocator.next(order, cursor[0]), order + ": exhausted");
      assertEquals(hostLocalNext(s, null, Set.of()), want.get(0), "the reference model agrees");
      IpAddress edge = want.get(0);
      assertTrue(allocator.unmark(edge), edge + " released");
      assertTrue(allocator.isFree(edge), edge + " free again");
      assertEquals(edge, allocator.next(order, cursor[0]), edge + " handed out again");
    }
  }

  @Test
  void unmark_reservedAddressLoadedFromStorage_staysReserved() {
    // an allocation read back from storage on what is now the gateway: PoolState.load marks it
    // (refused) and a later release unmarks it; the gateway must stay out of circulation
    RangeSet s = set(range("10.0.0.0/29", null, null, null));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    assertFalse(allocator.mark(ip("10.0.0.1")));
    assertFalse(allocator.unmark(ip("10.0.0.1")));
    assertEquals(0, allocator.allocated());
    IpAddress[] cursor = {ip("10.0.0.6")};
    List<IpAddress> got = allocate(allocator, AllocationOrder.ROUND_ROBIN, 10, cursor);
    assertFalse(got.contains(ip("10.0.0.1")), got.toString());
    assertEquals(5, got.size());
  }

  @Test
  void next_reservedAddressesEverywhere_neverHandedOut() {
    RangeSet s = set(
        range("10.0.0.0/24", "10.0.0.0", "10.0.0.255", "10.0.0.100", "10.0.0.0/28", "10.0.0.128/30",
            "10.0.0.200/32", "10.0.0.250/31"),
        range("10.0.1.0/24", null, null, "10.0.1.254", "10.0.1.64/26"));
    for (AllocationOrder order : AllocationOrder.values()) {
      RangeSetAllocator allocator = new RangeSetAllocator(s);
      IpAddress[] cursor = {ip("10.0.0.180")};
      List<IpAddress> got = allocate(allocator, order, 10_000, cursor);
      assertEquals(allocator.capacity(), got.size());
      assertEquals(got.size(), new HashSet<>(got).size());
      long expected = 0;
      for (IpRange r : s.ranges()) {
        for (long o = 0; o <= r.lastOffset(); o++) {
          IpAddress a = r.addressAt(o);
          if (r.isReserved(a)) {
            assertFalse(got.contains(a), a + " was handed out");
          } else {
            expected++;
            assertTrue(got.contains(a), a + " never handed out");
          }
        }
      }
      assertEquals(expected, got.size());
      assertNull(allocator.next(order, cursor[0]));
    }
  }

  // ================================================================ IPv6

  @Test
  void next_v6Slash64_thousandsAllocatedInOrderWithFewNodes() {
    RangeSet s = set(range("fd00:1:2:3::/64", null, null, null));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    assertEquals(-2L, allocator.capacity(), "2^64 - 2: all but network and gateway");
    IpAddress[] cursor = {null};
    List<IpAddress> got = allocate(allocator, AllocationOrder.ROUND_ROBIN, 5_000, cursor);
    assertEquals(5_000, got.size());
    assertEquals(ip("fd00:1:2:3::2"), got.get(0));
    assertEquals(ip("fd00:1:2:3::1389"), got.get(4_999));
    assertEquals(5_000, allocator.allocated());
    // 2 bottoms (4,096 offsets each) and one inner node on each of the 9 levels above
    assertTrue(allocator.nodeCount() <= 12, "nodes " + allocator.nodeCount());
    // the cursor at the last address of the /64 wraps to the lowest free
    allocator.unmark(ip("fd00:1:2:3::100"));
    assertEquals(ip("fd00:1:2:3::100"),
        allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00:1:2:3:ffff:ffff:ffff:ffff")));
    assertTrue(allocator.mark(ip("fd00:1:2:3:ffff:ffff:ffff:ffff")));
    assertTrue(allocator.mark(ip("fd00:1:2:3:8000::")));
    assertEquals(ip("fd00:1:2:3:8000::1"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00:1:2:3:7fff:ffff:ffff:ffff")));
  }

  @Test
  void next_v6ScatteredAllocations_memoryStaysProportional() {
    RangeSet s = set(range("fd00::/64", null, null, null));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    Random random = new Random(3);
    int n = 2_000;
    for (int i = 0; i < n; i++) {
      allocator.mark(IpAddress.v6(0xfd00L << 48, random.nextLong() | 0x1000));
    }
    assertEquals(n, allocator.allocated());
    // each scattered address costs at most one path of 10 nodes; the top levels are shared
    assertTrue(allocator.nodeCount() <= 10L * n, "nodes " + allocator.nodeCount());
    assertTrue(allocator.nodeCount() >= n, "one bottom each");
  }

  @Test
  void next_v6ExcludeCoveringMostOfSlash64_findsTheGapsQuickly() {
    // excluded: fd00::/66 (incl. the gateway) and fd00::8000:0:0:0/65; free: 4000:: .. 7fff:...
    RangeSet s = set(range("fd00::/64", null, null, null, "fd00::/66", "fd00::8000:0:0:0/65"));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    assertEquals(1L << 62, allocator.capacity());
    // three partly covered top-level children: one path of 9 nodes below each, plus the root
    assertTrue(allocator.nodeCount() <= 28, "nodes " + allocator.nodeCount());
    assertEquals(ip("fd00::4000:0:0:0"), allocator.next(AllocationOrder.LOWEST_FREE, null));
    assertEquals(ip("fd00::4000:0:0:0"), allocator.next(AllocationOrder.ROUND_ROBIN, null));
    assertEquals(ip("fd00::4000:0:0:0"),
        allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00::7fff:ffff:ffff:ffff")));
    assertEquals(ip("fd00::4000:0:0:0"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00::9000:0:0:0")));
    assertEquals(ip("fd00::4000:0:0:0"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00::5")));
    assertEquals(ip("fd00::6000:0:0:1"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00::6000:0:0:0")));
    assertFalse(allocator.mark(ip("fd00::5")));
    assertFalse(allocator.mark(ip("fd00::ffff:ffff:ffff:ffff")));
    assertTrue(allocator.mark(ip("fd00::7fff:ffff:ffff:ffff")));
    assertEquals(ip("fd00::4000:0:0:0"),
        allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00::7fff:ffff:ffff:fffe")));
    IpAddress[] cursor = {null};
    List<IpAddress> got = allocate(allocator, AllocationOrder.ROUND_ROBIN, 100, cursor);
    assertEquals(ip("fd00::4000:0:0:63"), got.get(99));
  }

  @Test
  void next_v6ExcludeLeavesLastSixteenth_wrapsBetweenRanges() {
    RangeSet s = set(range("fd00::/64", null, null, null, "fd00::/65", "fd00::8000:0:0:0/66",
        "fd00::c000:0:0:0/67", "fd00::e000:0:0:0/68"),
        range("fd00:1::/120", "fd00:1::ff", "fd00:1::ff", null));
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    assertEquals((1L << 60) + 1, allocator.capacity());
    assertTrue(allocator.mark(ip("fd00::f000:0:0:0")));
    assertEquals(ip("fd00::f000:0:0:1"), allocator.next(AllocationOrder.LOWEST_FREE, null));
    assertEquals(ip("fd00:1::ff"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00::ffff:ffff:ffff:ffff")));
    assertTrue(allocator.mark(ip("fd00:1::ff")));
    assertEquals(ip("fd00::f000:0:0:1"), allocator.next(AllocationOrder.ROUND_ROBIN, ip("fd00:1::ff")));
  }

  // ================================================================ property: against host-local

  sealed interface Step permits Allocate, Release, Request {}

  /** next + mark + move the cursor, as PoolState.allocate does. */
  record Allocate(AllocationOrder order) implements Step {}

  /** Release the i-th held address (modulo the count held). */
  record Release(int index) implements Step {}

  /** Mark a specific address (a requested IP); it may be taken, reserved or outside. */
  record Request(int offset) implements Step {}

  record Scenario(List<IpRange> ranges, IpAddress initialCursor, List<Step> steps) {}

  @Provide
  Arbitrary<Scenario> scenarios() {
    // ranges cut from 10.0.0.0/23 and 10.0.2.0/24: bounds, gateways and excludes at random
    Arbitrary<IpRange> oneRange = Combinators.combine(
        Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 255),
        Arbitraries.integers().between(0, 40), Arbitraries.integers().between(-1, 255),
        Arbitraries.integers().between(0, 255).list().ofMaxSize(2))
        .as((block, start, length, gateway, excludes) -> {
          long base = 0x0A000000L + 256L * block;
          long s = base + start;
          long e = Math.min(base + 255, s + length);
          List<Cidr> x = new ArrayList<>();
          for (int i = 0; i < excludes.size(); i++) {
            int len = 29 + i;
            x.add(new Cidr(IpAddress.v4(base + excludes.get(i)).masked(len), len));
          }
          return new IpRange(new Cidr(IpAddress.v4(base), 24), IpAddress.v4(s), IpAddress.v4(e),
              IpAddress.v4(gateway < 0 ? s : base + gateway), x);
        });
    Arbitrary<List<IpRange>> ranges = oneRange.list().ofMinSize(1).ofMaxSize(4).filter(rs -> {
      for (int i = 0; i < rs.size(); i++) {
        for (int j = 0; j < i; j++) {
          if (rs.get(i).overlaps(rs.get(j))) {
            return false;
          }
        }
      }
      return true;
    });
    Arbitrary<Step> allocate = Arbitraries.of(AllocationOrder.class).map(Allocate::new);
    Arbitrary<Step> release = Arbitraries.integers().between(0, 1000).map(Release::new);
    Arbitrary<Step> request = Arbitraries.integers().between(0, 3 * 256).map(Request::new);
    // weights by repetition: allocate 5, release 3, request 1
    Arbitrary<Step> step = Arbitraries.oneOf(
        List.of(allocate, allocate, allocate, allocate, allocate, release, release, release, request));
    Arbitrary<IpAddress> cursor = Arbitraries.integers().between(-1, 3 * 256)
        .map(o -> o < 0 ? null : IpAddress.v4(0x0A000000L + o));
    return Combinators.combine(ranges, cursor, step.list().ofMaxSize(250)).as(Scenario::new);
  }

  /**
   * Random allocate/release/request sequences: never two holders of one address, never a
   * reserved address, released addresses come back, and every choice is the one host-local's
   * iterator (or the lowest free address) makes.
   */
  @Property(tries = 300)
  void steps_randomSequences_matchHostLocalModel(@ForAll("scenarios") Scenario scenario) {
    RangeSet s = new RangeSet(scenario.ranges());
    RangeSetAllocator allocator = new RangeSetAllocator(s);
    Set<IpAddress> held = new LinkedHashSet<>();
    IpAddress cursor = scenario.initialCursor();
    long capacity = 0;
    for (IpRange r : s.ranges()) {
      for (long o = 0; o <= r.lastOffset(); o++) {
        capacity += r.isReserved(r.addressAt(o)) ? 0 : 1;
      }
    }
    assertEquals(capacity, allocator.capacity());
    for (Step step : scenario.steps()) {
      if (step instanceof Allocate a) {
        IpAddress expected = a.order() == AllocationOrder.ROUND_ROBIN
            ? hostLocalNext(s, cursor, held) : lowestFree(s, held);
        IpAddress got = allocator.next(a.order(), cursor);
        assertEquals(expected, got, () -> a + " after " + held + " cursor " + scenario.initialCursor());
        if (got != null) {
          assertFalse(held.contains(got), "handed out twice: " + got);
          assertTrue(allocator.mark(got));
          held.add(got);
          cursor = got;
        }
      } else if (step instanceof Release r) {
        if (held.isEmpty()) {
          continue;
        }
        IpAddress victim = new ArrayList<>(held).get(r.index() % held.size());
        assertTrue(allocator.unmark(victim));
        assertFalse(allocator.unmark(victim));
        held.remove(victim);
        assertTrue(allocator.isFree(victim));
      } else if (step instanceof Request q) {
        IpAddress wanted = IpAddress.v4(0x0A000000L + q.offset());
        int idx = s.indexOf(wanted);
        boolean free = idx >= 0 && !held.contains(wanted) && !s.ranges().get(idx).isReserved(wanted);
        assertEquals(free, allocator.isFree(wanted), wanted::toString);
        assertEquals(free, allocator.mark(wanted), wanted::toString);
        if (free) {
          held.add(wanted);
        }
      }
      assertEquals(held.size(), allocator.allocated());
    }
    // whatever is left: filling the set hands out exactly the free addresses, then null
    Set<IpAddress> rest = new HashSet<>();
    for (IpAddress a = allocator.next(AllocationOrder.ROUND_ROBIN, cursor); a != null;
        a = allocator.next(AllocationOrder.ROUND_ROBIN, cursor)) {
      assertTrue(allocator.mark(a));
      assertTrue(rest.add(a));
      assertFalse(held.contains(a));
      cursor = a;
    }
    assertEquals(capacity, held.size() + rest.size());
  }
}
