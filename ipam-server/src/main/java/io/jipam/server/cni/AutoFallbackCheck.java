package io.jipam.server.cni;

import io.jipam.core.IpamException;
import io.jipam.core.cni.IpamConfig;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.DataDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Refuses an ADD on jipamd's socket whose config says {@code "daemon": "auto"} and names a store
 * other than jipamd's. Such a config runs in direct mode, on its own {@code store} and {@code
 * dataDir}, whenever jipamd's default socket is missing (jipamd stopped or not yet started); on
 * another store than jipamd's, the plugin on its own hands out jipamd's addresses again (two pods on
 * one address). A config with an explicit daemon socket never runs on its own store, and is not
 * checked (its {@code store} and {@code dataDir} are not read in daemon mode).
 *
 * <p>Compared: the store's kind (host-local's files, or not), and for files the directory. A
 * directory jipamd cannot see (a container's view of the host) is taken as the config names it;
 * one that is the same directory through another path (a link, a bind mount) is the same. Two etcd
 * stores are not compared. The answer for each directory is kept (at most {@link #REMEMBERED}), so a
 * call costs a look-up. Thread-safe.
 */
final class AutoFallbackCheck {
  static final int REMEMBERED = 64;
  /** jipamd's data dir; null when its store keeps none (etcd, a remote jipamd, memory). */
  private final Path dataDir;
  private final ConcurrentHashMap<Path, Boolean> same = new ConcurrentHashMap<>();

  AutoFallbackCheck(IpamStore store) {
    this.dataDir = store.capability(DataDirectory.class).map(DataDirectory::path).orElse(null);
  }

  /** @throws IpamException INVALID_CONFIG (code 7) naming both stores when the config's is another */
  void admit(IpamConfig ipam) {
    if (!ipam.daemonAuto()) {
      return;
    }
    boolean files = ipam.storeType().equals("host-local");
    if (dataDir == null) {
      if (files) {
        throw refused("ipam.dataDir " + Printable.quote(ipam.dataDir().toString()) + " (host-local's files), while"
            + " this jipamd's store is not a data dir; name jipamd's store in ipam.store");
      }
      return;
    }
    if (!files) {
      throw refused("ipam.store " + Printable.quote(ipam.storeType()) + ", while this jipamd keeps its addresses in"
          + " the data dir " + Printable.quote(dataDir.toString()) + "; leave ipam.store out and set dataDir to it");
    }
    Path named = ipam.dataDir();
    if (named.equals(dataDir)) {
      return;
    }
    Boolean answer = same.get(named);
    if (answer == null) {
      answer = sameDirectory(named);
      if (same.size() < REMEMBERED) {
        same.put(named, answer);
      }
    }
    if (!answer) {
      throw refused("ipam.dataDir " + Printable.quote(named.toString()) + ", not this jipamd's data dir "
          + Printable.quote(dataDir.toString()) + "; set dataDir to it");
    }
  }

  private static IpamException refused(String what) {
    return IpamException.invalidConfig("%s", "ipam.daemon is \"auto\", so this config runs in direct mode on its own"
        + " store whenever jipamd's socket is missing, and hands out jipamd's addresses again from it: it names " + what);
  }

  private boolean sameDirectory(Path named) {
    try {
      return Files.isSameFile(named, dataDir);
    } catch (IOException | SecurityException notVisibleHere) {
      return true; // missing in jipamd's view (or unreadable): nothing to compare with
    }
  }
}
