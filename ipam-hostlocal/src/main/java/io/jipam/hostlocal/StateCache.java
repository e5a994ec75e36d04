package io.jipam.hostlocal;

import io.jipam.core.store.spi.PoolState;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a long-lived store keeps between calls: per network, the whole state as of a stamp (so a
 * call whose stamp still holds need not parse the index), and which networks it has served (in
 * {@link HostLocalStore.Mode#AUTO}, the first call on a network takes the one-shot path, later
 * ones the cached whole state). {@link HostLocalStore.Mode#FAST} keeps nothing. Thread-safe; each
 * entry is read and written only under its pool's locks.
 */
final class StateCache {
  /** The whole state a store last saw or left, with the stamp text it belongs to. */
  static final class Entry {
    final PoolState state;
    final String stamp;
    final long base;
    /**
     * Non-null when the store holds the pool's stamp ({@link PoolSession#openHolding}): the stamp
     * file is absent by its doing, and this is what the directories and cursors looked like when
     * its last call ended.
     */
    final Stamp held;
    /** With {@link #held}: the cursor files' lengths as the store left them. */
    final long[] cursorLengths;

    Entry(PoolState state, String stamp, long base) {
      this(state, stamp, base, null, null);
    }

    private Entry(PoolState state, String stamp, long base, Stamp held, long[] cursorLengths) {
      this.state = state;
      this.stamp = stamp;
      this.base = base;
      this.held = held;
      this.cursorLengths = cursorLengths;
    }
  }

  private final HostLocalStore.Mode mode;
  private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
  private final Set<String> served = ConcurrentHashMap.newKeySet();

  StateCache(HostLocalStore.Mode mode) {
    this.mode = mode;
  }

  /** Removes and returns the network's entry (a call may change the state); null when none. */
  Entry take(String network) {
    return entries.remove(network);
  }

  /** The network's entry, left in place; null when none. */
  Entry peek(String network) {
    return entries.get(network);
  }

  /** Keeps the whole state of a pool whose stamp the store holds ({@link Entry#held}). */
  void keepHeld(String network, PoolState state, Stamp held, long[] cursorLengths) {
    if (mode != HostLocalStore.Mode.FAST) {
      entries.put(network, new Entry(state, held.text(), 0, held, cursorLengths.clone()));
    }
  }

  /** The networks with an entry whose stamp the store holds. */
  java.util.List<String> heldNetworks() {
    java.util.List<String> out = new java.util.ArrayList<>();
    entries.forEach((network, e) -> {
      if (e.held != null) {
        out.add(network);
      }
    });
    return out;
  }

  /** Keeps the whole state as of {@code stamp} (nothing in FAST mode). */
  void keep(String network, PoolState state, String stamp, long base) {
    if (mode != HostLocalStore.Mode.FAST) {
      entries.put(network, new Entry(state, stamp, base));
    }
  }

  /** Whether calls on the network use the whole state rather than the one-shot path. */
  boolean longLived(String network) {
    return mode == HostLocalStore.Mode.AUTO && served.contains(network);
  }

  void served(String network) {
    served.add(network);
  }

  void clear() {
    entries.clear();
  }
}
