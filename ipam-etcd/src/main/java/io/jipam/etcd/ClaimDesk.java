package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.Op;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.ClaimText;
import io.jipam.core.store.spi.OtherPools;
import io.jipam.core.store.capability.ReserveOutcome;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The operators' side of claims ({@link io.jipam.core.store.capability.Claims}): reserve,
 * unreserve, end a hold, list. Each is one etcd transaction compare-and-swapping the block that
 * holds the address (where the claim lives, see {@link Block}) together with the index it touches
 * (the pool's reservations record, a pod's holds), retried on a lost race until the deadline; a
 * refusal writes nothing. The commit tasks' cached copies need no telling: their next transaction
 * is guarded on the revisions these change. Thread-safe.
 *
 * <p>A reservation also asks the other pools of the network ({@link #elsewhere}: their blocks
 * holding the address, read beside the pool's own, one more round trip only when some other pool's
 * ranges hold it) and its transaction compares the network's guard key and those blocks at the
 * revisions read, as an ADD's {@link PeerCheck} does: it never commits over an ADD or reservation
 * of the address in another pool of the network that committed after its read, nor is such an
 * ADD or reservation committed after it without seeing it.
 */
final class ClaimDesk {
  /** Claim events worth an operator's attention go to stderr, as the other stores' do (the plugin's runtime and jipamd log it). */
  static void log(String message) {
    System.err.println("jipam: " + message);
  }
  private static final int MAX_ATTEMPTS = 50;

  private final StoreContext ctx;
  private final PoolViews views;
  /** The pool's checked definition (defining it when needed). */
  private final Function<Pool, PoolCache> caches;

  ClaimDesk(StoreContext ctx, PoolViews views, Function<Pool, PoolCache> caches) {
    this.ctx = ctx;
    this.views = views;
    this.caches = caches;
  }

  /** The address's place in the pool, or why it has none (the same words as every store's). */
  private record Spot(BlockLayout layout, int set, IpAddress net, int offset, String blockKey, String why) {}

  /** {@code defining}: define the pool in etcd when it is not (a reservation); else only read its definition. */
  private Spot spot(Pool pool, IpAddress address, boolean defining, long deadline) {
    PoolCache cache = caches.apply(pool);
    BlockLayout layout = defining ? cache.definition(deadline) : cache.layoutForReading(deadline);
    int set = pool.rangeSetIndexOf(address);
    if (set < 0) {
      return new Spot(layout, -1, null, -1, null, address + " is in no range of network " + pool.name());
    }
    IpAddress net = layout.blockNet(set, address);
    int offset = layout.offsetIn(set, net, address);
    if (!BlockLayout.isSet(layout.allowed(set, net), offset)) {
      return new Spot(layout, set, net, offset, null, address + " is the gateway or excluded in network "
          + pool.name());
    }
    return new Spot(layout, set, net, offset, ctx.keys().block(pool.name(), set, layout.blockId(set, net)), null);
  }

  ReserveOutcome reserve(Pool pool, IpAddress address, PodRef podOrNamespace, boolean whenFree, long deadline) {
    Claim wanted = Claim.reservation(address, podOrNamespace);
    Spot s = spot(pool, address, true, deadline);
    if (s.why() != null) {
      return new ReserveOutcome.Unavailable(address, s.why());
    }
    String resKey = ctx.keys().reservations(pool.name());
    String addrKey = ctx.keys().address(pool.name(), address);
    String network = Pool.networkOf(pool.name());
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      List<Op> reads = new ArrayList<>(List.of(EtcdClient.get(s.blockKey()), EtcdClient.get(resKey),
          EtcdClient.get(addrKey)));
      reads.addAll(NetworkPeers.reads(ctx.keys(), network)); // at the same revision, in the same round trip
      List<GetResponse> got = ctx.etcd().txn(List.of(), reads, List.of(), deadline, "reading " + address)
          .getGetResponses();
      Block b = ctx.blocks().decode(s.layout(), s.blockKey(), only(got.get(0)));
      ClaimIndex.Read res = ClaimIndex.reservations(resKey, only(got.get(1)));
      Instant now = ctx.wallNow();
      Claim c = b.exists() ? b.liveClaim(s.offset(), now) : null;
      if (c != null && c.kind() == Claim.Kind.RESERVATION) {
        return c.pod().equals(podOrNamespace) ? new ReserveOutcome.Reserved(c)
            : new ReserveOutcome.InUse(address, ClaimText.describe(c));
      }
      if (b.exists() && b.isUsed(s.offset()) && !whenFree) {
        if (only(got.get(2)) == null) {
          continue; // the record comes with the bit; read again
        }
        Allocation holder = AddressCodec.decode(addrKey, address, only(got.get(2)));
        if (!wanted.admits(holder.pod())) {
          return new ReserveOutcome.InUse(address, ClaimText.allocatedTo(holder.attachment(), holder.pod()));
        }
      }
      if (c != null && c.kind() == Claim.Kind.HOLD && !whenFree && !wanted.admits(c.pod())) {
        return new ReserveOutcome.InUse(address, ClaimText.describe(c));
      }
      Elsewhere elsewhere = elsewhere(pool, address, got.subList(3, got.size()), now, deadline);
      if (elsewhere == null) {
        continue; // an allocation's record not read with its bit; read again
      }
      ReserveOutcome.InUse refused = OtherPools.refusal(wanted, whenFree, elsewhere.uses(), now);
      if (refused != null) {
        return refused;
      }
      if (res.entries().size() >= ClaimIndex.MAX_RESERVATIONS) {
        return new ReserveOutcome.Unavailable(address, "network " + pool.name() + " has "
            + ClaimIndex.MAX_RESERVATIONS + " reservations, the most it may have");
      }
      if (!b.exists()) {
        b.deleted = false; // a block made to carry the claim; the next node needing a block claims it
      }
      b.pruneClaims(now);
      b.claims.put(s.offset(), wanted); // replaces a cool-down, or a hold for the same pod
      List<ClaimIndex.Entry> entries = new ArrayList<>(res.entries());
      entries.removeIf(e -> e.address().equals(address));
      entries.add(new ClaimIndex.Entry(s.set(), address, null, podOrNamespace));
      entries.sort(Comparator.comparing(ClaimIndex.Entry::address));
      // guarded on the definition too: the block may be created, and never into a pool retired since
      PoolCache cache = caches.apply(pool);
      String defKey = ctx.keys().pool(pool.name());
      List<Cmp> cmps = new ArrayList<>(List.of(EtcdClient.modRev(s.blockKey(), b.modRev),
          EtcdClient.modRev(resKey, res.modRev()), cache.definitionGuard()));
      cmps.addAll(elsewhere.guards());
      io.etcd.jetcd.kv.TxnResponse r = ctx.etcd().txn(cmps,
          List.of(EtcdClient.put(s.blockKey(), BlockCodec.encode(b)),
              EtcdClient.put(resKey, ClaimIndex.encodeReservations(entries))),
          List.of(EtcdClient.get(defKey)), deadline, "reserving " + address);
      if (r.isSucceeded()) {
        return new ReserveOutcome.Reserved(wanted);
      }
      List<KeyValue> def = r.getGetResponses().get(0).getKvs();
      if (def.isEmpty() || !cache.isDefinedAt(def.get(0).getCreateRevision())) {
        cache.dropDefinition(); // retired since: define it again
        s = spot(pool, address, true, deadline);
      }
    }
    throw busy(address);
  }

  /**
   * What the network's other pools have on an address, for a reservation ({@link OtherPools.Use}),
   * and the compares that keep it true until the reservation commits.
   */
  private record Elsewhere(List<OtherPools.Use> uses, List<Cmp> guards) {}

  /**
   * Reads what the other pools of the network have on {@code address}: {@code network} is the
   * answer to {@link NetworkPeers#reads} (the network's guard key, its pools' definitions); the
   * blocks of the other pools whose ranges hold the address, and its address records there, are
   * read in one more round trip (none when no other pool's ranges hold it). The guards: the network
   * key at its revision read (a pool defined since moves it) and each of those blocks at its
   * revision read (absent: absent), as an ADD's {@link PeerCheck} guards them; an ADD or a
   * reservation of the address in another pool writes its block, so of it and this reservation,
   * whichever commits second fails its guard and reads again. Null when a block has the address
   * allocated but its record was not there (read again).
   */
  private Elsewhere elsewhere(Pool pool, IpAddress address, List<GetResponse> network, Instant now, long deadline) {
    String networkName = Pool.networkOf(pool.name());
    List<Cmp> guards = new ArrayList<>();
    KeyValue guard = only(network.get(0));
    guards.add(EtcdClient.modRev(ctx.keys().network(networkName), guard == null ? 0L : guard.getModRevision()));
    List<NetworkPeers.Spot> spots = new ArrayList<>();
    for (int i = 1; i < network.size(); i++) {
      for (KeyValue kv : network.get(i).getKvs()) {
        String name = ctx.keys().parsePool(EtcdClient.text(kv.getKey()));
        if (Pool.isName(name) && pool.sharesNetworkWith(name)) {
          NetworkPeers.Spot spot = NetworkPeers.spot(ctx.keys(), name,
              BlockLayout.parse(name, EtcdClient.text(kv.getValue()), AllocationOrder.LOWEST_FREE), address);
          if (spot != null) {
            spots.add(spot);
          }
        }
      }
    }
    if (spots.isEmpty()) {
      return new Elsewhere(List.of(), guards);
    }
    List<String> keys = new ArrayList<>();
    for (NetworkPeers.Spot spot : spots) {
      keys.add(spot.key());
      keys.add(ctx.keys().address(spot.pool(), address));
    }
    List<KeyValue> got = ctx.etcd().getAll(keys, deadline, "reading " + address + " in the other pools of network "
        + networkName);
    List<OtherPools.Use> uses = new ArrayList<>(1);
    for (int i = 0; i < spots.size(); i++) {
      NetworkPeers.Spot spot = spots.get(i);
      Block other = ctx.blocks().decode(spot.layout(), spot.key(), got.get(2 * i));
      guards.add(EtcdClient.modRev(spot.key(), other.modRev));
      if (!other.exists()) {
        continue;
      }
      Claim c = other.liveClaim(spot.offset(), now);
      Allocation holder = null;
      if (other.isUsed(spot.offset())) {
        KeyValue record = got.get(2 * i + 1);
        if (record == null) {
          return null;
        }
        holder = AddressCodec.decode(keys.get(2 * i + 1), address, record);
      }
      if (holder != null || c != null) {
        uses.add(new OtherPools.Use(spot.pool(), holder == null ? null : holder.attachment(),
            holder == null ? null : holder.pod(), c));
      }
    }
    return new Elsewhere(uses, guards);
  }

  private static KeyValue only(GetResponse g) {
    return g.getKvs().isEmpty() ? null : g.getKvs().get(0);
  }

  Optional<Claim> unreserve(Pool pool, IpAddress address, long deadline) {
    Spot s = spot(pool, address, false, deadline);
    if (s.why() != null) {
      return Optional.empty();
    }
    String resKey = ctx.keys().reservations(pool.name());
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      List<KeyValue> got = ctx.etcd().getAll(List.of(s.blockKey(), resKey), deadline, "reading " + address);
      Block b = ctx.blocks().decode(s.layout(), s.blockKey(), got.get(0));
      ClaimIndex.Read res = ClaimIndex.reservations(resKey, got.get(1));
      Claim c = b.exists() ? b.liveClaim(s.offset(), ctx.wallNow()) : null;
      boolean listed = res.entries().stream().anyMatch(e -> e.address().equals(address));
      if ((c == null || c.kind() != Claim.Kind.RESERVATION) && !listed) {
        return Optional.empty();
      }
      List<Cmp> cmps = new ArrayList<>(List.of(EtcdClient.modRev(resKey, res.modRev())));
      List<Op> then = new ArrayList<>();
      List<ClaimIndex.Entry> entries = new ArrayList<>(res.entries());
      entries.removeIf(e -> e.address().equals(address));
      then.add(entries.isEmpty() ? EtcdClient.delete(resKey) : EtcdClient.put(resKey, ClaimIndex.encodeReservations(entries)));
      boolean ends = c != null && c.kind() == Claim.Kind.RESERVATION;
      if (ends) {
        cmps.add(EtcdClient.modRev(s.blockKey(), b.modRev));
        b.claims.remove(s.offset());
        b.pruneClaims(ctx.wallNow());
        then.add(b.used.isEmpty() && b.claims.isEmpty() && b.owner.isEmpty() ? EtcdClient.delete(s.blockKey())
            : EtcdClient.put(s.blockKey(), BlockCodec.encode(b)));
      }
      if (commit(cmps, then, deadline, "unreserving " + address)) {
        return ends ? Optional.of(c) : Optional.empty();
      }
    }
    throw busy(address);
  }

  Optional<Claim> endHold(Pool pool, IpAddress address, long deadline) {
    Spot s = spot(pool, address, false, deadline);
    if (s.why() != null) {
      return Optional.empty();
    }
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      KeyValue kv = ctx.etcd().getAll(List.of(s.blockKey()), deadline, "reading " + address).get(0);
      Block b = ctx.blocks().decode(s.layout(), s.blockKey(), kv);
      Instant now = ctx.wallNow();
      Claim c = b.exists() ? b.liveClaim(s.offset(), now) : null;
      if (c == null || c.kind() != Claim.Kind.HOLD) {
        return Optional.empty();
      }
      String holdsKey = ctx.keys().holds(pool.name(), c.pod());
      KeyValue index = ctx.etcd().getAll(List.of(holdsKey), deadline, "reading holds").get(0);
      ClaimIndex.Read holds = ClaimIndex.holds(holdsKey, index);
      List<ClaimIndex.Entry> entries = new ArrayList<>(holds.entries());
      entries.removeIf(e -> e.address().equals(address) || !e.until().isAfter(now));
      b.claims.remove(s.offset());
      b.pruneClaims(now);
      List<Op> then = new ArrayList<>();
      then.add(b.used.isEmpty() && b.claims.isEmpty() && b.owner.isEmpty() ? EtcdClient.delete(s.blockKey())
          : EtcdClient.put(s.blockKey(), BlockCodec.encode(b)));
      if (index != null) {
        // the rest of the index keeps its lease
        then.add(entries.isEmpty() ? EtcdClient.delete(holdsKey)
            : EtcdClient.put(holdsKey, ClaimIndex.encodeHolds(entries), index.getLease()));
      }
      if (commit(List.of(EtcdClient.modRev(s.blockKey(), b.modRev), EtcdClient.modRev(holdsKey, holds.modRev())),
          then, deadline, "ending the hold of " + address)) {
        return Optional.of(c);
      }
    }
    throw busy(address);
  }

  /** Every live claim of the pool, by address: every block read at one revision (in pages). */
  List<Claim> claims(Pool pool, long deadline) {
    BlockLayout layout = caches.apply(pool).layoutForReading(deadline);
    Instant now = ctx.wallNow();
    List<Claim> out = new ArrayList<>();
    for (Block b : views.blocks(layout, -1, deadline)) {
      for (Claim c : b.claims.values()) {
        if (!c.expiredAt(now)) {
          out.add(c);
        }
      }
    }
    out.sort(Comparator.comparing(Claim::address));
    return out;
  }

  private boolean commit(List<Cmp> cmps, List<Op> then, long deadline, String what) {
    return ctx.etcd().txn(cmps, then, List.of(), deadline, what).isSucceeded();
  }

  private static IpamException busy(IpAddress address) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: the block of " + address
        + " kept changing; nothing was changed, try again");
  }
}
