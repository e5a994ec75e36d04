package io.jipam.etcd;

import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.alloc.RangeSetAllocator;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpFamily;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * How a pool is cut into blocks: per range set, the block prefix length, and for every block the
 * offsets that may be handed out (in a range of the set, not its gateway or
 * excluded: {@link IpRange#reservedOffsets}). Immutable apart from a cache of those masks; thread-safe.
 *
 * <p>A block is the aligned prefix of the set's block length; it holds the addresses of the set's
 * ranges that fall inside it (a range smaller than a block makes one partial block).
 */
final class BlockLayout {
  private static final String MAGIC = "jipam-pool 1";
  private static final int MASK_CACHE = 4096;

  private final Pool pool;
  private final int[] blockLength;
  private final long[] capacity;
  private final ConcurrentHashMap<String, long[]> masks = new ConcurrentHashMap<>();

  BlockLayout(Pool pool, int[] blockLength) {
    this.pool = pool;
    this.blockLength = blockLength.clone();
    this.capacity = new long[pool.rangeSets().size()];
    for (int i = 0; i < capacity.length; i++) {
      capacity[i] = new RangeSetAllocator(pool.rangeSets().get(i)).capacity();
    }
  }

  /** The layout a fresh definition of the pool gets with the store config's block sizes. */
  static BlockLayout fresh(Pool pool, int v4, int v6) {
    int[] lengths = new int[pool.rangeSets().size()];
    for (int i = 0; i < lengths.length; i++) {
      lengths[i] = pool.rangeSets().get(i).family() == IpFamily.V4 ? v4 : v6;
    }
    return new BlockLayout(pool, lengths);
  }

  Pool pool() {
    return pool;
  }

  int sets() {
    return blockLength.length;
  }

  int blockLength(int set) {
    return blockLength[set];
  }

  int hostBits(int set) {
    return pool.rangeSets().get(set).family().bits() - blockLength[set];
  }

  long capacity(int set) {
    return capacity[set];
  }

  /** The stored definition: block length and ranges of every set. */
  String definition() {
    StringBuilder out = new StringBuilder(MAGIC).append('\n');
    for (int i = 0; i < sets(); i++) {
      out.append("set ").append(blockLength[i]).append(' ').append(rangesText(pool.rangeSets().get(i)))
          .append('\n');
    }
    return out.toString();
  }

  /** What makes two definitions of a pool the same: the ranges, set by set. */
  static String rangesText(Pool pool) {
    return pool.rangeSets().stream().map(BlockLayout::rangesText).collect(Collectors.joining(" | "));
  }

  private static String rangesText(RangeSet set) {
    List<String> ranges = new ArrayList<>();
    for (IpRange r : set.ranges()) {
      String ex = r.exclude().isEmpty() ? "-"
          : r.exclude().stream().map(Cidr::toString).collect(Collectors.joining(","));
      ranges.add(r.subnet() + ";" + r.rangeStart() + ";" + r.rangeEnd() + ";" + r.gateway() + ";" + ex);
    }
    return String.join("+", ranges);
  }

  /** Human text for error messages. */
  static String describe(Pool pool) {
    List<String> sets = new ArrayList<>();
    for (RangeSet set : pool.rangeSets()) {
      List<String> ranges = new ArrayList<>();
      for (IpRange r : set.ranges()) {
        ranges.add(r.subnet() + " " + r.rangeStart() + "-" + r.rangeEnd() + " gateway " + r.gateway()
            + (r.exclude().isEmpty() ? "" : " exclude " + r.exclude()));
      }
      sets.add("[" + String.join(", ", ranges) + "]");
    }
    return String.join(" ", sets);
  }

  /** Parses a stored definition back into a layout for a pool of that name. */
  static BlockLayout parse(String name, String text, AllocationOrder order) {
    String[] lines = text.split("\n");
    if (lines.length < 2 || !lines[0].equals(MAGIC)) {
      throw new IpamException(io.jipam.core.ErrorCode.DECODE_FAILURE,
          "etcd: pool definition of \"" + name + "\" is not a jipam v1 definition: " + abbreviate(text));
    }
    try {
      List<RangeSet> sets = new ArrayList<>();
      int[] lengths = new int[lines.length - 1];
      for (int i = 1; i < lines.length; i++) {
        String[] parts = lines[i].split(" ", 3);
        if (parts.length != 3 || !parts[0].equals("set")) {
          throw new IllegalArgumentException("bad line " + lines[i]);
        }
        lengths[i - 1] = Integer.parseInt(parts[1]);
        List<IpRange> ranges = new ArrayList<>();
        for (String r : parts[2].split("\\+")) {
          String[] f = r.split(";");
          List<Cidr> ex = new ArrayList<>();
          if (!f[4].equals("-")) {
            for (String x : f[4].split(",")) {
              ex.add(Cidr.parse(x));
            }
          }
          ranges.add(new IpRange(Cidr.parse(f[0]), IpAddress.parse(f[1]), IpAddress.parse(f[2]),
              IpAddress.parse(f[3]), ex));
        }
        RangeSet set = new RangeSet(ranges);
        int len = lengths[i - 1];
        boolean v4 = set.family() == IpFamily.V4;
        if (v4 ? len < 16 || len > 30 : len < 112 || len > 126) {
          throw new IllegalArgumentException("range set " + (i - 1) + " has block length " + len + ", out of "
              + (v4 ? "16..30" : "112..126"));
        }
        sets.add(set);
      }
      return new BlockLayout(new Pool(name, sets, order), lengths);
    } catch (RuntimeException e) {
      throw new IpamException(io.jipam.core.ErrorCode.DECODE_FAILURE,
          "etcd: cannot read the pool definition of \"" + name + "\": " + e.getMessage(), e);
    }
  }

  private static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  /** The network address of the block of the set holding the address. */
  IpAddress blockNet(int set, IpAddress address) {
    return address.masked(blockLength[set]);
  }

  String blockId(int set, IpAddress net) {
    return net + "_" + blockLength[set];
  }

  /** The block's network from a block id; null when the id is not of this set's form. */
  IpAddress netOf(int set, String id) {
    int u = id.lastIndexOf('_');
    if (u < 0 || !id.substring(u + 1).equals(Integer.toString(blockLength[set]))) {
      return null;
    }
    IpAddress net = IpAddress.tryParse(id.substring(0, u));
    if (net == null || net.family() != pool.rangeSets().get(set).family()
        || !net.masked(blockLength[set]).equals(net)) {
      return null;
    }
    return net;
  }

  int offsetIn(int set, IpAddress net, IpAddress address) {
    return (int) address.offsetFrom(net);
  }

  /**
   * Bit set of the offsets of the block that may be handed out. Shared: callers must not modify
   * it.
   */
  long[] allowed(int set, IpAddress net) {
    String id = set + "/" + net;
    long[] mask = masks.get(id);
    if (mask == null) {
      mask = computeAllowed(set, net);
      if (masks.size() > MASK_CACHE) {
        masks.clear();
      }
      masks.put(id, mask);
    }
    return mask;
  }

  private long[] computeAllowed(int set, IpAddress net) {
    int size = 1 << hostBits(set);
    long[] bits = new long[Math.max(1, size / 64)];
    IpAddress last = net.lastInPrefix(blockLength[set]);
    for (IpRange r : pool.rangeSets().get(set).ranges()) {
      IpAddress lo = max(r.rangeStart(), net);
      IpAddress hi = min(r.rangeEnd(), last);
      if (lo.compareTo(hi) > 0) {
        continue;
      }
      setBits(bits, (int) lo.offsetFrom(net), (int) hi.offsetFrom(net));
      for (long[] res : r.reservedOffsets()) {
        IpAddress a = max(r.addressAt(res[0]), lo);
        IpAddress b = min(r.addressAt(res[1]), hi);
        if (a.compareTo(b) <= 0) {
          clearBits(bits, (int) a.offsetFrom(net), (int) b.offsetFrom(net));
        }
      }
    }
    return bits;
  }

  private static void setBits(long[] bits, int from, int to) {
    for (int i = from; i <= to; i++) {
      bits[i >>> 6] |= 1L << i;
    }
  }

  private static void clearBits(long[] bits, int from, int to) {
    for (int i = from; i <= to; i++) {
      bits[i >>> 6] &= ~(1L << i);
    }
  }

  static boolean isSet(long[] bits, int i) {
    return (bits[i >>> 6] & (1L << i)) != 0;
  }

  static long count(long[] bits) {
    long n = 0;
    for (long w : bits) {
      n += Long.bitCount(w);
    }
    return n;
  }

  static boolean isEmpty(long[] bits) {
    for (long w : bits) {
      if (w != 0) {
        return false;
      }
    }
    return true;
  }

  private static IpAddress max(IpAddress a, IpAddress b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  private static IpAddress min(IpAddress a, IpAddress b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /**
   * The networks of the set's blocks in address order (ranges in set order), each once. Lazy: an
   * IPv6 /64 has 2^58 blocks of /122, and callers stop at the first free one.
   */
  Iterable<IpAddress> candidates(int set) {
    return candidatesAfter(set, null);
  }

  /**
   * {@link #candidates} without the networks at or before {@code after}, a block network of the set
   * (null: none left out). The walk starts past {@code after} in each range rather than stepping
   * over the blocks before it, which in an IPv6 range can be 2^58.
   */
  Iterable<IpAddress> candidatesAfter(int set, IpAddress after) {
    List<IpRange> ranges = pool.rangeSets().get(set).ranges();
    int len = blockLength[set];
    return () -> new Iterator<>() {
      int r = -1;
      IpAddress next;

      /** The range's first block network past {@code after}; null when it has none. */
      private IpAddress first(IpRange range) {
        IpAddress start = range.rangeStart().masked(len);
        if (after == null || start.compareTo(after) > 0) {
          return pastExcluded(range, start);
        }
        IpAddress afterLast = after.lastInPrefix(len);
        return afterLast.compareTo(range.rangeEnd()) >= 0 ? null : pastExcluded(range, afterLast.plus(1));
      }

      /**
       * {@code net}, or when an exclude of the range covers its whole block, the first block past
       * every such exclude (null past the range's end): the walk steps over an excluded span at
       * once. One block at a time, a {@code /9} excluded from a {@code /8} of /26 blocks was 2^17
       * blocks, beyond the bound callers walk, and the pool read as exhausted with 8 million free.
       */
      private IpAddress pastExcluded(IpRange range, IpAddress net) {
        IpAddress at = net;
        boolean moved = true;
        while (at != null && moved) {
          moved = false;
          for (io.jipam.core.net.Cidr x : range.exclude()) {
            if (x.prefixLength() <= len && x.contains(at)) {
              IpAddress last = x.last();
              at = last.compareTo(range.rangeEnd()) >= 0 ? null : last.plus(1);
              moved = true;
              break;
            }
          }
        }
        return at;
      }

      @Override
      public boolean hasNext() {
        while (next == null && ++r < ranges.size()) {
          next = first(ranges.get(r));
        }
        return next != null;
      }

      @Override
      public IpAddress next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        IpAddress out = next;
        IpAddress last = out.lastInPrefix(len);
        if (last.compareTo(ranges.get(r).rangeEnd()) >= 0) {
          next = null;
        } else {
          try {
            next = pastExcluded(ranges.get(r), last.plus(1));
          } catch (IllegalArgumentException e) {
            next = null;
          }
        }
        return out;
      }
    };
  }
}
