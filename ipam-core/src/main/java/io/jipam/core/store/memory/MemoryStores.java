package io.jipam.core.store.memory;

import io.jipam.core.store.IpamStore;

/**
 * Opens stores that keep everything in this process's memory: for jipamd's {@code memory} store,
 * tests and benchmarks. Nothing is durable; thread-safe (one lock per store).
 */
public final class MemoryStores {
  private MemoryStores() {}

  /** A new, empty store. */
  public static IpamStore open() {
    return new InMemoryStore();
  }
}
