package io.jipam.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FormatsTest {
  @ParameterizedTest
  @CsvSource({"0, 0", "250, 250", "999999999999, 999999999999", "18446744073709551612, 2^64-4",
      "18446744073709551615, 2^64-1", "281474976710656, 2^48", "281474976710659, 2^48+3",
      "10000000000000000000, 1.00e19", "5000000000000, 5.00e12"})
  void count_unsigned_readableInText(String exact, String text) {
    assertEquals(text, Formats.count(Long.parseUnsignedLong(exact)));
  }

  @ParameterizedTest
  @CsvSource({"3, 18446744073709551612, '[....................]  <0.1%'", "0, 18446744073709551612, '[....................]   0.0%'",
      "125, 125, '[##########..........]  50.0%'", "0, 0, '[....................]   0.0%'"})
  void bar_unsignedFree_rightShare(long used, String free, String bar) {
    assertEquals(bar, Formats.bar(used, Long.parseUnsignedLong(free)));
  }

  @org.junit.jupiter.api.Test
  void ratio_hugeFree_isTinyNotNegative() {
    assertEquals(0.5, Formats.ratio(Long.MIN_VALUE, Long.MIN_VALUE)); // 2^63 used, 2^63 free
    assertEquals(0.0, Formats.ratio(3, -4L));
  }
}
