package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/** The result's {@code dns} section: empty unless the config names a resolv.conf. */
record Dns(List<String> nameservers, String domain, List<String> search, List<String> options) {
  public static final Dns EMPTY = new Dns(List.of(), null, List.of(), List.of());

  public Dns {
    nameservers = List.copyOf(nameservers);
    search = List.copyOf(search);
    options = List.copyOf(options);
  }

  /** The most of a resolv.conf jipam reads: glibc reads far less (3 nameservers, 6 search domains). */
  public static final int MAX_RESOLV_CONF_BYTES = 64 * 1024;

  /**
   * Reads a resolv.conf as host-local does: {@code nameserver}, {@code domain}, {@code search} and
   * {@code options} lines; {@code #} and {@code ;} start comments. Bytes that are not UTF-8 do not
   * fail the read (they become U+FFFD, as Go's JSON encoder makes of them in host-local's result).
   * Only a regular file of at most {@link #MAX_RESOLV_CONF_BYTES} is read, so that a device or a
   * FIFO named by mistake fails at once instead of running out of memory or blocking.
   *
   * @throws IpamException {@code INVALID_CONFIG} when the file is missing, not a regular file or
   *     too large, {@code IO_FAILURE} when it cannot be read
   */
  public static Dns fromResolvConf(Path file) {
    byte[] bytes;
    try {
      BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
      if (!attributes.isRegularFile()) {
        throw IpamException.invalidConfig("resolvConf %s is not a regular file", file);
      }
      try (InputStream in = Files.newInputStream(file)) {
        bytes = in.readNBytes(MAX_RESOLV_CONF_BYTES + 1);
      }
    } catch (NoSuchFileException e) {
      throw IpamException.invalidConfig("resolvConf %s does not exist", file);
    } catch (IOException e) {
      throw new IpamException(ErrorCode.IO_FAILURE, "cannot read resolvConf " + file + ": " + e, e);
    }
    if (bytes.length > MAX_RESOLV_CONF_BYTES) {
      throw IpamException.invalidConfig("resolvConf %s is larger than %d bytes, jipam's limit", file,
          MAX_RESOLV_CONF_BYTES);
    }
    String text = new String(bytes, StandardCharsets.UTF_8);
    List<String> nameservers = new ArrayList<>();
    List<String> search = new ArrayList<>();
    List<String> options = new ArrayList<>();
    String domain = null;
    int pos = 0;
    while (pos < text.length()) {
      int eol = text.indexOf('\n', pos);
      if (eol < 0) {
        eol = text.length();
      }
      List<String> fields = fields(text, pos, eol);
      pos = eol + 1;
      // as host-local reads it: a line of fewer than two fields is skipped, a nameserver or domain
      // line gives its first value only (a trailing "# comment" or extra token is not a server)
      if (fields.size() < 2 || fields.get(0).startsWith("#") || fields.get(0).startsWith(";")) {
        continue;
      }
      List<String> rest = fields.subList(1, fields.size());
      switch (fields.get(0)) {
        case "nameserver" -> nameservers.add(rest.get(0));
        case "domain" -> domain = rest.get(0);
        case "search" -> search.addAll(rest);
        case "options" -> options.addAll(rest);
        default -> { }
      }
    }
    return new Dns(nameservers, domain, search, options);
  }

  /**
   * White space as host-local splits fields (Go's {@code unicode.IsSpace}): tab, newline, vertical
   * tab, form feed, carriage return, space, U+0085 and U+00A0, and above Latin-1 the space
   * separators (Java's {@code isWhitespace} takes U+001C to U+001F and leaves out U+00A0).
   */
  static boolean isSpace(char c) {
    if (c < 0x100) {
      return c == ' ' || c >= '\t' && c <= '\r' || c == 0x85 || c == 0xA0;
    }
    return Character.isSpaceChar(c);
  }

  /** The white-space separated fields of {@code text[from, to)} (a loop: no regex on this path). */
  private static List<String> fields(String text, int from, int to) {
    List<String> out = new ArrayList<>(4);
    int i = from;
    while (i < to) {
      while (i < to && isSpace(text.charAt(i))) {
        i++;
      }
      int start = i;
      while (i < to && !isSpace(text.charAt(i))) {
        i++;
      }
      if (i > start) {
        out.add(text.substring(start, i));
      }
    }
    return out;
  }

  public boolean isEmpty() {
    return nameservers.isEmpty() && domain == null && search.isEmpty() && options.isEmpty();
  }
}
