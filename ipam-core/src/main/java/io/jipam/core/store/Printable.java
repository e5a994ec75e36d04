package io.jipam.core.store;

/**
 * Text from a store or a request, made safe to print on a terminal or in a log line: a value may
 * hold control characters (an escape sequence, a forged line) or be megabytes long, written by a
 * client or by an older jipam that did not check it.
 *
 * <p>Stateless and thread-safe.
 */
public final class Printable {
  /** How many characters of a value {@link #quote} shows before it shortens it. */
  public static final int QUOTE_LIMIT = 80;

  private Printable() {}

  /**
   * {@code text} with every control character (C0, DEL, C1), every lone surrogate and the line and
   * paragraph separators as {@code \xNN} or {@code \}{@code uNNNN}, and {@code \} as {@code \\}; other
   * characters as they are. Distinct texts stay distinct. Null is {@code "null"}.
   */
  public static String escape(String text) {
    return escape(text, Backslash.ESCAPED);
  }

  /**
   * A message for one line of a terminal: like {@link #escape} but {@code \} stays as it is, for
   * text whose values were quoted ({@link #quote}) already and is only to be kept on its line.
   */
  public static String line(String text) {
    return escape(text, Backslash.KEPT);
  }

  /** What {@link #escape(String, Backslash)} does with a backslash. */
  private enum Backslash {
    ESCAPED,
    KEPT
  }

  private static String escape(String text, Backslash backslashes) {
    boolean backslash = backslashes == Backslash.ESCAPED;
    if (text == null) {
      return "null";
    }
    StringBuilder out = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean pair = Character.isHighSurrogate(c) && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1));
      if (pair || !unsafe(c) || c == '\\' && !backslash) {
        if (out != null) {
          out.append(c);
          if (pair) {
            out.append(text.charAt(i + 1));
          }
        }
        i += pair ? 1 : 0;
        continue;
      }
      if (out == null) {
        out = new StringBuilder(text.length() + 16).append(text, 0, i);
      }
      if (c == '\\') {
        out.append("\\\\");
      } else if (c < 0x100) {
        out.append(String.format("\\x%02x", (int) c));
      } else {
        out.append(String.format("\\u%04x", (int) c));
      }
    }
    if (out == null) {
      return text;
    }
    return out.toString();
  }

  /**
   * {@code text} escaped and in double quotes ({@code "} as {@code \"}), for a message; a value
   * longer than {@value #QUOTE_LIMIT} characters shows its start and its length.
   */
  public static String quote(String text) {
    if (text == null) {
      return "null";
    }
    String shown = text.length() > QUOTE_LIMIT ? text.substring(0, QUOTE_LIMIT) : text;
    String body = escape(shown).replace("\"", "\\\"");
    return text.length() > QUOTE_LIMIT
        ? "\"" + body + "\"... (" + text.length() + " characters)"
        : "\"" + body + "\"";
  }

  /**
   * A character printed escaped, unless it is half of a surrogate pair: controls, line and
   * paragraph separators, and the bidirectional formatting characters (a right-to-left override
   * in a pod name would show the rest of the line reversed).
   */
  private static boolean unsafe(char c) {
    return c < 0x20 || c >= 0x7F && c < 0xA0 || c == '\\' || c == '\u2028' || c == '\u2029'
        || c == '\u061c' || c == '\u200e' || c == '\u200f' || c >= '\u202a' && c <= '\u202e'
        || c >= '\u2066' && c <= '\u2069' || Character.isSurrogate(c);
  }
}
