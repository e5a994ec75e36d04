package io.jipam.core.store.spi;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;

/**
 * What the other pools of a pool's network hold, as the calling store sees them: the addresses an
 * ADD in this pool must not hand out ({@link PoolState#allocate(io.jipam.core.store.AllocationRequest,
 * OtherPools)}).
 *
 * <h2>Why</h2>
 * A network's pools ({@code N} and its sub-pools {@code N+x}, {@link Pool#networkOf}) share one
 * address space: one config keeps their ranges apart, but after a sub-pool is renamed or removed,
 * or ranges move from one pool to another, a pool the config no longer names (or names with other
 * ranges) still holds addresses that now lie in another pool's ranges. A store that asks this
 * before it hands out an address never gives one of them to a second attachment.
 *
 * <p>Called under the calling store's lock of the pool allocated in, from the allocating thread
 * only; an implementation reads the other pools as they are at the call (a file, another pool's
 * state), not a copy that could be stale.
 */
public interface OtherPools {
  /** No other pool of the network holds anything: the answer of a network with one pool. */
  OtherPools NONE = new OtherPools() {
    @Override
    public Held holderOf(IpAddress address) {
      return null;
    }

    @Override
    public String toString() {
      return "no other pools";
    }
  };

  /**
   * Who holds an address in another pool of the network.
   *
   * @param pool the pool's name
   * @param attachment the attachment holding it there; null when the pool keeps it for a claim (a
   *     hold, reservation or cool-down) and no attachment holds it
   */
  record Held(String pool, Attachment attachment) {
    public Held {
      java.util.Objects.requireNonNull(pool, "pool");
    }
  }

  /** Who holds {@code address} in another pool of the network, or null when no other pool does. */
  Held holderOf(IpAddress address);
}
