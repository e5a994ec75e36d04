package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.IpamException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class InterfaceNameTest {
  private static byte[] bytes(int... b) {
    byte[] out = new byte[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = (byte) b[i];
    }
    return out;
  }

  @Test
  void decode_notUtf8_distinctNamesStayDistinct() {
    String ff = InterfaceName.decode(bytes('a', 0xff));
    String fe = InterfaceName.decode(bytes('a', 0xfe));
    assertNotEquals(ff, fe);
    assertFalse(InterfaceName.isUnicode(ff));
    assertEquals("a\\xff", InterfaceName.quote(ff));
    assertNotEquals(InterfaceName.decode("a\uFFFD".getBytes(StandardCharsets.UTF_8)), ff);
  }

  @Test
  void decode_validUtf8_isTheJavaString() {
    String s = "é€😀*";
    assertEquals(s, InterfaceName.decode(s.getBytes(StandardCharsets.UTF_8)));
    assertTrue(InterfaceName.isUnicode(s));
  }

  /** Overlong forms and encoded surrogates are not UTF-8: kept as bytes, not folded into a char. */
  @Test
  void decode_overlongAndEncodedSurrogate_keptAsBytes() {
    byte[] overlong = bytes(0xc0, 0xaf);
    byte[] surrogate = bytes(0xed, 0xb0, 0x80);
    assertArrayEquals(overlong, InterfaceName.encode(InterfaceName.decode(overlong)));
    assertArrayEquals(surrogate, InterfaceName.encode(InterfaceName.decode(surrogate)));
    assertFalse(InterfaceName.isUnicode(InterfaceName.decode(surrogate)));
  }

  /** decode is one to one and encode its inverse, over random byte strings. */
  @Test
  void decodeEncode_randomBytes_roundTripAndInjective() {
    Random random = new Random(7);
    Map<String, byte[]> seen = new HashMap<>();
    for (int n = 0; n < 20_000; n++) {
      byte[] b = new byte[random.nextInt(8)];
      for (int i = 0; i < b.length; i++) {
        b[i] = (byte) (random.nextBoolean() ? 0x80 + random.nextInt(128) : random.nextInt(256));
      }
      String s = InterfaceName.decode(b);
      assertArrayEquals(b, InterfaceName.encode(s));
      byte[] before = seen.put(s, b);
      if (before != null) {
        assertArrayEquals(before, b);
      }
    }
  }

  @Test
  void problem_kernelRulesOnBytes() {
    assertNull(InterfaceName.problem("ééééééé")); // 14 bytes
    assertTrue(InterfaceName.problem("éééééééé").contains("16 bytes")); // 8 chars, 16 bytes
    assertTrue(InterfaceName.problem("à").contains("0xa0")); // C3 A0: the kernel's isspace(0xA0)
    assertNull(InterfaceName.problem(InterfaceName.decode(bytes('a', 0xff))));
    assertNull(InterfaceName.problem("*"));
    assertTrue(InterfaceName.problem("..") != null && InterfaceName.problem("a\tb") != null);
  }

  @Test
  void attachment_markIsNoInterfaceName() {
    Attachment mark = new Attachment("c1", "\uDC2A");
    assertNotEquals(new Attachment("c1", "*"), mark);
    assertThrows(IpamException.class, () -> new Attachment("c1", "a\uDC2A"));
    assertThrows(IpamException.class, () -> new Attachment("c1", "éééééééé"));
  }
}
