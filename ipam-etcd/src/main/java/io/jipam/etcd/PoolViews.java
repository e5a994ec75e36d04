package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.BlockUsage;
import io.jipam.core.store.capability.PoolBlocks;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The read-only views of one pool in etcd: list, usage, usage per block, allocating nodes, audit.
 * Each walks its records in reads ({@link EtcdClient#walk}, a {@link BoundedWalk}: every read at
 * the first one's revision, so a view is of one revision) of at most {@value #WALK_PAGE} records,
 * or fewer blocks when blocks are large, each over a range holding about that many: no response
 * is over a few MiB, and what etcd visits for a view is linear in the pool's size. Usage reads the
 * blocks only (a few bytes each); list the address records. Thread-safe (stateless apart from
 * the context).
 */
final class PoolViews {
  /** The most allocations a {@code listPage} returns. */
  static final int PAGE = 1000;
  /** The most addresses one read of a {@code page} covers. */
  static final long SPAN_MAX = 1 << 16;
  /**
   * Records per read of a walk: address records and handles are 100 to 150 bytes with their keys,
   * so a response is under 1 MB.
   */
  static final int WALK_PAGE = 5000;
  /** Bytes of blocks a page may hold. */
  private static final int BLOCK_PAGE_BYTES = 2 << 20;

  private final StoreContext ctx;

  PoolViews(StoreContext ctx) {
    this.ctx = ctx;
  }

  /** Blocks per page for a layout: up to {@value #BLOCK_PAGE_BYTES} bytes of the largest blocks. */
  static int blockPage(BlockLayout layout) {
    int biggest = 0;
    for (int s = 0; s < layout.sets(); s++) {
      biggest = Math.max(biggest, layout.hostBits(s));
    }
    long bytes = 200 + (1L << biggest) / 6;
    return (int) Math.max(16, Math.min(WALK_PAGE, BLOCK_PAGE_BYTES / bytes));
  }

  /** Every block of the pool (of one set, or all when set is -1) at one revision, in pages. */
  List<Block> blocks(BlockLayout layout, int set, long deadline) {
    return blocksAt(layout, set, deadline).blocks();
  }

  /** Blocks read at one revision, and that revision. */
  record BlockSnapshot(List<Block> blocks, long revision) {}

  /** {@link #blocks}, with the revision they were read at. */
  BlockSnapshot blocksAt(BlockLayout layout, int set, long deadline) {
    String pool = layout.pool().name();
    String prefix = set < 0 ? ctx.keys().blocksPrefix(pool) : ctx.keys().blocksPrefix(pool, set);
    List<Block> out = new ArrayList<>();
    long revision = ctx.etcd().walk(prefix, blockPage(layout), Fetch.VALUES, deadline, "listing blocks of " + pool,
        kv -> out.add(ctx.blocks().decode(layout, kv)));
    return new BlockSnapshot(out, revision);
  }

  List<Allocation> list(BlockLayout layout, long deadline) {
    String pool = layout.pool().name();
    List<Allocation> out = new ArrayList<>();
    ctx.etcd().walk(ctx.keys().addressesPrefix(pool), WALK_PAGE, Fetch.VALUES, deadline, "listing addresses of " + pool,
        kv -> out.add(address(pool, kv)));
    out.sort(Comparator.comparing(Allocation::address));
    return out;
  }

  /**
   * Up to {@code limit} allocations after {@code after} (null: from the first), in address order,
   * all read at the first read's revision.
   *
   * <p>Bounded by address, not only by limit: etcd 3.4 visits every key of a read's range, so a
   * read "from after to the end of the pool" would cost the rest of the pool, more the earlier the
   * page. The reads here walk the pool's ranges in address order, each covering a span of
   * addresses (4 × limit, then 4 times more while reads come back short, at most {@value
   * #SPAN_MAX}); a span holds at most one record per address, so a read visits at most its span.
   * After {@value #SPAN_MAX} free addresses in a row, one keys-only read of one key finds the next
   * record of the range (that read visits the rest of the range: only sparse ranges pay it, once
   * per gap).
   */
  List<Allocation> page(BlockLayout layout, IpAddress after, int limit, long deadline) {
    String pool = layout.pool().name();
    String what = "listing addresses of " + pool;
    List<IpRange> ranges = new ArrayList<>();
    layout.pool().rangeSets().forEach(set -> ranges.addAll(set.ranges()));
    ranges.sort(Comparator.comparing(IpRange::rangeStart));
    List<Allocation> out = new ArrayList<>();
    long rev = 0;
    for (IpRange range : ranges) {
      if (out.size() == limit || (after != null && range.rangeEnd().compareTo(after) <= 0)) {
        continue;
      }
      String end = ctx.keys().address(pool, range.rangeEnd()) + '\0';
      IpAddress pos = after == null || after.compareTo(range.rangeStart()) < 0 ? range.rangeStart() : after.plus(1);
      long span = 4L * limit;
      while (pos != null && out.size() < limit) {
        IpAddress to = plus(pos, span);
        boolean last = to == null || to.compareTo(range.rangeEnd()) > 0;
        GetResponse r = ctx.etcd().range(ctx.keys().address(pool, pos), last ? end : ctx.keys().address(pool, to),
            limit - out.size(), Fetch.VALUES, rev, deadline, what);
        rev = rev != 0 ? rev : r.getHeader().getRevision();
        r.getKvs().forEach(kv -> out.add(address(pool, kv)));
        if (last) {
          break;
        }
        if (r.getKvs().isEmpty() && span == SPAN_MAX) {
          List<KeyValue> next = ctx.etcd().range(ctx.keys().address(pool, to), end, 1, Fetch.KEYS, rev, deadline, what)
              .getKvs();
          pos = next.isEmpty() ? null : ctx.keys().parseAddress(pool, EtcdClient.text(next.get(0).getKey()));
        } else {
          pos = to;
          span = Math.min(SPAN_MAX, span * 4);
        }
      }
    }
    return out;
  }

  /** {@code a + n}; null past the end of its family. */
  private static IpAddress plus(IpAddress a, long n) {
    try {
      return a.plus(n);
    } catch (IllegalArgumentException pastTheEnd) {
      return null;
    }
  }

  PoolUsage usage(BlockLayout layout, long deadline) {
    return blockUsage(layout, deadline).usage();
  }

  PoolBlocks blockUsage(BlockLayout layout, long deadline) {
    return summed(layout, blocks(layout, -1, deadline), null, ctx.wallNow());
  }

  /** The node's blocks: its affinity keys, then those blocks, read by key. */
  PoolBlocks nodeBlockUsage(BlockLayout layout, String node, long deadline) {
    String pool = layout.pool().name();
    List<String> keys = new ArrayList<>();
    ctx.etcd().walk(ctx.keys().affinityPrefix(node, pool), PAGE, Fetch.KEYS, deadline, "listing blocks of " + node, kv -> {
      Keys.BlockRef ref = ctx.keys().parseAffinity(node, EtcdClient.text(kv.getKey()));
      keys.add(ctx.keys().block(pool, ref.set(), ref.id()));
    });
    List<Block> blocks = new ArrayList<>();
    List<KeyValue> got = ctx.etcd().getAll(keys, deadline, "reading blocks of " + node);
    for (int i = 0; i < got.size(); i++) {
      if (got.get(i) != null) {
        blocks.add(ctx.blocks().decode(layout, keys.get(i), got.get(i)));
      }
    }
    return summed(layout, blocks, node, ctx.wallNow());
  }

  /**
   * Usage per block and per set; the sets' capacity is the pool's, or (for a node) its blocks'.
   * A set's free count leaves out its unallocated addresses held or reserved at {@code now}
   * (cooling ones count as free: the last resort hands them out).
   */
  private static PoolBlocks summed(BlockLayout layout, List<Block> from, String node, java.time.Instant now) {
    long[] allocated = new long[layout.sets()];
    long[] ofBlocks = new long[layout.sets()];
    long[] claimed = new long[layout.sets()];
    List<BlockUsage> blocks = new ArrayList<>();
    for (Block b : from) {
      if (node != null && !b.owner.equals(node)) {
        continue;
      }
      ofBlocks[b.set] += BlockLayout.count(layout.allowed(b.set, b.net));
      allocated[b.set] += b.usedCount();
      long claimedHere = 0;
      for (java.util.Map.Entry<Integer, io.jipam.core.store.Claim> e : b.claims.entrySet()) {
        io.jipam.core.store.Claim c = e.getValue();
        if (c.kind() != io.jipam.core.store.Claim.Kind.COOLING && !c.expiredAt(now) && !b.isUsed(e.getKey())) {
          claimedHere++;
        }
      }
      claimed[b.set] += claimedHere;
      // held and reserved addresses are not free here either, as in the pool's figures
      long allowed = BlockLayout.count(layout.allowed(b.set, b.net));
      blocks.add(new BlockUsage(b.set, new Cidr(b.net, layout.blockLength(b.set)), b.owner, b.usedCount(),
          Math.max(0, allowed - claimedHere)));
    }
    blocks.sort(Comparator.comparingInt(BlockUsage::rangeSet).thenComparing(u -> u.block().network()));
    long[] capacity = node != null ? ofBlocks : new long[layout.sets()];
    for (int s = 0; node == null && s < capacity.length; s++) {
      capacity[s] = layout.capacity(s);
    }
    for (int s = 0; s < capacity.length; s++) {
      if (capacity[s] != -1L) {
        capacity[s] = Long.compareUnsigned(claimed[s], capacity[s]) >= 0 ? 0 : capacity[s] - claimed[s];
      }
    }
    return new PoolBlocks(PoolUsage.of(allocated, capacity), blocks);
  }

  Map<Attachment, String> allocatingNodes(BlockLayout layout, long deadline) {
    Map<Attachment, String> out = new HashMap<>();
    ctx.etcd().walk(ctx.keys().handlesPrefix(layout.pool().name()), WALK_PAGE, Fetch.VALUES, deadline, "listing handles",
        kv -> out.put(Keys.parseHandle(EtcdClient.text(kv.getKey())), HandleCodec.decode(kv).node()));
    return out;
  }

  /** The node of each of these attachments that has a handle in the pool: their handles, read by key. */
  Map<Attachment, String> allocatingNodes(BlockLayout layout, java.util.Collection<Attachment> of, long deadline) {
    List<Attachment> asked = List.copyOf(new java.util.LinkedHashSet<>(of));
    List<String> keys = asked.stream().map(a -> ctx.keys().handle(layout.pool().name(), a)).toList();
    List<KeyValue> got = ctx.etcd().getAll(keys, deadline, "reading handles");
    Map<Attachment, String> out = new HashMap<>();
    for (int i = 0; i < got.size(); i++) {
      if (got.get(i) != null) {
        out.put(asked.get(i), HandleCodec.decode(got.get(i)).node());
      }
    }
    return out;
  }

  /** The handles one node made in the pool, from its own keys only. */
  Map<Attachment, Handle> handlesOf(String node, String pool, long deadline) {
    Map<Attachment, Handle> out = new java.util.LinkedHashMap<>();
    ctx.etcd().walk(ctx.keys().nodeHandlesPrefix(node, pool), WALK_PAGE, Fetch.VALUES, deadline, "listing handles of " + node,
        kv -> out.put(Keys.parseHandle(EtcdClient.text(kv.getKey())), HandleCodec.decode(kv)));
    return out;
  }

  /**
   * Blocks, address records, handles and the node index of the pool, walked in pages at one
   * revision, against each other. Holds one small entry per allocation in memory.
   */
  List<String> audit(BlockLayout layout, long deadline) {
    String pool = layout.pool().name();
    Map<IpAddress, Allocation> records = new HashMap<>();
    List<String> unreadable = new ArrayList<>();
    long rev = ctx.etcd().walk(ctx.keys().addressesPrefix(pool), WALK_PAGE, Fetch.VALUES, deadline, "auditing " + pool,
        each(unreadable, pool, kv -> {
          Allocation a = address(pool, kv);
          records.put(a.address(), a);
        }));
    Map<IpAddress, String> blockOf = new HashMap<>();
    List<String> blockFindings = new ArrayList<>();
    Map<IpAddress, io.jipam.core.store.PodRef> reserved = new HashMap<>();
    java.time.Instant now = ctx.wallNow();
    ctx.etcd().walkFrom(ctx.keys().blocksPrefix(pool), ctx.keys().blocksPrefix(pool), rev, blockPage(layout), Fetch.VALUES,
        deadline, "auditing " + pool, each(unreadable, pool, kv -> {
          Block b = ctx.blocks().decode(layout, kv);
          for (Map.Entry<Integer, io.jipam.core.store.Claim> e : b.claims.entrySet()) {
            io.jipam.core.store.Claim c = e.getValue();
            if (c.kind() == io.jipam.core.store.Claim.Kind.RESERVATION) {
              reserved.put(c.address(), c.pod());
            } else if (!c.expiredAt(now) && b.isUsed(e.getKey())) {
              blockFindings.add(pool + ": block " + b.key + " gives " + c.address() + " out while it is "
                  + io.jipam.core.store.spi.ClaimText.describe(c));
            }
          }
          for (int o = b.used.nextSetBit(0); o >= 0; o = b.used.nextSetBit(o + 1)) {
            IpAddress address = b.addressAt(o);
            blockOf.put(address, b.key);
            Allocation r = records.get(address);
            if (r == null) {
              blockFindings.add(pool + ": block " + b.key + " holds " + address + ", which no address record names");
            } else if (r.rangeSetIndex() != b.set) {
              blockFindings.add(pool + ": address record of " + address + " says range set " + r.rangeSetIndex()
                  + ", block " + b.key + " is of set " + b.set);
            }
          }
        }));
    List<String> out = new ArrayList<>();
    Set<String> listed = new HashSet<>(); // address and holder
    Map<Attachment, String> handles = new HashMap<>();
    ctx.etcd().walkFrom(ctx.keys().handlesPrefix(pool), ctx.keys().handlesPrefix(pool), rev, WALK_PAGE, Fetch.VALUES, deadline,
        "auditing " + pool, each(unreadable, pool, kv -> {
          String key = EtcdClient.text(kv.getKey());
          Handle h = HandleCodec.decode(kv);
          handles.put(Keys.parseHandle(key), h.node() + "\n" + HandleCodec.encode(h));
          for (Allocation a : h.allocations()) {
            listed.add(a.address() + " " + a.attachment());
            Allocation r = records.get(a.address());
            if (r == null || !blockOf.containsKey(a.address())) {
              out.add(pool + ": handle " + key + " lists " + a.address() + ", which no block holds");
            } else if (!r.attachment().equals(a.attachment())) {
              out.add(pool + ": handle " + key + " lists " + a.address() + ", which block " + blockOf.get(a.address())
                  + " gives to " + r.attachment());
            } else if (r.rangeSetIndex() != a.rangeSetIndex()) {
              out.add(pool + ": handle " + key + " lists " + a.address() + " in range set " + a.rangeSetIndex()
                  + ", its address record in set " + r.rangeSetIndex());
            } else if (a.origin() != null && r.origin() != null && a.origin() != r.origin()) {
              // written in one transaction, so they agree; one without an origin is an older jipam's
              out.add(pool + ": handle " + key + " says " + a.address() + " was given as " + a.origin().label()
                  + ", its address record as " + r.origin().label());
            }
          }
        }));
    records.values().stream().sorted(Comparator.comparing(Allocation::address)).forEach(r -> {
      if (!listed.contains(r.address() + " " + r.attachment())) {
        String block = blockOf.get(r.address());
        out.add(pool + ": " + (block == null ? "address record " + ctx.keys().address(pool, r.address()) + " (in no"
            + " block) gives " : "block " + block + " gives ") + r.address() + " to " + r.attachment()
            + ", whose handle does not list it");
      }
    });
    out.addAll(blockFindings);
    out.addAll(unreadable);
    out.addAll(reservationFindings(pool, rev, reserved, deadline));
    out.addAll(nodeIndexFindings(pool, rev, handles, deadline));
    return out;
  }

  /**
   * {@code check} for each record walked, where a record that does not decode is noted in {@code
   * unreadable} (naming its key and why) and the audit goes on, rather than ending on it.
   */
  private static java.util.function.Consumer<KeyValue> each(List<String> unreadable, String pool,
      java.util.function.Consumer<KeyValue> check) {
    return kv -> {
      try {
        check.accept(kv);
      } catch (IpamException e) {
        if (e.code() != ErrorCode.DECODE_FAILURE) {
          throw e;
        }
        unreadable.add(pool + ": " + Printable.quote(EtcdClient.text(kv.getKey())) + " cannot be read: "
            + e.getMessage());
      }
    };
  }

  /** The pool's reservations record at {@code rev} against the reservations its blocks hold. */
  private List<String> reservationFindings(String pool, long rev, Map<IpAddress, io.jipam.core.store.PodRef> inBlocks,
      long deadline) {
    String key = ctx.keys().reservations(pool);
    Map<IpAddress, io.jipam.core.store.PodRef> listed = new HashMap<>();
    ClaimIndex.reservations(key, ctx.etcd().getAt(key, rev, deadline, "auditing " + pool)).entries()
        .forEach(e -> listed.put(e.address(), e.pod()));
    List<String> out = new ArrayList<>();
    listed.forEach((address, pod) -> {
      if (!pod.equals(inBlocks.get(address))) {
        out.add(pool + ": " + key + " reserves " + address + " for " + pod + ", its block "
            + (inBlocks.containsKey(address) ? "for " + inBlocks.get(address) : "not at all"));
      }
    });
    inBlocks.forEach((address, pod) -> {
      if (!listed.containsKey(address)) {
        out.add(pool + ": a block reserves " + address + " for " + pod + ", which " + key + " does not list");
      }
    });
    out.sort(null);
    return out;
  }

  /** Every handle has its copy under its node, and every copy its handle. */
  private List<String> nodeIndexFindings(String pool, long rev, Map<Attachment, String> handles, long deadline) {
    List<String> out = new ArrayList<>();
    Set<Attachment> indexed = new HashSet<>();
    String root = ctx.keys().nodeHandlesRoot();
    ctx.etcd().walkFrom(root, root, rev, WALK_PAGE, Fetch.VALUES, deadline, "auditing " + pool, kv -> {
      String key = EtcdClient.text(kv.getKey());
      String rest = key.substring(root.length());
      int slash = rest.indexOf('/');
      if (slash <= 0 || !rest.startsWith(pool + "/", slash + 1)) {
        return;
      }
      String node = rest.substring(0, slash);
      Attachment a = Keys.parseHandle(key);
      Handle h = HandleCodec.decode(kv);
      indexed.add(a);
      String handle = handles.get(a);
      if (handle == null) {
        out.add(pool + ": " + key + " (node " + node + "'s index) lists " + a + ", which has no handle");
      } else if (!Objects.equals(handle, node + "\n" + HandleCodec.encode(h))) {
        out.add(pool + ": " + key + " (node " + node + "'s index) disagrees with the handle of " + a);
      }
    });
    handles.keySet().stream().filter(a -> !indexed.contains(a)).sorted(Comparator.comparing(Attachment::toString))
        .forEach(a -> out.add(pool + ": the handle of " + a + " is not in its node's index"));
    return out;
  }

  private Allocation address(String pool, KeyValue kv) {
    String key = EtcdClient.text(kv.getKey());
    return AddressCodec.decode(key, ctx.keys().parseAddress(pool, key), kv);
  }
}
