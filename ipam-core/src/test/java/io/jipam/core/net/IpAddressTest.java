package io.jipam.core.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class IpAddressTest {

  private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

  static BigInteger toBig(IpAddress a) {
    return new BigInteger(Long.toUnsignedString(a.high())).shiftLeft(64)
        .add(new BigInteger(Long.toUnsignedString(a.low())));
  }

  // ---------------------------------------------------------------- parsing: valid input

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
      0.0.0.0          | 0.0.0.0
      10.0.0.1         | 10.0.0.1
      255.255.255.255  | 255.255.255.255
      198.18.0.5       | 198.18.0.5
      1.2.3.0          | 1.2.3.0
      """)
  void parse_validIpv4_roundTrips(String text, String canonical) {
    IpAddress a = IpAddress.parse(text);
    assertTrue(a.isV4());
    assertEquals(IpFamily.V4, a.family());
    assertEquals(0, a.high());
    assertEquals(canonical, a.toString());
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
      ::                                        | ::
      ::1                                       | ::1
      1::                                       | 1::
      fd00::                                    | fd00::
      FD00::                                    | fd00::
      fd00:0:0:0:0:0:0:0                        | fd00::
      0:0:0:0:0:0:0:1                           | ::1
      2001:db8:0:0:1:0:0:1                      | 2001:db8::1:0:0:1
      2001:0db8:0000:0000:0001:0000:0000:0001   | 2001:db8::1:0:0:1
      2001:db8::0:1                             | 2001:db8::1
      2001:db8:0:1:1:1:1:1                      | 2001:db8:0:1:1:1:1:1
      2001:db8:0:0:1:0:0:0                      | 2001:db8:0:0:1::
      2001:0:0:1:0:0:0:1                        | 2001:0:0:1::1
      1:0:0:0:1:0:0:0                           | 1::1:0:0:0
      1:2:3:4:5:6:7::                           | 1:2:3:4:5:6:7:0
      ::2:3:4:5:6:7:8                           | 0:2:3:4:5:6:7:8
      fe80::1:2                                 | fe80::1:2
      ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff   | ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
      ::ffff:192.0.2.1                          | ::ffff:c000:201
      64:ff9b::198.51.100.7                     | 64:ff9b::c633:6407
      1:2:3:4:5:6:1.2.3.4                       | 1:2:3:4:5:6:102:304
      ::0.0.0.0                                 | ::
      """)
  void parse_validIpv6_printsRfc5952Canonical(String text, String canonical) {
    IpAddress a = IpAddress.parse(text);
    assertEquals(IpFamily.V6, a.family());
    assertEquals(canonical, a.toString());
    // the canonical text parses back to the same value
    assertEquals(a, IpAddress.parse(canonical));
  }

  @Test
  void parse_embeddedIpv4_setsLow32Bits() {
    IpAddress a = IpAddress.parse("::ffff:192.0.2.1");
    assertEquals(0, a.high());
    assertEquals(0xFFFF_C000_0201L, a.low());
  }

  // ---------------------------------------------------------------- parsing: invalid input

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {
      "", " ", "1", "1.2.3", "1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", "256.0.0.1", "1.2.3.256",
      "01.2.3.4", "1.02.3.4", "1.2.3.00", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "1.2.3.4/24",
      "0x1.2.3.4", "1.2.3.a", "999999999999.1.1.1", "1,2,3,4", "4294967295",
      // Unicode digits are digits to Character.isDigit but not in an address
      "1.2.3.\u0664", "\uFF11.2.3.4"})
  void parse_invalidIpv4_throwsInvalidConfigNamingText(String text) {
    assertInvalid(text);
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {
      ":", ":::", "::1::", "1::2::3", "1:::2", ":1::", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:",
      "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
      "1:2:3:4::5:6:7:8", "12345::", "::12345", "g::", "1:2:3:4:5:6:7:g", "fe80::1%eth0",
      "[::1]", "::1/128", "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5:6::1.2.3.4", "::1.2.3",
      "::1.2.3.4:5", "::01.2.3.4", "::256.1.1.1", "1.2.3.4::", "::ffff:1.2.3.4.5",
      "0000:0000:0000:0000:0000:0000:0000:0000:0000", "::ffff:abc.1.2.3", " ::1", "::1 ",
      // non-ASCII digits and letters that Character.digit(c, 16) accepts
      "::\u0661", "fd00::\uFF21", "\uFF26d00::1"})
  void parse_invalidIpv6_throwsInvalidConfigNamingText(String text) {
    assertInvalid(text);
  }

  @Test
  void parse_tooLong_returnsNullFromTryParse() {
    assertNull(IpAddress.tryParse("0000:0000:0000:0000:0000:0000:0000:0000" + ":0000:0000"));
    assertNull(IpAddress.tryParse(""));
  }

  @Test
  void parse_null_throwsInvalidConfig() {
    IpamException e = assertThrows(IpamException.class, () -> IpAddress.parse(null));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("null"), e.getMessage());
  }

  private static void assertInvalid(String text) {
    assertNull(IpAddress.tryParse(text), "tryParse(\"" + text + "\")");
    IpamException e = assertThrows(IpamException.class, () -> IpAddress.parse(text));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("\"" + text + "\""), e.getMessage());
  }

  // ---------------------------------------------------------------- against the JDK's parser

  @Property
  void toString_anyIpv6_parsesBackAndMatchesJdkValue(@ForAll long high, @ForAll long low) throws Exception {
    IpAddress a = IpAddress.v6(high, low);
    String text = a.toString();
    assertEquals(a, IpAddress.parse(text));
    assertEquals(toBig(a), jdkValue(text));
    assertRfc5952(a, text);
  }

  @Property
  void toString_sparseIpv6_isRfc5952(@ForAll("sparseV6") IpAddress a) throws Exception {
    String text = a.toString();
    assertEquals(a, IpAddress.parse(text));
    assertEquals(toBig(a), jdkValue(text));
    assertRfc5952(a, text);
  }

  /** The JDK's reading of an IPv6 literal (it turns IPv4-mapped ones into 4-byte addresses). */
  private static BigInteger jdkValue(String text) throws Exception {
    byte[] bytes = InetAddress.getByName(text).getAddress();
    BigInteger value = new BigInteger(1, bytes);
    return bytes.length == 4 ? value.or(BigInteger.valueOf(0xFFFF).shiftLeft(32)) : value;
  }

  /** Builds the RFC 5952 text independently: longest run of >= 2 zero groups, first on ties. */
  private static void assertRfc5952(IpAddress a, String text) {
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      long word = i < 4 ? a.high() : a.low();
      g[i] = (int) (word >>> (16 * (3 - i % 4))) & 0xFFFF;
    }
    int best = -1;
    int bestLen = 0;
    for (int i = 0; i < 8; i++) {
      int len = 0;
      while (i + len < 8 && g[i + len] == 0) {
        len++;
      }
      if (len >= 2 && len > bestLen) {
        best = i;
        bestLen = len;
      }
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == best) {
        sb.append(i == 0 ? "::" : ":");
        i += bestLen - 1;
        if (i == 7) {
          break;
        }
        continue;
      }
      sb.append(Integer.toHexString(g[i]));
      if (i < 7) {
        sb.append(':');
      }
    }
    assertEquals(sb.toString(), text);
  }

  @Provide
  Arbitrary<IpAddress> sparseV6() {
    Arbitrary<Integer> group = Arbitraries.frequency(
        Tuple.of(6, 0), Tuple.of(1, 1), Tuple.of(1, 0xFFFF), Tuple.of(1, 0xABC));
    return group.list().ofSize(8).map(gs -> {
      long high = 0;
      long low = 0;
      for (int i = 0; i < 4; i++) {
        high = (high << 16) | gs.get(i);
        low = (low << 16) | gs.get(i + 4);
      }
      return IpAddress.v6(high, low);
    });
  }

  @Property
  void parse_anyIpv4_matchesJdk(@ForAll int bits) throws Exception {
    IpAddress a = IpAddress.v4(bits);
    String text = a.toString();
    assertEquals(a, IpAddress.parse(text));
    assertEquals(bits & 0xFFFF_FFFFL,
        new BigInteger(1, InetAddress.getByName(text).getAddress()).longValue());
  }

  // ---------------------------------------------------------------- arithmetic

  static Stream<Arguments> plusCases() {
    return Stream.of(
        Arguments.of("10.0.0.0", "0", "10.0.0.0"),
        Arguments.of("10.0.0.255", "1", "10.0.1.0"),
        Arguments.of("0.0.0.0", "4294967295", "255.255.255.255"),
        Arguments.of("fd00::", "1", "fd00::1"),
        Arguments.of("fd00::ffff:ffff:ffff:ffff", "1", "fd00:0:0:1::"),
        Arguments.of("fd00::1", "18446744073709551614", "fd00::ffff:ffff:ffff:ffff"),
        Arguments.of("fd00::2", "18446744073709551615", "fd00:0:0:1::1"),
        Arguments.of("::", "18446744073709551615", "::ffff:ffff:ffff:ffff"));
  }

  @ParameterizedTest(name = "{0} + {1} = {2}")
  @MethodSource("plusCases")
  void plus_unsignedOffset_addsWithCarry(String from, String offset, String expected) {
    IpAddress a = IpAddress.parse(from);
    long off = Long.parseUnsignedLong(offset);
    IpAddress sum = a.plus(off);
    assertEquals(IpAddress.parse(expected), sum);
    assertEquals(off, sum.offsetFrom(a));
  }

  @ParameterizedTest(name = "{0} + {1} overflows")
  @CsvSource({
      "255.255.255.255, 1",
      "255.255.255.0, 256",
      "0.0.0.1, 4294967295",
      "10.0.0.0, 18446744073709551615",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 1",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:0, 18446744073709551615"})
  void plus_pastFamilyEnd_throws(String from, String offset) {
    IpAddress a = IpAddress.parse(from);
    assertThrows(IllegalArgumentException.class, () -> a.plus(Long.parseUnsignedLong(offset)));
  }

  @Property
  void plus_randomV6_matchesBigInteger(@ForAll long high, @ForAll long low, @ForAll long offset) {
    IpAddress a = IpAddress.v6(high, low);
    BigInteger expected = toBig(a).add(new BigInteger(Long.toUnsignedString(offset)));
    if (expected.bitLength() > 128) {
      assertThrows(IllegalArgumentException.class, () -> a.plus(offset));
    } else {
      IpAddress sum = a.plus(offset);
      assertEquals(expected, toBig(sum));
      assertEquals(offset, sum.offsetFrom(a));
    }
  }

  @Property
  void offsetFrom_randomPairs_matchesBigIntegerOrThrows(@ForAll long h1, @ForAll long l1,
      @ForAll("smallHighDelta") long dh, @ForAll long l2) {
    IpAddress a = IpAddress.v6(h1, l1);
    IpAddress b = IpAddress.v6(h1 + dh, l2);
    BigInteger diff = toBig(b).subtract(toBig(a));
    if (diff.signum() < 0 || diff.compareTo(TWO_64) >= 0) {
      assertThrows(IllegalArgumentException.class, () -> b.offsetFrom(a));
    } else {
      assertEquals(diff.longValue(), b.offsetFrom(a));
    }
  }

  @Provide
  Arbitrary<Long> smallHighDelta() {
    return Arbitraries.longs().between(-1, 2);
  }

  @Test
  void offsetFrom_otherFamily_throws() {
    assertThrows(IllegalArgumentException.class,
        () -> IpAddress.parse("::1").offsetFrom(IpAddress.parse("0.0.0.0")));
    assertThrows(IllegalArgumentException.class,
        () -> IpAddress.parse("10.0.0.1").offsetFrom(IpAddress.parse("10.0.0.2")));
  }

  @ParameterizedTest(name = "{0}/{1}: {2} .. {3}")
  @CsvSource({
      "10.1.2.3, 0, 0.0.0.0, 255.255.255.255",
      "10.1.2.3, 8, 10.0.0.0, 10.255.255.255",
      "10.1.2.3, 24, 10.1.2.0, 10.1.2.255",
      "10.1.2.3, 31, 10.1.2.2, 10.1.2.3",
      "10.1.2.3, 32, 10.1.2.3, 10.1.2.3",
      "2001:db8:1:2:3:4:5:6, 0, ::, ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "2001:db8:1:2:3:4:5:6, 32, 2001:db8::, 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
      "2001:db8:1:2:3:4:5:6, 64, 2001:db8:1:2::, 2001:db8:1:2:ffff:ffff:ffff:ffff",
      "2001:db8:1:2:3:4:5:6, 65, 2001:db8:1:2::, 2001:db8:1:2:7fff:ffff:ffff:ffff",
      "2001:db8:1:2:8003:4:5:6, 65, 2001:db8:1:2:8000::, 2001:db8:1:2:ffff:ffff:ffff:ffff",
      "2001:db8:1:2:3:4:5:6, 127, 2001:db8:1:2:3:4:5:6, 2001:db8:1:2:3:4:5:7",
      "2001:db8:1:2:3:4:5:6, 128, 2001:db8:1:2:3:4:5:6, 2001:db8:1:2:3:4:5:6"})
  void masked_andLastInPrefix_boundThePrefix(String addr, int len, String first, String last) {
    IpAddress a = IpAddress.parse(addr);
    assertEquals(IpAddress.parse(first), a.masked(len));
    assertEquals(IpAddress.parse(last), a.lastInPrefix(len));
  }

  @Test
  void masked_prefixOutOfRange_throws() {
    assertThrows(IllegalArgumentException.class, () -> IpAddress.parse("1.2.3.4").masked(33));
    assertThrows(IllegalArgumentException.class, () -> IpAddress.parse("::1").masked(129));
    assertThrows(IllegalArgumentException.class, () -> IpAddress.parse("::1").lastInPrefix(-1));
  }

  @Test
  void compareTo_ordersByFamilyThenUnsignedValue() {
    assertTrue(IpAddress.parse("255.255.255.255").compareTo(IpAddress.parse("::")) < 0);
    assertTrue(IpAddress.parse("8000::").compareTo(IpAddress.parse("7fff::")) > 0);
    assertTrue(IpAddress.parse("::8000:0:0:0").compareTo(IpAddress.parse("::7fff:0:0:0")) > 0);
    assertTrue(IpAddress.parse("128.0.0.0").compareTo(IpAddress.parse("127.255.255.255")) > 0);
  }

  @Test
  void constructor_v4OutOf32Bits_throws() {
    assertThrows(IllegalArgumentException.class, () -> new IpAddress(IpFamily.V4, 0, 1L << 32));
    assertThrows(IllegalArgumentException.class, () -> new IpAddress(IpFamily.V4, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new IpAddress(null, 0, 0));
  }
}
