package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrintableTest {
  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "'\u001b[2J\u001b[31mred' | '\\x1b[2J\\x1b[31mred'",
      "'ns\nfake 198.18.0.9 line' | 'ns\\x0afake 198.18.0.9 line'",
      "'a\\b' | 'a\\\\b'",
      "'tab\there' | 'tab\\x09here'",
      "'c1\u009bx' | 'c1\\x9bx'",
      "'ls\u2028' | 'ls\\u2028'",
      "'lone\ud800' | 'lone\\ud800'"})
  void escape_controlCharacters_areShownAsEscapes(String raw, String shown) {
    assertEquals(shown, Printable.escape(raw));
  }

  @Test
  void escape_printableText_isTheSameString() {
    String s = "kube-system/coredns-5d78c9869d-abcde é 😀";
    assertSame(s, Printable.escape(s));
  }

  @Test
  void escape_backslashAndEscape_stayDistinct() {
    assertNotEquals(Printable.escape("\\x1b"), Printable.escape("\u001b"));
  }

  @Test
  void quote_longValue_showsStartAndLength() {
    String q = Printable.quote("a".repeat(3_900_000));
    assertEquals("\"" + "a".repeat(Printable.QUOTE_LIMIT) + "\"... (3900000 characters)", q);
    assertEquals("\"say \\\"hi\\\"\\x0a\"", Printable.quote("say \"hi\"\n"));
  }

  @Test
  void escape_bidirectionalFormatting_escapedSoTheLineShowsAsWritten() {
    assertEquals("web-\\u202eevil\\u2066x\\u200f", Printable.escape("web-\u202eevil\u2066x\u200f"));
    assertEquals("\\u061c\\u200e\\u202a\\u2069", Printable.escape("\u061c\u200e\u202a\u2069"));
  }

  @Test
  void line_quotedMessage_keepsBackslashesEscapesControls() {
    assertEquals("node \"x\\x1b\" bad\\x0aline", Printable.line("node " + Printable.quote("x\u001b") + " bad\nline"));
  }
}
