package io.jipam.core.store;

import java.io.ByteArrayOutputStream;

/**
 * Linux interface names as the kernel sees them: bytes, not text. The kernel ({@code
 * dev_valid_name}) accepts 1 to 15 bytes, not {@code .} or {@code ..}, without {@code /}, {@code
 * :} or a byte its {@code isspace} calls white space (tab, line feed, vertical tab, form feed,
 * carriage return, space, and 0xA0); every other byte is allowed, so a name need not be UTF-8.
 *
 * <h2>Names as Java strings</h2>
 * A name is held as its bytes decoded as UTF-8, strictly (no overlong forms, no encoded
 * surrogates), where each byte that is not part of a valid UTF-8 sequence becomes the lone
 * surrogate {@code U+DC80 + (byte - 0x80)}, as Python's "surrogateescape" does. The mapping is a
 * bijection: distinct byte strings are distinct strings, and {@link #encode} gives the exact bytes
 * back. A name that was valid UTF-8 contains no surrogate at all ({@link #isUnicode}).
 *
 * <p>The single characters {@code U+DC00 .. U+DC7F} are never produced by decoding (bytes below
 * 0x80 are always valid UTF-8); {@link Attachment} accepts them as <em>marks</em>, ifnames that
 * stores use for holders that are not one interface, which no interface name can equal.
 *
 * <p>Loops, no regex, no lambdas: this runs on the plugin's exec path. Stateless and thread-safe.
 */
public final class InterfaceName {
  /** The kernel's limit: IFNAMSIZ (16) less the terminating NUL. */
  public static final int MAX_BYTES = 15;

  private InterfaceName() {}

  /** The name's bytes decoded as described above; never fails. */
  public static String decode(byte[] bytes) {
    return decode(bytes, 0, bytes.length);
  }

  /** Like {@link #decode(byte[])} for {@code bytes[from, to)}. */
  public static String decode(byte[] bytes, int from, int to) {
    StringBuilder out = new StringBuilder(to - from);
    int i = from;
    while (i < to) {
      int b = bytes[i] & 0xFF;
      if (b < 0x80) {
        out.append((char) b);
        i++;
        continue;
      }
      int len = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
      int cp = len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
      boolean ok = len > 0 && i + len <= to;
      for (int k = 1; ok && k < len; k++) {
        int c = bytes[i + k] & 0xFF;
        if ((c & 0xC0) != 0x80) {
          ok = false;
        } else {
          cp = (cp << 6) | (c & 0x3F);
        }
      }
      if (ok) {
        ok = len == 2 || len == 3 && cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)
            || len == 4 && cp >= 0x10000 && cp <= 0x10FFFF;
      }
      if (!ok) {
        out.append((char) (0xDC00 + b)); // b >= 0x80: U+DC80 .. U+DCFF
        i++;
        continue;
      }
      out.appendCodePoint(cp);
      i += len;
    }
    return out.toString();
  }

  /**
   * The bytes a decoded name stands for (the inverse of {@link #decode}); a mark or any other
   * lone surrogate that stands for no byte becomes {@code ?}.
   */
  public static byte[] encode(String name) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(name.length() + 4);
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < 0x80) {
        out.write(c);
      } else if (c >= 0xDC80 && c <= 0xDCFF) {
        out.write(c - 0xDC00);
      } else if (Character.isHighSurrogate(c) && i + 1 < name.length()
          && Character.isLowSurrogate(name.charAt(i + 1))) {
        int cp = Character.toCodePoint(c, name.charAt(++i));
        out.write(0xF0 | cp >> 18);
        out.write(0x80 | (cp >> 12 & 0x3F));
        out.write(0x80 | (cp >> 6 & 0x3F));
        out.write(0x80 | (cp & 0x3F));
      } else if (Character.isSurrogate(c)) {
        out.write('?');
      } else if (c < 0x800) {
        out.write(0xC0 | c >> 6);
        out.write(0x80 | (c & 0x3F));
      } else {
        out.write(0xE0 | c >> 12);
        out.write(0x80 | (c >> 6 & 0x3F));
        out.write(0x80 | (c & 0x3F));
      }
    }
    return out.toByteArray();
  }

  /** Whether the string has no surrogate that stands alone: the name's bytes were valid UTF-8. */
  public static boolean isUnicode(String name) {
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < name.length() && Character.isLowSurrogate(name.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code attachment}, refused when its interface name is not text (its bytes were not UTF-8, or it
   * is a mark): for a store that keeps names as UTF-8 (etcd's keys and values, jipamd's API), where
   * such a name would become {@code ?} and merge with another attachment's. The CNI endpoints refuse
   * such names first; this keeps every other caller from writing them.
   *
   * @param keeper what keeps the names, for the message (e.g. "the etcd store")
   * @throws io.jipam.core.IpamException INVALID_ENVIRONMENT naming the name, escaped
   */
  public static Attachment requireUnicode(Attachment attachment, String keeper) {
    if (!isUnicode(attachment.ifname())) {
      throw new io.jipam.core.IpamException(io.jipam.core.ErrorCode.INVALID_ENVIRONMENT, "interface name \""
          + quote(attachment.ifname()) + "\" of container " + Printable.quote(attachment.containerId())
          + " is not valid UTF-8: " + keeper + " keeps interface names exactly or not at all");
    }
    return attachment;
  }

  /** Whether the string is a mark (see the class comment), not a name. */
  public static boolean isMark(String name) {
    return name != null && name.length() == 1 && name.charAt(0) >= 0xDC00 && name.charAt(0) < 0xDC80;
  }

  /**
   * Why the kernel would refuse the name, or null when it would accept it. A lone surrogate
   * outside {@code U+DC80 .. U+DCFF} stands for no byte and makes the name invalid.
   */
  public static String problem(String name) {
    if (name == null || name.isEmpty()) {
      return "it is empty";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < name.length() && Character.isLowSurrogate(name.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c) && (c < 0xDC80 || c > 0xDCFF)) {
        return "it is not a byte string";
      }
    }
    byte[] bytes = encode(name);
    if (bytes.length > MAX_BYTES) {
      return "it is " + bytes.length + " bytes long; the kernel allows at most " + MAX_BYTES;
    }
    if (name.equals(".") || name.equals("..")) {
      return "the kernel does not allow \".\" or \"..\"";
    }
    for (byte b : bytes) {
      if (b == 0 || b == '/' || b == ':' || isKernelSpace(b)) { // the kernel reads up to a NUL: another name
        return "the kernel does not allow byte 0x" + hex(b) + " in an interface name";
      }
    }
    return null;
  }

  /** The kernel's {@code isspace}: tab, LF, VT, FF, CR, space and 0xA0. */
  public static boolean isKernelSpace(byte b) {
    return b == ' ' || (b >= 9 && b <= 13) || (b & 0xFF) == 0xA0;
  }

  /**
   * The name for a message: printable ASCII as is, {@code "} and {@code \} escaped, every other
   * byte (controls, non-ASCII, bytes that are not UTF-8) as {@code \xNN}, marks as {@code <mark NNNN>}.
   * Distinct names quote distinctly.
   */
  public static String quote(String name) {
    if (name == null) {
      return "null";
    }
    if (isMark(name)) {
      return "<mark " + Integer.toHexString(name.charAt(0)) + ">";
    }
    byte[] bytes = encode(name);
    StringBuilder out = new StringBuilder(bytes.length + 8);
    for (byte b : bytes) {
      if (b == '"' || b == '\\') {
        out.append('\\').append((char) b);
      } else if (b >= 0x20 && b < 0x7F) {
        out.append((char) b);
      } else {
        out.append("\\x").append(hex(b));
      }
    }
    return out.toString();
  }

  private static String hex(byte b) {
    return new String(new char[] {Character.forDigit((b >> 4) & 15, 16), Character.forDigit(b & 15, 16)});
  }
}
