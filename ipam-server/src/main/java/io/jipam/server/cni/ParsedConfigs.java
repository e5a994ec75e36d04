package io.jipam.server.cni;

import io.jipam.core.IpamException;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The network configs of recent CNI calls, kept parsed: a node's runtime sends the same config
 * bytes for every ADD of a network, and reading them (JSON, then the ranges, sub-pools and policy)
 * was 134 of 976 event-loop samples of a warm jipamd's CNI calls on the file store (a JFR profile
 * of {@code bench/scripts/jipamd-cni-calls.sh}, docs/benchmarks-shim.md, session 21).
 *
 * <p>A config is kept only when reading it succeeded, read no file ({@link
 * io.jipam.core.cni.IpamConfig#readsFiles}: a {@code resolvConf} is read on every call, as the
 * plugin reads it), carries nothing of one container (no {@code prevResult}, which runtimes add to
 * DEL and CHECK, no GC attachment list, no requested addresses) and is at most {@link
 * #MAX_CONFIG_BYTES}: those are sent once, and keeping them would only push out the configs that
 * come again. A hit needs the very same bytes, so a hit reads exactly what a parse would have read;
 * what a call does with the config (the pool checks, the store) is not kept. At most {@link
 * #MAX_ENTRIES} configs, the least recently used leaving first: a few MiB of heap at worst (a parsed
 * config, its raw {@code ipam.store} object included, holds some twenty times its bytes at most).
 * Thread-safe.
 */
final class ParsedConfigs {
  static final int MAX_ENTRIES = 32;
  static final int MAX_CONFIG_BYTES = 8 * 1024;

  /**
   * A config as read: its raw {@code cniVersion} text (for error output; null when unreadable), and
   * the config or why it is refused.
   */
  record Parsed(String versionText, NetworkConfig config, IpamException error) {
    /** The config, or the error reading it gave. */
    NetworkConfig configOrThrow() {
      if (error != null) {
        throw error;
      }
      return config;
    }
  }

  private final Map<Key, Parsed> recent = new LinkedHashMap<>(MAX_ENTRIES * 2, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Key, Parsed> eldest) {
      return size() > MAX_ENTRIES;
    }
  };

  /**
   * The config {@code stdin} holds, read as {@link NetworkConfig#from} reads it, or as kept from an
   * earlier call with the same bytes. A config that is JSON but not a valid config comes back with
   * its error and its version text, so that it is still answered in its version.
   *
   * @throws IpamException when {@code stdin} is not JSON ({@link JsonReader#parse})
   */
  Parsed read(byte[] stdin) {
    Key key = stdin.length <= MAX_CONFIG_BYTES ? new Key(stdin) : null;
    if (key != null) {
      Parsed kept;
      synchronized (recent) {
        kept = recent.get(key);
      }
      if (kept != null) {
        return kept;
      }
    }
    Object document = JsonReader.parse(stdin);
    String versionText = NetworkConfig.versionText(document);
    NetworkConfig config;
    try {
      config = NetworkConfig.from(document);
    } catch (IpamException e) {
      return new Parsed(versionText, null, e);
    }
    Parsed parsed = new Parsed(versionText, config, null);
    if (key != null && reusable(config)) {
      synchronized (recent) {
        recent.put(key, parsed);
      }
    }
    return parsed;
  }

  /** Whether a config may come again as it is: it read no file and names no one container's state. */
  private static boolean reusable(NetworkConfig config) {
    return !config.ipam().readsFiles() && config.prevResult() == null && config.validAttachments() == null
        && config.requestedIps().isEmpty();
  }

  /** How many configs are kept (for tests). */
  int size() {
    synchronized (recent) {
      return recent.size();
    }
  }

  /** Config bytes as a map key; the caller never changes them afterwards. */
  private static final class Key {
    private final byte[] bytes;
    private final int hash;

    Key(byte[] bytes) {
      this.bytes = bytes;
      this.hash = Arrays.hashCode(bytes);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && k.hash == hash && Arrays.equals(k.bytes, bytes);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
}
