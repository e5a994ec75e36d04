package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The result's {@code dns} section: empty unless the config names a resolv.conf. */
public record Dns(List<String> nameservers, String domain, List<String> search, List<String> options) {
  public static final Dns EMPTY = new Dns(List.of(), null, List.of(), List.of());

  public Dns {
    nameservers = List.copyOf(nameservers);
    search = List.copyOf(search);
    options = List.copyOf(options);
  }

  /**
   * Reads a resolv.conf as host-local does: {@code nameserver}, {@code domain}, {@code search} and
   * {@code options} lines; {@code #} and {@code ;} start comments.
   *
   * @throws IpamException {@code INVALID_CONFIG} when the file is missing, {@code IO_FAILURE} when
   *     it cannot be read
   */
  public static Dns fromResolvConf(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (NoSuchFileException e) {
      throw IpamException.invalidConfig("resolvConf %s does not exist", file);
    } catch (IOException e) {
      throw new IpamException(ErrorCode.IO_FAILURE, "cannot read resolvConf " + file + ": " + e, e);
    }
    List<String> nameservers = new ArrayList<>();
    List<String> search = new ArrayList<>();
    List<String> options = new ArrayList<>();
    String domain = null;
    for (String line : lines) {
      String trimmed = line.trim();
      if (trimmed.isEmpty() || trimmed.startsWith("#") || trimmed.startsWith(";")) {
        continue;
      }
      String[] fields = trimmed.split("\\s+");
      List<String> rest = List.of(fields).subList(1, fields.length);
      switch (fields[0]) {
        case "nameserver" -> nameservers.addAll(rest);
        case "domain" -> domain = rest.isEmpty() ? null : rest.get(0);
        case "search" -> search.addAll(rest);
        case "options" -> options.addAll(rest);
        default -> { }
      }
    }
    return new Dns(nameservers, domain, search, options);
  }

  public boolean isEmpty() {
    return nameservers.isEmpty() && domain == null && search.isEmpty() && options.isEmpty();
  }
}
