package io.jipam.core.store.spi;

import io.jipam.core.alloc.RangeSetAllocator;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.ReserveOutcome;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * One pool's allocations in memory: a {@link RangeSetAllocator} per range set, the allocations by
 * address and by attachment, and the round-robin cursor of each set. It implements the semantics
 * of the {@link IpamStore} contract; stores load it from where they keep their state, run one
 * operation, and persist what it reports changed.
 *
 * <p>It also keeps the pool's claims (holds, reservations, cool-downs) and applies {@link
 * AddressPolicy}'s rules with the time of the clock it was given: a claimed address that is not
 * allocated stays marked in its set's allocator, so the search for a free address skips it without
 * a look-up. A pool with {@link AddressPolicy#NONE} and no claims never reads the clock and pays
 * nothing for them (the plugin's exec path). {@link #claimsChanged()} tells a store whether it must
 * persist the claims.
 *
 * <p>Length: about 650 lines, as one class on purpose: the claims change what the allocator marks
 * and what an ADD or a DEL does to the address and attachment indexes, in the same step; the
 * claims' bookkeeping (by address, by pod, counts per set) is {@link ClaimTable}, their messages
 * {@link ClaimText}.
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
  private final Clock clock;
  /** The pool's claims; null while it has none (and the policy makes none yet). */
  private ClaimTable claims;
  private boolean claimsChanged;
  /**
   * Addresses reserved "when free" while another pod's attachment held them (or read back so):
   * the only reserved addresses allocated to a pod the reservation does not admit. Null when none.
   */
  private Set<IpAddress> reservedWhenFree;
  private final RangeSetAllocator[] allocators;
  private final IpAddress[] cursors;
  private final TreeMap<IpAddress, Allocation> byAddress = new TreeMap<>();
  private final Map<Attachment, List<Allocation>> byAttachment = new HashMap<>();
  /** The other pools of the network during an ADD ({@link #allocate(AllocationRequest, OtherPools)}). */
  private OtherPools others = OtherPools.NONE;
  /** Addresses other pools hold, marked in their set's allocator for the rest of one ADD; null when none. */
  private List<IpAddress> markedForOthers;
  private final RequestedAddresses.Holders holders = new RequestedAddresses.Holders() {
    @Override
    public Attachment holderOf(int rangeSet, IpAddress address) {
      Allocation holder = byAddress.get(address);
      return holder == null ? null : holder.attachment();
    }
  };

  /** An empty state whose claims run on the system clock. */
  public PoolState(Pool pool) {
    this(pool, null);
  }

  /**
   * An empty state whose holds and cool-downs start and end by {@code clock}; null for the system
   * clock, read as {@link Instant#now()} only when a claim needs the time (a {@link Clock} object
   * costs a one-shot plugin process the time-zone classes' start-up).
   */
  public PoolState(Pool pool, Clock clock) {
    this.pool = pool;
    this.clock = clock;
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

  /** The clock this state's holds and cool-downs run on; null for the system clock. */
  public Clock clock() {
    return clock;
  }

  /**
   * Adds an allocation read back from storage. Its range set index is recomputed against the
   * pool as configured now (-1 when it lies in none). Returns false, changing nothing, when
   * another attachment already holds the address.
   */
  public boolean load(IpAddress address, Attachment attachment, PodRef pod) {
    return load(address, attachment, pod, null);
  }

  /** {@link #load(IpAddress, Attachment, PodRef)} with the origin recorded (null: not recorded). */
  public boolean load(IpAddress address, Attachment attachment, PodRef pod, AllocationOrigin origin) {
    Allocation held = byAddress.get(address);
    if (held != null) {
      return held.attachment().equals(attachment);
    }
    int set = pool.rangeSetIndexOf(address);
    if (set >= 0) {
      allocators[set].mark(address);
    }
    index(new Allocation(address, set, attachment, pod, origin));
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
   * Runs an ADD by {@link AddressPolicy}'s rules. Only an {@link AllocationOutcome.Allocated}
   * outcome that is not {@code existing} changes the allocations; it also moves the cursor of every
   * set it allocated in. Expired claims are dropped first (which {@link #claimsChanged()} reports).
   */
  public AllocationOutcome allocate(AllocationRequest request) {
    return allocate(request, OtherPools.NONE);
  }

  /**
   * {@link #allocate(AllocationRequest)} in a pool whose network has other pools: an address one of
   * them holds ({@link OtherPools#holderOf}) is never handed out. The search for a free address (or
   * a claimed one for the pod) passes over it, and a request for it is {@link
   * AllocationOutcome.Taken} by its holder there. Each address the search meets is asked about once
   * per call, and nothing of the answers is kept after the call: a later call asks again.
   */
  public AllocationOutcome allocate(AllocationRequest request, OtherPools otherPools) {
    others = otherPools;
    try {
      return allocateAvoidingOthers(request);
    } finally {
      others = OtherPools.NONE;
      if (markedForOthers != null) {
        for (IpAddress a : markedForOthers) {
          allocators[pool.rangeSetIndexOf(a)].unmark(a);
        }
        markedForOthers = null;
      }
    }
  }

  private AllocationOutcome allocateAvoidingOthers(AllocationRequest request) {
    if (claimsActive()) {
      expire(now());
    }
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
    boolean claimed = claims != null && !claims.isEmpty();
    AllocationOrigin[] origins = new AllocationOrigin[sets];
    boolean[] isNew = new boolean[sets];
    boolean anyNew = false;
    for (int set = 0; set < sets; set++) {
      if (held[set] != null) {
        chosen[set] = held[set];
        origins[set] = AllocationOrigin.EXISTING;
      } else if (chosen[set] != null) {
        OtherPools.Held elsewhere = others.holderOf(chosen[set].address());
        if (elsewhere != null) {
          return elsewhere.attachment() != null
              ? new AllocationOutcome.Taken(chosen[set].address(), elsewhere.attachment(), elsewhere.pool())
              : new AllocationOutcome.Unavailable(chosen[set].address(), "requested address " + chosen[set].address()
                  + " is claimed (held, reserved or cooling) in pool " + elsewhere.pool() + " of network "
                  + Pool.networkOf(pool.name()) + ", whose pools share its addresses");
        }
        Claim c = claimed ? claims.get(chosen[set].address()) : null;
        if (c != null && !c.admits(request.pod())) {
          return new AllocationOutcome.Unavailable(c.address(), "requested address " + c.address() + " is "
              + ClaimText.describe(c));
        }
        origins[set] = AllocationOrigin.REQUESTED;
      } else {
        IpAddress next = claimed ? claimedFor(request.pod(), request.attachment().ifname(), set) : null;
        AllocationOrigin origin = next == null ? AllocationOrigin.FREE
            : claims.get(next).kind() == Claim.Kind.RESERVATION ? AllocationOrigin.RESERVED : AllocationOrigin.STICKY;
        if (next == null) {
          next = nextFree(set);
        }
        if (next == null && claimed) {
          Claim cooled = claims.longestCooling(set);
          if (cooled != null && others.holderOf(cooled.address()) == null) {
            next = cooled.address();
            origin = AllocationOrigin.COOLED;
          }
        }
        if (next == null) {
          return new AllocationOutcome.Exhausted(set, claimed ? claimedAway(set) : 0);
        }
        chosen[set] = new Allocation(next, set, request.attachment(), request.pod(), origin);
        origins[set] = origin;
      }
      isNew[set] = held[set] == null;
      anyNew |= isNew[set];
    }
    for (int set = 0; set < sets; set++) {
      if (isNew[set]) {
        IpAddress address = chosen[set].address();
        Claim c = claimed ? claims.get(address) : null;
        if (c == null) {
          allocators[set].mark(address);
        } else if (c.kind() != Claim.Kind.RESERVATION) {
          claims.remove(address); // a hold or cool-down ends; the address stays marked, now allocated
          claimsChanged = true;
          if (origins[set] == AllocationOrigin.COOLED) {
            log("network " + pool.name() + ": nothing but cooling addresses left in range set " + set + ": "
                + address + " goes to " + request.attachment() + " (pod " + request.pod() + ") before its cool-down"
                + " ends at " + c.until());
          }
        }
        index(chosen[set]);
        cursors[set] = address;
      }
    }
    return new AllocationOutcome.Allocated(List.of(chosen), !anyNew, Arrays.asList(origins));
  }

  /**
   * The next free address of the set after its cursor that no other pool of the network holds;
   * each one another pool holds stays marked until the end of this ADD, so the search goes past it.
   */
  private IpAddress nextFree(int set) {
    IpAddress next = allocators[set].next(pool.order(), cursors[set]);
    while (next != null && others != OtherPools.NONE && others.holderOf(next) != null) {
      allocators[set].mark(next);
      if (markedForOthers == null) {
        markedForOthers = new ArrayList<>();
      }
      markedForOthers.add(next);
      next = allocators[set].next(pool.order(), cursors[set]);
    }
    return next;
  }

  /**
   * Runs a DEL: releases and returns every allocation of the attachment; each address becomes a
   * claim or free by {@link AddressPolicy}'s rules.
   */
  public List<Allocation> release(Attachment attachment) {
    List<Allocation> held = byAttachment.remove(attachment);
    if (held == null) {
      return List.of();
    }
    Instant now = claimsActive() ? now() : null;
    if (now != null) {
      expire(now);
    }
    for (Allocation a : held) {
      byAddress.remove(a.address());
      if (reservedWhenFree != null) {
        reservedWhenFree.remove(a.address());
      }
      if (a.rangeSetIndex() >= 0 && (now == null || !claimOnRelease(a, now))) {
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

  /**
   * How full the pool is: allocated counts allocations only; free excludes held and reserved
   * addresses and includes cooling ones (they can be handed out in the last resort).
   */
  public PoolUsage usage() {
    long[] allocated = new long[allocators.length];
    long[] capacity = new long[allocators.length];
    for (int i = 0; i < allocators.length; i++) {
      allocated[i] = allocators[i].allocated();
      capacity[i] = allocators[i].capacity();
    }
    if (claims != null && !claims.isEmpty()) {
      Instant now = now();
      for (Claim c : claims.all()) {
        int set = claims.rangeSetOf(c.address());
        if (set < 0 || byAddress.containsKey(c.address())) {
          continue;
        }
        allocated[set]--; // marked for the claim, not allocated
        if (c.kind() != Claim.Kind.COOLING && !c.expiredAt(now) && capacity[set] != -1L) {
          capacity[set]--;
        }
      }
    }
    return PoolUsage.of(allocated, capacity);
  }

  // ---------------------------------------------------------------- claims

  /**
   * Addresses of range set {@code set} that no attachment holds and an unexpired hold or
   * reservation keeps (an ADD that found the set exhausted could take none of them); for the
   * refusal's message only, so it walks the claims.
   */
  private long claimedAway(int set) {
    Instant now = now();
    long n = 0;
    for (Claim c : claims.all()) {
      if (c.kind() != Claim.Kind.COOLING && !c.expiredAt(now) && claims.rangeSetOf(c.address()) == set
          && !byAddress.containsKey(c.address())) {
        n++;
      }
    }
    return n;
  }

  /**
   * Adds a claim read back from storage (after the allocations). A hold or cool-down of an address
   * that is allocated is dropped (the allocation is newer); returns whether the claim was kept.
   */
  public boolean loadClaim(Claim claim) {
    IpAddress address = claim.address();
    boolean allocated = byAddress.containsKey(address);
    int set = pool.rangeSetIndexOf(address);
    if (allocated && claim.kind() != Claim.Kind.RESERVATION || set < 0 && claim.kind() != Claim.Kind.RESERVATION) {
      return false;
    }
    Claim old = table().get(address);
    claims.put(claim, set);
    if (allocated && !claim.admits(byAddress.get(address).pod())) {
      waitingFor(address);
    }
    if (old == null && !allocated && set >= 0) {
      allocators[set].mark(address);
    }
    return true;
  }

  /** The claim on the address (expired or not), or null. */
  public Claim claimOf(IpAddress address) {
    return claims == null ? null : claims.get(address);
  }

  /** Every claim kept, expired ones not yet dropped included, by address: what a store persists. */
  public List<Claim> storedClaims() {
    return claims == null ? List.of() : claims.all();
  }

  /** How many claims are kept (expired ones not yet dropped included). */
  public int claimCount() {
    return claims == null ? 0 : claims.size();
  }

  /** Whether the claims changed since the last call of this method (the store must persist them). */
  public boolean claimsChanged() {
    boolean changed = claimsChanged;
    claimsChanged = false;
    return changed;
  }

  /** Every unexpired claim, by address ({@link io.jipam.core.store.capability.Claims#claims}). */
  public List<Claim> claims() {
    if (claims == null) {
      return List.of();
    }
    Instant now = now();
    List<Claim> out = new ArrayList<>();
    for (Claim c : claims.all()) {
      if (!c.expiredAt(now)) {
        out.add(c);
      }
    }
    return out;
  }

  /**
   * {@link io.jipam.core.store.capability.Claims#reserve} in a pool whose network has no other
   * pools: changes nothing unless Reserved.
   */
  public ReserveOutcome reserve(IpAddress address, PodRef podOrNamespace, boolean whenFree) {
    return reserve(address, podOrNamespace, whenFree, OtherPools.NONE);
  }

  /**
   * {@link io.jipam.core.store.capability.Claims#reserve}: changes nothing unless Reserved. What
   * the other pools of the network have on the address ({@link OtherPools#usesOf}) is asked once,
   * after this pool's own refusals, and refuses by {@link OtherPools#refusal}; the store calls it
   * holding whatever keeps those pools' ADDs and reservations from changing that meanwhile.
   */
  public ReserveOutcome reserve(IpAddress address, PodRef podOrNamespace, boolean whenFree, OtherPools otherPools) {
    Instant now = now();
    expire(now);
    int set = pool.rangeSetIndexOf(address);
    if (set < 0) {
      return new ReserveOutcome.Unavailable(address, address + " is in no range of network " + pool.name());
    }
    RangeSet rangeSet = pool.rangeSets().get(set);
    if (rangeSet.ranges().get(rangeSet.indexOf(address)).isReserved(address)) {
      return new ReserveOutcome.Unavailable(address, address + " is the gateway or excluded in network "
          + pool.name());
    }
    Claim wanted = Claim.reservation(address, podOrNamespace);
    Claim c = table().get(address);
    if (c != null && c.kind() == Claim.Kind.RESERVATION) {
      return c.pod().equals(podOrNamespace) ? new ReserveOutcome.Reserved(c)
          : new ReserveOutcome.InUse(address, ClaimText.describe(c));
    }
    Allocation holder = byAddress.get(address);
    if (!whenFree && holder != null && !wanted.admits(holder.pod())) {
      return new ReserveOutcome.InUse(address, ClaimText.allocatedTo(holder.attachment(), holder.pod()));
    }
    if (!whenFree && c != null && c.kind() == Claim.Kind.HOLD && !wanted.admits(c.pod())) {
      return new ReserveOutcome.InUse(address, ClaimText.describe(c));
    }
    if (otherPools != OtherPools.NONE) {
      ReserveOutcome.InUse elsewhere = OtherPools.refusal(wanted, whenFree, otherPools.usesOf(address), now);
      if (elsewhere != null) {
        return elsewhere;
      }
    }
    if (table().reservations() >= io.jipam.core.Limits.MAX_RESERVATIONS) {
      return new ReserveOutcome.Unavailable(address, "network " + pool.name() + " has "
          + io.jipam.core.Limits.MAX_RESERVATIONS + " reservations, the most it may have");
    }
    claims.put(wanted, set); // replaces a hold or cool-down
    if (holder != null && !wanted.admits(holder.pod())) {
      waitingFor(address);
    }
    if (holder == null && c == null) {
      allocators[set].mark(address);
    }
    claimsChanged = true;
    return new ReserveOutcome.Reserved(wanted);
  }

  /** {@link io.jipam.core.store.capability.Claims#unreserve}. */
  public Optional<Claim> unreserve(IpAddress address) {
    return endClaim(address, Claim.Kind.RESERVATION);
  }

  /** {@link io.jipam.core.store.capability.Claims#endHold}. */
  public Optional<Claim> endHold(IpAddress address) {
    expire(now());
    return endClaim(address, Claim.Kind.HOLD);
  }

  private Optional<Claim> endClaim(IpAddress address, Claim.Kind kind) {
    Claim c = claims == null ? null : claims.get(address);
    if (c == null || c.kind() != kind) {
      return Optional.empty();
    }
    int set = claims.rangeSetOf(address);
    claims.remove(address);
    if (reservedWhenFree != null) {
      reservedWhenFree.remove(address);
    }
    if (set >= 0 && !byAddress.containsKey(address)) {
      allocators[set].unmark(address);
    }
    claimsChanged = true;
    return Optional.of(c);
  }

  private void waitingFor(IpAddress address) {
    if (reservedWhenFree == null) {
      reservedWhenFree = new java.util.HashSet<>();
    }
    reservedWhenFree.add(address);
  }

  /** Whether the address was reserved "when free" while another pod held it; for invariant checks. */
  boolean reservedWhenFree(IpAddress address) {
    return reservedWhenFree != null && reservedWhenFree.contains(address);
  }

  private Instant now() {
    return clock == null ? Instant.now() : clock.instant();
  }

  private boolean claimsActive() {
    return claims != null && !claims.isEmpty() || !pool.policy().isNone();
  }

  private ClaimTable table() {
    if (claims == null) {
      claims = new ClaimTable(allocators.length);
    }
    return claims;
  }

  /** Drops claims expired at {@code now}, unmarking their addresses when unallocated. */
  private void expire(Instant now) {
    if (claims == null || claims.isEmpty()) {
      return;
    }
    for (Claim c : claims.expire(now)) {
      int set = pool.rangeSetIndexOf(c.address());
      if (set >= 0 && !byAddress.containsKey(c.address())) {
        allocators[set].unmark(c.address());
      }
      claimsChanged = true;
    }
  }

  /**
   * An unallocated address of the set reserved for the pod by name, else for its namespace, else
   * held for the pod (first one its interface {@code ifname} released: a pod with two interfaces on
   * the network gets each one's address back on it); null when none.
   */
  private IpAddress claimedFor(PodRef pod, String ifname, int set) {
    if (pod.namespace().isEmpty()) {
      return null;
    }
    IpAddress found = claimed(pod, set, Claim.Kind.RESERVATION, null);
    if (found == null) {
      found = claimed(new PodRef(pod.namespace(), ""), set, Claim.Kind.RESERVATION, null);
    }
    if (found == null) {
      found = claimed(pod, set, Claim.Kind.HOLD, ifname);
    }
    return found != null ? found : claimed(pod, set, Claim.Kind.HOLD, null);
  }

  /** The first unallocated address of the set with a claim of that kind for the key; with {@code ifname}, one that interface released. */
  private IpAddress claimed(PodRef key, int set, Claim.Kind kind, String ifname) {
    for (IpAddress a : claims.forPod(key)) {
      Claim c = claims.get(a);
      if (c.kind() == kind && claims.rangeSetOf(a) == set && !byAddress.containsKey(a)
          && (ifname == null || c.releasedBy() != null && ifname.equals(c.releasedBy().ifname()))
          && others.holderOf(a) == null) {
        return a;
      }
    }
    return null;
  }

  /**
   * What a release leaves on the address by the policy: keeps a reservation, else makes a hold
   * (within the set's bound) or a cool-down. Returns whether the address stays marked.
   */
  private boolean claimOnRelease(Allocation a, Instant now) {
    IpAddress address = a.address();
    int set = a.rangeSetIndex();
    Claim c = claims == null ? null : claims.get(address);
    if (c != null && c.kind() == Claim.Kind.RESERVATION) {
      return true;
    }
    AddressPolicy policy = pool.policy();
    StickyRule sticky = policy.sticky();
    PodRef pod = a.pod();
    if (sticky != null && !pod.namespace().isEmpty() && !pod.name().isEmpty() && sticky.appliesTo(pod)) {
      long max = sticky.maxHeld(allocators[set].capacity());
      if (table().holds(set) < max) {
        claims.put(Claim.hold(address, pod, now.plus(sticky.hold()), a.attachment()), set);
        claimsChanged = true;
        return true;
      }
      ClaimEvents.holdRefused(pool.name());
      log("network " + pool.name() + ": no hold of " + address + " for pod " + pod + ": range set " + set
          + " holds its maximum of " + max + " addresses (sticky.maxHeldPercent " + sticky.maxHeldPercent()
          + "); earlier releases keep theirs");
    }
    if (!policy.reuseDelay().isZero()) {
      table().put(Claim.cooling(address, pod, now.plus(policy.reuseDelay()), a.attachment()), set);
      claimsChanged = true;
      return true;
    }
    return false;
  }

  /** Claim events worth an operator's attention go to stderr (the plugin's runtime and jipamd log it). */
  private static void log(String message) {
    System.err.println("jipam: " + message);
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
