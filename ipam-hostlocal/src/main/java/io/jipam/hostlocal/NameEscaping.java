package io.jipam.hostlocal;

import io.jipam.core.IpamException;
import io.jipam.core.store.InterfaceName;

  /**
 * The escaping of jipam's own files (index, records, stamp): fields free of the separators, and
 * interface names as printable ASCII, one to one. Stateless.
 */
final class NameEscaping {
  private NameEscaping() {}

  /**
   * An interface name (or a mark) as printable ASCII, one to one: the bytes of the name (see
   * {@link InterfaceName#encode}) that are printable ASCII other than {@code %} stay, every other
   * byte becomes {@code %XX}, a mark {@code %uXXXX}. Used in record file names, records and the
   * index, so that they hold every name exactly and never depend on the locale.
   */
  static String escapeName(String name) {
    if (InterfaceName.isMark(name)) {
      return "%u" + Integer.toHexString(name.charAt(0));
    }
    boolean plain = true;
    for (int i = 0; i < name.length() && plain; i++) {
      char c = name.charAt(i);
      plain = c > 0x20 && c < 0x7F && c != '%';
    }
    if (plain) {
      return name;
    }
    StringBuilder b = new StringBuilder(name.length() * 3);
    for (byte x : InterfaceName.encode(name)) {
      if (x > 0x20 && x < 0x7F && x != '%') {
        b.append((char) x);
      } else {
        b.append('%').append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
      }
    }
    return b.toString();
  }

  /** The inverse of {@link #escapeName}. */
  static String unescapeName(String text) {
    if (text.startsWith("%u")) {
      return String.valueOf((char) Integer.parseInt(text.substring(2), 16));
    }
    if (text.indexOf('%') < 0) {
      return text;
    }
    byte[] bytes = new byte[text.length()];
    int n = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '%') {
        bytes[n++] = (byte) Integer.parseInt(text.substring(i + 1, i + 3), 16);
        i += 2;
      } else {
        bytes[n++] = (byte) c;
      }
    }
    return InterfaceName.decode(bytes, 0, n);
  }

  /** A field of the index, a record or the stamp: {@code %}, tab, CR and LF as {@code %XX}. */
  static String escapeField(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' || c == '\t' || c == '\n' || c == '\r') {
        if (b == null) {
          b = new StringBuilder(s.length() + 8).append(s, 0, i);
        }
        b.append('%').append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
      } else if (b != null) {
        b.append(c);
      }
    }
    return b == null ? s : b.toString();
  }

  /** The inverse of {@link #escapeField}. */
  static String unescapeField(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
        i += 2;
      } else if (c == '%') {
        throw IpamException.invalidConfig("bad escape in index: %s", s);
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
