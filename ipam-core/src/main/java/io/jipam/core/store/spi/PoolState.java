package io.jipam.core.store.spi;

import io.jipam.core.alloc.RangeSetAllocator;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
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
  private final RequestedAddresses.Holders holders = new RequestedAddresses.Holders() {
    @Override
    public Attachment holderOf(int rangeSet, IpAddress address) {
      Allocation holder = byAddress.get(address);
      return holder == null ? null : holder.attachment();
    }
  };

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
    Allocation[] held = new Allocation[sets];
    for (Allocation a : byAttachment.getOrDefault(request.attachment(), List.of())) {
      if (a.rangeSetIndex() >= 0 && held[a.rangeSetIndex()] == null) {
        held[a.rangeSetIndex()] = a;
      }
    }
    Allocation[] chosen = new Allocation[sets];
    AllocationOutcome refused = RequestedAddresses.check(pool, request, held, holders, chosen);
    if (refused != null) {
      return refused;
    }
    boolean[] isNew = new boolean[sets];
    boolean anyNew = false;
    for (int set = 0; set < sets; set++) {
      if (held[set] != null) {
        chosen[set] = held[set];
      } else if (chosen[set] == null) {
        IpAddress next = allocators[set].next(pool.order(), cursors[set]);
        if (next == null) {
          return new AllocationOutcome.Exhausted(set);
        }
        chosen[set] = new Allocation(next, set, request.attachment(), request.pod());
      }
      isNew[set] = held[set] == null;
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
    long[] allocated = new long[allocators.length];
    long[] capacity = new long[allocators.length];
    for (int i = 0; i < allocators.length; i++) {
      allocated[i] = allocators[i].allocated();
      capacity[i] = allocators[i].capacity();
    }
    return PoolUsage.of(allocated, capacity);
  }

  /** The allocator of a range set; for invariant checks in tests (PoolStateInvariants). */
  RangeSetAllocator allocator(int rangeSetIndex) {
    return allocators[rangeSetIndex];
  }

  /** The allocations by attachment, read-only; for invariant checks in tests. */
  Map<Attachment, List<Allocation>> byAttachment() {
    return java.util.Collections.unmodifiableMap(byAttachment);
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
