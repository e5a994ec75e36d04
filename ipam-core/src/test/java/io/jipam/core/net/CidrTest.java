package io.jipam.core.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CidrTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      10.0.0.0/8          | 10.0.0.0    | 8   | 10.255.255.255
      198.18.0.0/16       | 198.18.0.0  | 16  | 198.18.255.255
      192.168.1.0/24      | 192.168.1.0 | 24  | 192.168.1.255
      0.0.0.0/0           | 0.0.0.0     | 0   | 255.255.255.255
      10.1.2.3            | 10.1.2.3    | 32  | 10.1.2.3
      10.1.2.3/32         | 10.1.2.3    | 32  | 10.1.2.3
      fd00::/64           | fd00::      | 64  | fd00::ffff:ffff:ffff:ffff
      2001:db8::/32       | 2001:db8::  | 32  | 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff
      ::/0                | ::          | 0   | ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
      fd00::1             | fd00::1     | 128 | fd00::1
      """)
  void parse_validCidr_hasNetworkLengthAndLast(String text, String network, int length, String last) {
    Cidr c = Cidr.parse(text);
    assertEquals(IpAddress.parse(network), c.network());
    assertEquals(length, c.prefixLength());
    assertEquals(IpAddress.parse(last), c.last());
    assertTrue(c.contains(c.network()));
    assertTrue(c.contains(c.last()));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
      10.0.0.1/8           | 10.0.0.0
      192.168.1.5/24       | 192.168.1.0
      192.168.1.128/24     | 192.168.1.0
      10.1.2.3/31          | 10.1.2.2
      0.0.0.1/0            | 0.0.0.0
      fd00::1/64           | fd00::
      2001:db8:0:1::/63    | 2001:db8::
      2001:db8::1:0:0:1/96 | 2001:db8:0:0:1::
      """)
  void parse_hostBitsSet_throwsNamingNetworkAddress(String text, String network) {
    IpamException e = assertThrows(IpamException.class, () -> Cidr.parse(text));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains(text), e.getMessage());
    assertTrue(e.getMessage().contains("network address is " + network), e.getMessage());
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {
      "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/8/8", "10.0.0.0/1234",
      "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/x", "fd00::/129", "fd00::/0128", "/24",
      "10.0.0/24", "fd00:::/64", "10.0.0.0/\u0662\u0664", "fd00::/\u0666\u0664"})
  void parse_invalidText_throwsInvalidConfigNamingText(String text) {
    IpamException e = assertThrows(IpamException.class, () -> Cidr.parse(text));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains(text), e.getMessage());
  }

  @Test
  void parse_null_throwsInvalidConfig() {
    IpamException e = assertThrows(IpamException.class, () -> Cidr.parse(null));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
  }

  @Test
  void constructor_badPrefixLength_throwsInvalidConfigNamingValues() {
    IpamException e = assertThrows(IpamException.class,
        () -> new Cidr(IpAddress.parse("10.0.0.0"), 40));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("40") && e.getMessage().contains("10.0.0.0"), e.getMessage());
  }

  @Test
  void contains_otherFamilyOrOutside_false() {
    Cidr c = Cidr.parse("10.0.0.0/8");
    assertFalse(c.contains(IpAddress.parse("11.0.0.0")));
    assertFalse(c.contains(IpAddress.parse("9.255.255.255")));
    assertFalse(c.contains(IpAddress.parse("::a00:1")));
    assertTrue(Cidr.parse("::/0").contains(IpAddress.parse("ffff::")));
    assertFalse(Cidr.parse("::/0").contains(IpAddress.parse("1.2.3.4")));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      10.1.2.3/24    | 10.1.2.3 | 24 | false
      10.1.2.3       | 10.1.2.3 | 32 | true
      fd00::5/64     | fd00::5  | 64 | false
      fd00::5        | fd00::5  | 128 | true
      """)
  void addressWithPrefix_parse_keepsHostBits(String text, String address, int length, boolean hostOnly) {
    AddressWithPrefix a = AddressWithPrefix.parse(text);
    assertEquals(IpAddress.parse(address), a.address());
    assertEquals(length, a.prefixLength());
    assertEquals(hostOnly, a.isHostOnly());
    assertEquals(hostOnly ? text + "/" + length : text, a.toString());
  }
}
