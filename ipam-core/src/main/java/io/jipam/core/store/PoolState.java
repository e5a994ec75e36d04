package io.jipam.core.store;

import io.jipam.core.alloc.RangeSetAllocator;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One pool's allocations in memory: a {@link RangeSetAllocator} per range set, the allocations by
 * address and by attachment, and the round-robin cursor of each set. It implements the semantics
 * of the {@link IpamStore} contract; stores load it from where they keep their state, run one
 * operation, and persist what it reports changed.
 *
 * <p>Not thread-safe: the store that owns an instance guards it with its lock.
 */
public final class PoolState {
  // comparators as classes, not lambdas: a one-shot plugin process pays for bootstrapping lambdas
  private static final Comparator<Allocation> BY_ADDRESS = new Comparator<>() {
    @Override
    public int compare(Allocation x, Allocation y) {
      return x.address().compareTo(y.address());
    }
  };
  private static final Comparator<Allocation> BY_RANGE_SET = new Comparator<>() {
    @Override
    public int compare(Allocation x, Allocation y) {
      return Integer.compare(x.rangeSetIndex(), y.rangeSetIndex());
    }
  };

  private final Pool pool;
  private final RangeSetAllocator[] allocators;
  private final IpAddress[] cursors;
  private final TreeMap<IpAddress, Allocation> byAddress = new TreeMap<>();
  private final Map<Attachment, List<Allocation>> byAttachment = new HashMap<>();

  public PoolState(Pool pool) {
    this.pool = pool;
    int sets = pool.rangeSets().size();
    this.allocators = new RangeSetAllocator[sets];
    for (int i = 0; i < sets; i++) {
      allocators[i] = new RangeSetAllocator(pool.rangeSets().get(i));
    }
    this.cursors = new IpAddress[sets];
  }

  public Pool pool() {
    return pool;
  }

  /**
   * Adds an allocation read back from storage. Its range set index is recomputed against the
   * pool as configured now (-1 when it lies in none). Returns false, changing nothing, when
   * another attachment already holds the address.
   */
  public boolean load(IpAddress address, Attachment attachment, PodRef pod) {
    Allocation held = byAddress.get(address);
    if (held != null) {
      return held.attachment().equals(attachment);
    }
    int set = pool.rangeSetIndexOf(address);
    if (set >= 0) {
      allocators[set].mark(address);
    }
    index(new Allocation(address, set, attachment, pod));
    return true;
  }

  /** The last address reserved in the range set, or null. */
  public IpAddress cursor(int rangeSetIndex) {
    return cursors[rangeSetIndex];
  }

  public void setCursor(int rangeSetIndex, IpAddress lastReserved) {
    cursors[rangeSetIndex] = lastReserved;
  }

  /**
   * Runs an ADD. Only an {@link AllocationOutcome.Allocated} outcome that is not {@code existing}
   * changes this state; it also moves the cursor of every set it allocated in.
   */
  public AllocationOutcome allocate(AllocationRequest request) {
    int sets = allocators.length;
    Allocation[] chosen = new Allocation[sets];
    for (Allocation held : byAttachment.getOrDefault(request.attachment(), List.of())) {
      if (held.rangeSetIndex() >= 0 && chosen[held.rangeSetIndex()] == null) {
        chosen[held.rangeSetIndex()] = held;
      }
    }
    boolean[] isNew = new boolean[sets];
    for (IpAddress wanted : request.requested()) {
      int set = pool.rangeSetIndexOf(wanted);
      if (set < 0) {
        return new AllocationOutcome.Unavailable(wanted,
            "requested address " + wanted + " is in no range of network " + pool.name());
      }
      if (chosen[set] != null) {
        if (chosen[set].address().equals(wanted)) {
          continue;
        }
        String why = isNew[set]
            ? "another requested address is in the same range set " + pool.rangeSets().get(set)
            : request.attachment() + " already holds " + chosen[set].address() + " in range set "
                + pool.rangeSets().get(set);
        return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted + ": " + why);
      }
      RangeSet rangeSet = pool.rangeSets().get(set);
      IpRange range = rangeSet.ranges().get(rangeSet.indexOf(wanted));
      if (range.isReserved(wanted)) {
        return new AllocationOutcome.Unavailable(wanted, "requested address " + wanted
            + " is reserved in range " + range + " (network, broadcast, gateway or excluded)");
      }
      Allocation holder = byAddress.get(wanted);
      if (holder != null) {
        return new AllocationOutcome.Taken(wanted, holder.attachment());
      }
      chosen[set] = new Allocation(wanted, set, request.attachment(), request.pod());
      isNew[set] = true;
    }
    boolean anyNew = false;
    for (int set = 0; set < sets; set++) {
      if (chosen[set] == null) {
        IpAddress next = allocators[set].next(pool.order(), cursors[set]);
        if (next == null) {
          return new AllocationOutcome.Exhausted(set);
        }
        chosen[set] = new Allocation(next, set, request.attachment(), request.pod());
        isNew[set] = true;
      }
      anyNew |= isNew[set];
    }
    for (int set = 0; set < sets; set++) {
      if (isNew[set]) {
        allocators[set].mark(chosen[set].address());
        index(chosen[set]);
        cursors[set] = chosen[set].address();
      }
    }
    return new AllocationOutcome.Allocated(List.of(chosen), !anyNew);
  }

  /** Runs a DEL: releases and returns every allocation of the attachment. */
  public List<Allocation> release(Attachment attachment) {
    List<Allocation> held = byAttachment.remove(attachment);
    if (held == null) {
      return List.of();
    }
    for (Allocation a : held) {
      byAddress.remove(a.address());
      if (a.rangeSetIndex() >= 0) {
        allocators[a.rangeSetIndex()].unmark(a.address());
      }
    }
    return held;
  }

  /** The attachment's allocations, in range set order. */
  public List<Allocation> find(Attachment attachment) {
    List<Allocation> held = byAttachment.get(attachment);
    return held == null ? List.of() : List.copyOf(held);
  }

  /** The allocation holding the address, or null. */
  public Allocation holderOf(IpAddress address) {
    return byAddress.get(address);
  }

  /** Every allocation, ordered by address. */
  public List<Allocation> list() {
    return List.copyOf(byAddress.values());
  }

  public Collection<Allocation> allocations() {
    return java.util.Collections.unmodifiableCollection(byAddress.values());
  }

  /** Runs a GC: releases every allocation whose attachment is not in {@code valid}. */
  public List<Allocation> retainOnly(Set<Attachment> valid) {
    List<Attachment> stale = new ArrayList<>();
    for (Attachment a : byAttachment.keySet()) {
      if (!valid.contains(a)) {
        stale.add(a);
      }
    }
    List<Allocation> released = new ArrayList<>();
    for (Attachment a : stale) {
      released.addAll(release(a));
    }
    released.sort(BY_ADDRESS);
    return released;
  }

  public PoolUsage usage() {
    List<Long> allocated = new ArrayList<>();
    List<Long> free = new ArrayList<>();
    for (RangeSetAllocator allocator : allocators) {
      allocated.add(allocator.allocated());
      free.add(allocator.capacity() == -1L ? -1L : allocator.capacity() - allocator.allocated());
    }
    return new PoolUsage(allocated, free);
  }

  private void index(Allocation allocation) {
    byAddress.put(allocation.address(), allocation);
    List<Allocation> held = byAttachment.get(allocation.attachment());
    if (held == null) {
      held = new ArrayList<>(2);
      byAttachment.put(allocation.attachment(), held);
    }
    held.add(allocation);
    held.sort(BY_RANGE_SET);
  }
}
