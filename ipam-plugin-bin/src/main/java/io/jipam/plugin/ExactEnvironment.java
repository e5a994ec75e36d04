package io.jipam.plugin;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.InterfaceName;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The CNI variables that name things, as the bytes the runtime set. The JVM decodes the
 * environment with the locale's charset, which maps every byte it cannot decode to U+FFFD (two
 * different interface names, {@code a\xff} and {@code a\xfe}, would both read {@code a\uFFFD}).
 * {@code CNI_IFNAME} and {@code CNI_CONTAINERID} are therefore read again from {@code
 * /proc/self/environ} and decoded as {@link InterfaceName} does, losslessly, whenever the JVM's
 * reading of them is not plain ASCII (plain ASCII reads the same under every charset). Costs
 * nothing in the usual case.
 */
final class ExactEnvironment {
  private static final String[] EXACT = {"CNI_IFNAME", "CNI_CONTAINERID"};

  private ExactEnvironment() {}

  /**
   * The environment with the naming variables replaced by their exact decoding.
   *
   * @throws IpamException {@code INVALID_ENVIRONMENT} when a variable is not ASCII and its bytes
   *     cannot be read
   */
  static Map<String, String> of(Map<String, String> decoded) {
    boolean needed = false;
    for (String name : EXACT) {
      needed |= !isAscii(decoded.get(name));
    }
    if (!needed) {
      return decoded;
    }
    byte[] raw;
    try (FileInputStream in = new FileInputStream("/proc/self/environ")) {
      raw = in.readAllBytes();
    } catch (IOException e) {
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_IFNAME or CNI_CONTAINERID is not"
          + " ASCII and its bytes cannot be read from /proc/self/environ: " + e.getMessage(), e);
    }
    Map<String, String> exact = new HashMap<>(decoded);
    int start = 0;
    for (int i = 0; i <= raw.length; i++) {
      if (i == raw.length || raw[i] == 0) {
        for (String name : EXACT) {
          if (startsWith(raw, start, i, name)) {
            exact.put(name, InterfaceName.decode(raw, start + name.length() + 1, i));
          }
        }
        start = i + 1;
      }
    }
    return exact;
  }

  private static boolean isAscii(String value) {
    if (value == null) {
      return true;
    }
    for (int i = 0; i < value.length(); i++) {
      if (value.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  /** Whether {@code raw[from, to)} starts with {@code NAME=}. */
  private static boolean startsWith(byte[] raw, int from, int to, String name) {
    if (to - from <= name.length()) {
      return false;
    }
    for (int k = 0; k < name.length(); k++) {
      if (raw[from + k] != name.charAt(k)) {
        return false;
      }
    }
    return raw[from + name.length()] == '=';
  }
}
