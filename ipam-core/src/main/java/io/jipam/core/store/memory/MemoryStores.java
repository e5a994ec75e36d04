package io.jipam.core.store.memory;

import io.jipam.core.store.IpamStore;
import java.time.Clock;

/**
 * Opens stores that keep everything in this process's memory: for jipamd's {@code memory} store,
 * tests and benchmarks. Every store offers the {@link
 * io.jipam.core.store.capability.Claims} ability. Nothing is durable; thread-safe (one lock per store).
 */
public final class MemoryStores {
  private MemoryStores() {}

  /** A new, empty store. */
  public static IpamStore open() {
    return new InMemoryStore(Clock.systemUTC());
  }

  /**
   * A new, empty store whose holds and cool-downs start and end by {@code clock} (tests pass a
   * clock they move).
   */
  public static IpamStore open(Clock clock) {
    return new InMemoryStore(clock);
  }
}
