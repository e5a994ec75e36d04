package io.jipam.ctl;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.cni.NetworkPools;
import io.jipam.core.cni.SubPool;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Pool definitions from CNI network configs ({@code --conf}): a conflist ({@code plugins}: the
 * first plugin whose {@code ipam.type} is {@code jipam} or {@code host-local}), a single network
 * config, or a directory of them ({@code *.conflist}, {@code *.conf}, {@code *.json}, as a runtime
 * reads {@code /etc/cni/net.d}). A data dir holds allocations but not the ranges they came from;
 * this is where jipamctl gets them. A network with sub-pools ({@code ipam.subPools}) gives one pool
 * per sub-pool besides its own, as the plugin and jipamd keep them. Parsed by the plugin's own config reader, so a config jipamctl
 * takes is one the plugin takes.
 */
final class ConfPools {
  private ConfPools() {}

  /** What the files define: pools by name, and the sub-pools among them with their selectors. */
  record Definitions(Map<String, Pool> pools, List<SubPool> subPools) {
    static final Definitions NONE = new Definitions(Map.of(), List.of());
  }

  /**
   * The pools the files name, by network name (a later file's definition of a name wins). A file
   * given by name must hold one; a directory's files that hold none (other IPAMs) are skipped, and
   * those that do not parse are named on {@code err}.
   */
  static Definitions load(List<Path> paths, PrintWriter err) {
    Map<String, NetworkPools> networks = new TreeMap<>();
    for (Path path : paths) {
      if (Files.isDirectory(path)) {
        List<Path> files;
        try (Stream<Path> s = Files.list(path)) {
          files = s.filter(p -> {
            String n = p.getFileName().toString();
            return n.endsWith(".conflist") || n.endsWith(".conf") || n.endsWith(".json");
          }).sorted().toList();
        } catch (IOException | java.io.UncheckedIOException e) {
          throw new IpamException(ErrorCode.IO_FAILURE, "cannot list config dir " + Printable.quote(path.toString())
              + ": " + FileInput.reason(e instanceof java.io.UncheckedIOException u ? u.getCause() : e), e);
        }
        for (Path f : files) {
          // a FIFO, a device or a directory among the configs is named and skipped, never read
          try {
            NetworkPools n = parse(f);
            if (n != null) {
              networks.put(n.network(), n);
            }
          } catch (IpamException e) {
            err.println("jipamctl: skipping " + Printable.quote(f.toString()) + ": " + Printable.line(e.getMessage()));
          }
        }
      } else {
        NetworkPools n = network(path);
        if (n == null) {
          throw IpamException.invalidConfig("%s has no plugin whose ipam.type is jipam or host-local",
              Printable.quote(path.toString()));
        }
        networks.put(n.network(), n);
      }
    }
    Map<String, Pool> pools = new TreeMap<>();
    List<SubPool> subPools = new ArrayList<>();
    for (NetworkPools n : networks.values()) {
      n.all().forEach(p -> pools.put(p.name(), p));
      subPools.addAll(n.subPools());
    }
    return new Definitions(pools, subPools);
  }

  /**
   * The pools one file defines: its network's default pool and sub-pools ({@code <network>+<sub>},
   * each a pool of the store); null when it has no jipam or host-local IPAM.
   */
  static NetworkPools network(Path file) {
    try {
      return parse(file);
    } catch (IpamException e) {
      throw new IpamException(e.code(), "network config " + Printable.quote(file.toString()) + ": " + e.getMessage(), e);
    }
  }

  /**
   * {@link #network}, its failures without the file's name: a file that is not a regular file or
   * is larger than {@link NetworkConfig#MAX_BYTES} (the plugin's own limit) is not read.
   */
  @SuppressWarnings("unchecked")
  private static NetworkPools parse(Path file) {
    byte[] bytes;
    try {
      bytes = FileInput.read(file, NetworkConfig.MAX_BYTES);
    } catch (FileInput.Refused e) {
      throw new IpamException(ErrorCode.IO_FAILURE, "cannot read: " + e.getMessage(), e);
    }
    Object parsed = JsonReader.parse(bytes);
    if (!(parsed instanceof Map<?, ?> conf)) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "not a JSON object");
    }
    List<Map<String, Object>> candidates = new ArrayList<>();
    if (conf.get("plugins") instanceof List<?> plugins) {
      for (Object plugin : plugins) {
        if (plugin instanceof Map<?, ?> m) {
          Map<String, Object> net = new LinkedHashMap<>((Map<String, Object>) m);
          net.put("cniVersion", conf.get("cniVersion"));
          net.put("name", conf.get("name"));
          candidates.add(net);
        }
      }
    } else {
      candidates.add((Map<String, Object>) conf);
    }
    for (Map<String, Object> net : candidates) {
      if (net.get("ipam") instanceof Map<?, ?> ipam
          && ("jipam".equals(ipam.get("type")) || "host-local".equals(ipam.get("type")))) {
        return NetworkConfig.from(net).ipam().pools();
      }
    }
    return null;
  }
}
