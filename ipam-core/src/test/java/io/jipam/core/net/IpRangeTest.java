package io.jipam.core.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvFileSource;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class IpRangeTest {

  static IpRange range(String subnet, String start, String end, String gateway, String... exclude) {
    return IpRange.withDefaults(Cidr.parse(subnet), addr(start), addr(end), addr(gateway),
        Arrays.stream(exclude).map(Cidr::parse).toList());
  }

  static IpAddress addr(String text) {
    return text == null || text.isEmpty() ? null : IpAddress.parse(text);
  }

  // ---------------------------------------------------------------- defaults

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      10.0.0.0/24   | 10.0.0.1 | 10.0.0.254        | 10.0.0.1 | 253
      10.0.0.0/30   | 10.0.0.1 | 10.0.0.2          | 10.0.0.1 | 1
      10.0.0.0/8    | 10.0.0.1 | 10.255.255.254    | 10.0.0.1 | 16777213
      fd00::/64     | fd00::1  | fd00::ffff:ffff:ffff:ffff | fd00::1 | 18446744073709551614
      fd00::/120    | fd00::1  | fd00::ff          | fd00::1  | 254
      fd00::/126    | fd00::1  | fd00::3           | fd00::1  | 2
      """)
  void withDefaults_nullBounds_followHostLocal(String subnet, String start, String end, String gw,
      String lastOffset) {
    IpRange r = range(subnet, null, null, null);
    assertEquals(IpAddress.parse(start), r.rangeStart());
    assertEquals(IpAddress.parse(end), r.rangeEnd());
    assertEquals(IpAddress.parse(gw), r.gateway());
    assertEquals(List.of(), r.exclude());
    assertEquals(Long.parseUnsignedLong(lastOffset), r.lastOffset());
  }

  @Test
  void withDefaults_explicitBounds_kept() {
    IpRange r = range("10.0.0.0/24", "10.0.0.10", "10.0.0.20", "10.0.0.254");
    assertEquals(IpAddress.parse("10.0.0.10"), r.rangeStart());
    assertEquals(IpAddress.parse("10.0.0.20"), r.rangeEnd());
    assertEquals(IpAddress.parse("10.0.0.254"), r.gateway());
    assertEquals("10.0.0.10-10.0.0.20", r.toString());
    assertEquals(10, r.lastOffset());
    assertEquals(IpAddress.parse("10.0.0.15"), r.addressAt(5));
    assertEquals(5, r.offsetOf(IpAddress.parse("10.0.0.15")));
    assertTrue(r.contains(IpAddress.parse("10.0.0.10")));
    assertTrue(r.contains(IpAddress.parse("10.0.0.20")));
    assertFalse(r.contains(IpAddress.parse("10.0.0.21")));
    assertFalse(r.contains(IpAddress.parse("10.0.0.9")));
  }

  // ---------------------------------------------------------------- validation

  static Stream<Arguments> invalidRanges() {
    return Stream.of(
        // subnet, rangeStart, rangeEnd, gateway, exclude, strings the message must contain
        Arguments.of("10.0.0.0/24", "10.0.1.1", null, null, null, List.of("rangeStart", "10.0.1.1", "10.0.0.0/24")),
        Arguments.of("10.0.0.0/24", "9.255.255.255", null, null, null, List.of("rangeStart", "9.255.255.255")),
        Arguments.of("10.0.0.0/24", null, "10.0.1.0", null, null, List.of("rangeEnd", "10.0.1.0", "10.0.0.0/24")),
        Arguments.of("10.0.0.0/24", "10.0.0.50", "10.0.0.40", null, null, List.of("10.0.0.50", "10.0.0.40")),
        Arguments.of("10.0.0.0/24", "10.0.0.250", null, null, null, List.of()), // ok: .250-.254
        Arguments.of("10.0.0.0/24", null, null, "10.0.1.1", null, List.of()), // ok, as host-local: outside the subnet
        Arguments.of("10.0.0.0/24", null, null, "169.254.1.1", null, List.of()), // ok: a routed gateway
        Arguments.of("fd00::/64", null, null, "fe80::1", null, List.of()), // ok: IPv6 link-local
        Arguments.of("10.0.0.0/24", null, null, "fd00::1", null, List.of("gateway", "fd00::1")),
        Arguments.of("10.0.0.0/31", null, null, null, null, List.of("10.0.0.0/31")),
        Arguments.of("10.0.0.0/32", null, null, null, null, List.of("10.0.0.0/32")),
        Arguments.of("fd00::/127", null, null, null, null, List.of("fd00::/127")),
        Arguments.of("fd00::/128", null, null, null, null, List.of("fd00::/128")),
        Arguments.of("fd00::/63", null, null, null, null, List.of("fd00::1", "fd00::1:ffff:ffff:ffff:ffff", "2^64")),
        Arguments.of("fd00::/64", "fd00::", null, null, null, List.of("fd00::", "fd00::ffff:ffff:ffff:ffff", "2^64")),
        Arguments.of("fd00::/32", "fd00::1", "fd00:0:0:1::", null, null, List.of("fd00::1", "fd00:0:0:1::", "2^64")),
        Arguments.of("fd00::/64", "fd00::1", null, null, "10.0.0.0/8", List.of("10.0.0.0/8", "fd00::/64")),
        Arguments.of("fd00::/48", "fd00::1", "fd00::ffff:ffff:ffff:ffff", null, null, List.of())); // ok: 2^64 - 1
  }

  @ParameterizedTest(name = "{0} {1}-{2} gw {3} x {4}")
  @MethodSource("invalidRanges")
  void withDefaults_invalid_throwsInvalidConfigNamingValues(String subnet, String start, String end,
      String gateway, String exclude, List<String> mentioned) {
    if (mentioned.isEmpty()) {
      range(subnet, start, end, gateway, exclude == null ? new String[0] : new String[] {exclude});
      return;
    }
    IpamException e = assertThrows(IpamException.class,
        () -> range(subnet, start, end, gateway, exclude == null ? new String[0] : new String[] {exclude}));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    for (String m : mentioned) {
      assertTrue(e.getMessage().contains(m), () -> "\"" + e.getMessage() + "\" lacks " + m);
    }
  }

  @Test
  void constructor_missingBound_throwsInvalidConfigNamingField() {
    Cidr subnet = Cidr.parse("10.0.0.0/24");
    IpAddress a = IpAddress.parse("10.0.0.1");
    for (int missing = 0; missing < 3; missing++) {
      int m = missing;
      IpamException e = assertThrows(IpamException.class, () -> new IpRange(subnet,
          m == 0 ? null : a, m == 1 ? null : a, m == 2 ? null : a, List.of()));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains(List.of("rangeStart", "rangeEnd", "gateway").get(m)), e.getMessage());
    }
    IpamException e = assertThrows(IpamException.class, () -> new IpRange(null, a, a, a, null));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    e = assertThrows(IpamException.class, () -> IpRange.withDefaults(null, null, null, null, null));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
  }

  // ---------------------------------------------------------------- reserved addresses

  @Test
  void reservedOffsets_defaults_onlyGatewayInRange() {
    IpRange r = range("10.0.0.0/24", null, null, null);
    assertIntervals(r.reservedOffsets(), 0, 0);
    assertTrue(r.isReserved(IpAddress.parse("10.0.0.0")));
    assertTrue(r.isReserved(IpAddress.parse("10.0.0.1")));
    assertTrue(r.isReserved(IpAddress.parse("10.0.0.255")));
    assertFalse(r.isReserved(IpAddress.parse("10.0.0.2")));
    assertFalse(r.isReserved(IpAddress.parse("10.0.0.254")));
  }

  @Test
  void reservedOffsets_wholeSubnetRange_onlyGateway() {
    IpRange r = range("10.0.0.0/24", "10.0.0.0", "10.0.0.255", "10.0.0.254");
    // explicit bounds are honoured as host-local honours them: network (0) and broadcast (255) are
    // handed out, the gateway (254) is not
    assertIntervals(r.reservedOffsets(), 254, 254);
  }

  /**
   * Which addresses of a range are handed out, as the reference host-local hands them out (checked
   * against {@code /usr/lib/cni/host-local} 1.1.1): all of {@code [rangeStart, rangeEnd]} but the
   * gateway and the excluded prefixes. Columns: subnet, rangeStart, rangeEnd, gateway (empty:
   * default), then every address of the bounds that is handed out.
   */
  @ParameterizedTest(name = "{0} {1}-{2} gw {3}")
  @CsvFileSource(resources = "/io/jipam/core/host-local-explicit-bounds.csv", delimiter = '|')
  void isReserved_explicitBoundsAtNetworkOrBroadcast_onlyGatewayReservedAsHostLocal(String subnet,
      String start, String end, String gateway, String handedOut) {
    IpRange r = range(subnet, start, end, gateway);
    List<IpAddress> want = Arrays.stream(handedOut.split(" ")).map(IpAddress::parse).toList();
    List<IpAddress> got = new ArrayList<>();
    for (long o = 0; Long.compareUnsigned(o, r.lastOffset()) <= 0; o++) {
      if (!r.isReserved(r.addressAt(o))) {
        got.add(r.addressAt(o));
      }
    }
    assertEquals(want, got, r + " gateway " + r.gateway());
    long reserved = r.reservedOffsets().stream().mapToLong(i -> i[1] - i[0] + 1).sum();
    assertEquals(r.lastOffset() + 1 - reserved, want.size(), "reservedOffsets agrees with isReserved");
    // outside the bounds nothing is handed out: the network address and the IPv4 broadcast of the
    // default bounds among them
    IpAddress network = r.subnet().network();
    IpAddress last = r.subnet().last();
    assertEquals(!network.equals(r.rangeStart()) || network.equals(r.gateway()), r.isReserved(network), network::toString);
    assertEquals(!last.equals(r.rangeEnd()) || last.equals(r.gateway()), r.isReserved(last), last::toString);
  }

  @Test
  void reservedOffsets_excludes_clippedMergedSorted() {
    IpRange r = range("10.0.0.0/24", "10.0.0.10", "10.0.0.100", "10.0.0.1",
        "10.0.0.96/28", "10.0.0.0/29", "10.0.0.16/30", "10.0.0.20/30", "10.0.0.40/32", "10.0.0.41/32",
        "10.0.0.50/31", "10.0.1.0/24");
    // .16-.23 (merged adjacent), .40-.41, .50-.51, .96-.100 (clipped at rangeEnd); .0/29 and 10.0.1.0/24 outside
    assertIntervals(r.reservedOffsets(), 6, 13, 30, 31, 40, 41, 86, 90);
    assertTrue(r.isReserved(IpAddress.parse("10.0.0.97")));
    assertTrue(r.isReserved(IpAddress.parse("10.0.0.7")));
    assertFalse(r.isReserved(IpAddress.parse("10.0.0.42")));
  }

  @Test
  void reservedOffsets_hugeV6Exclude_unsignedIntervals() {
    IpRange r = range("fd00::/64", null, null, null, "fd00::8000:0:0:0/65", "fd00::4000:0:0:0/66");
    // gateway fd00::1 is offset 0; 4000:: .. ffff... is one interval up to the last offset
    List<long[]> reserved = r.reservedOffsets();
    assertIntervals(reserved, 0, 0, 0x4000_0000_0000_0000L - 1, -2L);
  }

  @Test
  void reservedOffsets_randomExcludes_matchIsReserved() {
    java.util.Random random = new java.util.Random(42);
    for (int round = 0; round < 200; round++) {
      List<Cidr> excludes = new ArrayList<>();
      for (int k = random.nextInt(5); k > 0; k--) {
        int len = 26 + random.nextInt(7);
        excludes.add(new Cidr(IpAddress.v4(0x0A000000L | random.nextInt(256)).masked(len), len));
      }
      int start = random.nextInt(256);
      int end = start + random.nextInt(256 - start);
      IpRange r = new IpRange(Cidr.parse("10.0.0.0/24"), IpAddress.v4(0x0A000000L | start),
          IpAddress.v4(0x0A000000L | end), IpAddress.v4(0x0A000000L | random.nextInt(256)), excludes);
      boolean[] fromIntervals = new boolean[end - start + 1];
      long previousEnd = -2;
      for (long[] i : r.reservedOffsets()) {
        assertTrue(i[0] <= i[1] && i[0] > previousEnd + 1, "sorted, disjoint, not adjacent");
        previousEnd = i[1];
        for (long o = i[0]; o <= i[1]; o++) {
          fromIntervals[(int) o] = true;
        }
      }
      for (int o = 0; o <= end - start; o++) {
        assertEquals(r.isReserved(r.addressAt(o)), fromIntervals[o], r + " offset " + o + " " + excludes);
      }
    }
  }

  private static void assertIntervals(List<long[]> actual, long... flat) {
    long[] got = actual.stream().flatMapToLong(Arrays::stream).toArray();
    assertArrayEquals(flat, got, () -> actual.stream().map(Arrays::toString).toList().toString());
  }

  // ---------------------------------------------------------------- range sets

  @Test
  void rangeSet_overlapping_throwsNamingBothRanges() {
    IpRange a = range("10.0.0.0/24", "10.0.0.10", "10.0.0.20", null);
    IpRange b = range("10.0.0.0/24", "10.0.0.20", "10.0.0.30", null);
    IpamException e = assertThrows(IpamException.class, () -> new RangeSet(List.of(a, b)));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("10.0.0.10-10.0.0.20"), e.getMessage());
    assertTrue(e.getMessage().contains("10.0.0.20-10.0.0.30"), e.getMessage());
  }

  @Test
  void rangeSet_nestedOrSameSubnet_throws() {
    IpRange inner = range("10.0.0.0/24", "10.0.0.100", "10.0.0.110", null);
    IpRange outer = range("10.0.0.0/16", null, null, null);
    IpamException e = assertThrows(IpamException.class,
        () -> new RangeSet(List.of(range("10.1.0.0/16", null, null, null), inner, outer)));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("10.0.0.100-10.0.0.110"), e.getMessage());
    assertThrows(IpamException.class, () -> new RangeSet(List.of(outer, outer)));
  }

  @Test
  void rangeSet_disjointInOneSubnet_accepted() {
    RangeSet s = new RangeSet(List.of(range("10.0.0.0/24", "10.0.0.10", "10.0.0.12", null),
        range("10.0.0.0/24", "10.0.0.20", "10.0.0.21", null)));
    assertEquals(1, s.indexOf(IpAddress.parse("10.0.0.21")));
    assertEquals(-1, s.indexOf(IpAddress.parse("10.0.0.13")));
    assertEquals(IpFamily.V4, s.family());
  }

  @Test
  void rangeSet_mixedFamilies_throwsNamingSubnets() {
    IpamException e = assertThrows(IpamException.class, () -> new RangeSet(List.of(
        range("10.0.0.0/24", null, null, null), range("fd00::/64", null, null, null))));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("10.0.0.0/24"), e.getMessage());
    assertTrue(e.getMessage().contains("fd00::/64"), e.getMessage());
  }

  @Test
  void rangeSet_empty_throwsInvalidConfig() {
    assertEquals(ErrorCode.INVALID_CONFIG,
        assertThrows(IpamException.class, () -> new RangeSet(List.of())).code());
    assertEquals(ErrorCode.INVALID_CONFIG,
        assertThrows(IpamException.class, () -> new RangeSet(null)).code());
  }

  @Test
  void rangeSet_overlaps_comparesAcrossSets() {
    RangeSet a = new RangeSet(List.of(range("10.0.0.0/24", null, null, null)));
    RangeSet b = new RangeSet(List.of(range("10.0.0.0/16", "10.0.0.254", "10.0.1.5", null)));
    RangeSet c = new RangeSet(List.of(range("10.0.1.0/24", null, null, null)));
    RangeSet v6 = new RangeSet(List.of(range("fd00::/64", null, null, null)));
    assertTrue(a.overlaps(b));
    assertFalse(a.overlaps(c));
    assertFalse(a.overlaps(v6));
  }
}
