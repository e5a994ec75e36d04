package io.jipam.etcd;

import java.nio.charset.StandardCharsets;

/**
 * Escaping of the free-form fields (owner, ifname, pod namespace and name) inside block and handle
 * records, whose fields are space separated: bytes other than {@code [A-Za-z0-9._:-]} of the UTF-8
 * form become {@code %hh}; an empty or null field is {@code ~}. Stateless.
 */
final class FieldEscaping {
  private FieldEscaping() {}

  static String esc(String s) {
    if (s == null || s.isEmpty()) {
      return "~";
    }
    StringBuilder out = new StringBuilder(s.length());
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_'
          || c == '-' || c == ':') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
      }
    }
    return out.toString();
  }

  static String unesc(String s) {
    if (s.equals("~")) {
      return "";
    }
    if (s.indexOf('%') < 0) {
      return s;
    }
    byte[] out = new byte[s.length()];
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        out[n++] = (byte) Integer.parseInt(s.substring(i + 1, i + 3), 16);
        i += 2;
      } else {
        out[n++] = (byte) c;
      }
    }
    return new String(out, 0, n, StandardCharsets.UTF_8);
  }
}
