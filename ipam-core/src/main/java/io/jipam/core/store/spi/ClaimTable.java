package io.jipam.core.store.spi;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The claims of one pool ({@link Claim}: holds, reservations, cool-downs) with the counts {@link
 * PoolState} needs per range set: by address, by the pod (or namespace) they are for, and how many
 * are held / cooling per set. Only {@link PoolState} changes it, under its store's lock; it keeps
 * the allocator's marks in step (a claimed, unallocated address stays marked, so the free search
 * skips it). Not thread-safe.
 */
final class ClaimTable {
  /** Claim by address, and its range set (-1: in none). */
  private final TreeMap<IpAddress, Claim> byAddress = new TreeMap<>();
  private final Map<IpAddress, Integer> setOf = new HashMap<>();
  /** Holds and reservations by the pod they admit (namespace reservations under {@code ns/""}). */
  private final Map<PodRef, List<IpAddress>> byPod = new HashMap<>();
  private final long[] holds;
  private final long[] cooling;

  private long reservations;

  ClaimTable(int sets) {
    this.holds = new long[sets];
    this.cooling = new long[sets];
  }

  int size() {
    return byAddress.size();
  }

  boolean isEmpty() {
    return byAddress.isEmpty();
  }

  Claim get(IpAddress address) {
    return byAddress.get(address);
  }

  int rangeSetOf(IpAddress address) {
    Integer set = setOf.get(address);
    return set == null ? -1 : set;
  }

  /** Adds (or replaces) the claim of its address. */
  void put(Claim claim, int set) {
    remove(claim.address());
    byAddress.put(claim.address(), claim);
    setOf.put(claim.address(), set);
    if (claim.kind() != Claim.Kind.COOLING) {
      List<IpAddress> list = byPod.get(claim.pod());
      if (list == null) {
        list = new ArrayList<>(1);
        byPod.put(claim.pod(), list);
      }
      list.add(claim.address());
    }
    count(claim, set, 1);
  }

  /** Removes the claim of the address; returns it, or null. */
  Claim remove(IpAddress address) {
    Claim old = byAddress.remove(address);
    if (old == null) {
      return null;
    }
    int set = setOf.remove(address);
    List<IpAddress> list = byPod.get(old.pod());
    if (list != null) {
      list.remove(address);
      if (list.isEmpty()) {
        byPod.remove(old.pod());
      }
    }
    count(old, set, -1);
    return old;
  }

  /** Claims past their expiry at {@code now}, removed from this table (the caller unmarks them). */
  List<Claim> expire(Instant now) {
    List<Claim> ended = null;
    for (Iterator<Claim> it = byAddress.values().iterator(); it.hasNext(); ) {
      Claim c = it.next();
      if (c.expiredAt(now)) {
        ended = ended == null ? new ArrayList<>() : ended;
        ended.add(c);
      }
    }
    if (ended == null) {
      return List.of();
    }
    for (Claim c : ended) {
      remove(c.address());
    }
    return ended;
  }

  /** The addresses claimed for exactly this pod reference (a pod, or {@code ns/""}), or empty. */
  List<IpAddress> forPod(PodRef pod) {
    List<IpAddress> list = byPod.get(pod);
    return list == null ? List.of() : list;
  }

  /** The cooling address of the set whose cool-down ends first, or null. */
  Claim longestCooling(int set) {
    if (cooling[set] == 0) {
      return null;
    }
    Claim best = null;
    for (Claim c : byAddress.values()) {
      if (c.kind() == Claim.Kind.COOLING && setOf.get(c.address()) == set
          && (best == null || c.until().isBefore(best.until()))) {
        best = c;
      }
    }
    return best;
  }

  long holds(int set) {
    return holds[set];
  }

  /** Reservations in the table. */
  long reservations() {
    return reservations;
  }

  long cooling(int set) {
    return cooling[set];
  }

  /** Every claim, by address. */
  List<Claim> all() {
    return List.copyOf(byAddress.values());
  }

  private void count(Claim claim, int set, int delta) {
    if (set < 0) {
      return;
    }
    if (claim.kind() == Claim.Kind.RESERVATION) {
      reservations += delta;
    } else if (claim.kind() == Claim.Kind.HOLD) {
      holds[set] += delta;
    } else if (claim.kind() == Claim.Kind.COOLING) {
      cooling[set] += delta;
    }
  }
}
