package io.jipam.core.store.spi;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReserveOutcome;
import java.time.Instant;
import java.util.List;

/**
 * What the other pools of a pool's network hold, as the calling store sees them: the addresses an
 * ADD in this pool must not hand out ({@link PoolState#allocate(io.jipam.core.store.AllocationRequest,
 * OtherPools)}), and what they have on an address a reservation in this pool asks for ({@link
 * #usesOf}, {@link PoolState#reserve(IpAddress, PodRef, boolean, OtherPools)}).
 *
 * <h2>Why</h2>
 * A network's pools ({@code N} and its sub-pools {@code N+x}, {@link Pool#networkOf}) share one
 * address space: one config keeps their ranges apart, but after a sub-pool is renamed or removed,
 * or ranges move from one pool to another, a pool the config no longer names (or names with other
 * ranges) still holds addresses that now lie in another pool's ranges. A store that asks this
 * before it hands out an address never gives one of them to a second attachment.
 *
 * <p>Called under the calling store's lock of the pool allocated (or reserved) in, from the
 * calling thread only; an implementation reads the other pools as they are at the call (a file,
 * another pool's state), not a copy that could be stale.
 */
public interface OtherPools {
  /** No other pool of the network holds anything: the answer of a network with one pool. */
  OtherPools NONE = new OtherPools() {
    @Override
    public Held holderOf(IpAddress address) {
      return null;
    }

    @Override
    public List<Use> usesOf(IpAddress address) {
      return List.of();
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

  /**
   * What another pool of the network has on an address: the attachment holding it there with its
   * pod, its claim there (a hold, reservation or cool-down, as stored: maybe expired), or both (a
   * reservation of an allocated address).
   *
   * @param attachment null when no attachment holds it there
   * @param pod the holder's pod; {@link PodRef#UNKNOWN} when not recorded or none holds it
   * @param claim null when it has none there
   */
  record Use(String pool, Attachment attachment, PodRef pod, Claim claim) {
    public Use {
      java.util.Objects.requireNonNull(pool, "pool");
      pod = pod == null ? PodRef.UNKNOWN : pod;
    }
  }

  /**
   * What each other pool of the network that has anything on {@code address} has on it; empty when
   * none. Reads more than {@link #holderOf} (the holder's pod, the claim): for a reservation, not
   * for each address an ADD considers.
   */
  List<Use> usesOf(IpAddress address);

  /**
   * Why another pool of the network keeps {@code wanted} (a reservation) from being recorded, by
   * {@link io.jipam.core.store.capability.Claims#reserve}'s rules: {@link ReserveOutcome.InUse}
   * naming the holder and that pool when one of {@code uses} has a live reservation of the address
   * (for anyone: one address, one reservation per network), or, unless {@code whenFree}, has it
   * allocated to a pod or held for a pod the reservation does not admit; null when none does. A
   * cool-down there keeps nothing from being recorded (it keeps the address from this pool's ADDs
   * until it ends). Every store decides with this, the etcd store from its blocks.
   */
  static ReserveOutcome.InUse refusal(Claim wanted, boolean whenFree, List<Use> uses, Instant now) {
    for (Use u : uses) {
      Claim c = u.claim() == null || u.claim().expiredAt(now) ? null : u.claim();
      String holder = null;
      if (c != null && c.kind() == Claim.Kind.RESERVATION) {
        holder = ClaimText.describe(c);
      } else if (!whenFree && u.attachment() != null && !wanted.admits(u.pod())) {
        holder = ClaimText.allocatedTo(u.attachment(), u.pod());
      } else if (!whenFree && c != null && c.kind() == Claim.Kind.HOLD && !wanted.admits(c.pod())) {
        holder = ClaimText.describe(c);
      }
      if (holder != null) {
        return new ReserveOutcome.InUse(wanted.address(), ClaimText.inOtherPool(holder, u.pool()), u.pool());
      }
    }
    return null;
  }
}
