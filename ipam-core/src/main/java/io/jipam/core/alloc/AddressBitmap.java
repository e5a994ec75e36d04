package io.jipam.core.alloc;

/**
 * A set of unsigned 64-bit offsets, as a sparse 64-ary tree of bit words.
 *
 * <h2>Design</h2>
 * The bottom nodes hold 64 words of 64 bits (4,096 offsets); every node above holds 64 children.
 * Each node keeps a {@code full} mask (bit i: child or word i has no clear bit) and a
 * {@code present} mask (bit i: child or word i has a set bit). Finding the next clear offset walks
 * one path down and, where a subtree is full, jumps with one {@code numberOfTrailingZeros} on the
 * parent's mask to the next subtree that is not: a search reads at most two words per level,
 * whatever the fill. The depth is {@code ceil(bits / 6) - 1}: 3 for a /8, 10 for a /64.
 *
 * <p>Empty subtrees are absent and are dropped again when their last offset is cleared, so memory
 * follows the number of set offsets, not the size of the space. A subtree that
 * {@link #setRange} covers whole (an excluded prefix) is one shared marker object.
 *
 * <p>Length: about 410 lines, as one class on purpose: every operation (set, clear, next clear,
 * ranges, the shared full marker) walks and repairs the same two masks per node, and splitting
 * the levels or the operations apart would expose those masks to more than one class.
 *
 * <p>Not thread-safe: callers guard an instance with the lock of the store that owns it.
 */
final class AddressBitmap {
  /** Returned by {@link #nextClear} when no clear offset exists at or after the start. */
  public static final long NOT_FOUND = -1L;

  /** A whole subtree set by {@link #setRange}; never descended into. */
  private static final Object FULL = new Object();

  private final int topLevel;
  private Object root;
  private long cardinality;
  /**
   * The last node of each kind dropped for being empty, kept for the next node created: an
   * allocate+release pair on an otherwise empty part of the space would else allocate and drop
   * a node (half a KiB) every time. At most one bottom and one inner node per level, so memory
   * still follows what is set.
   */
  private Bottom spareBottom;
  /** Scratch for set and clear: the inner nodes on the path to the offset, by level. */
  private final Inner[] path;
  private final Inner[] spareInners;
  private int spareInnerCount;

  /**
   * A bitmap able to hold offsets {@code 0..lastOffset} (unsigned).
   *
   * @param lastOffset the greatest offset, unsigned; must not be {@code -1L}
   */
  public AddressBitmap(long lastOffset) {
    if (lastOffset == NOT_FOUND) {
      throw new IllegalArgumentException("lastOffset must be below 2^64 - 1");
    }
    int bits = 64 - Long.numberOfLeadingZeros(lastOffset);
    int level = 1;
    while (6 * (level + 1) < bits) {
      level++;
    }
    this.topLevel = level;
    this.spareInners = new Inner[level - 1];
    this.path = new Inner[level + 1];
  }

  /** How many offsets were set through {@link #set} and not cleared (not counting ranges). */
  public long cardinality() {
    return cardinality;
  }

  public boolean get(long offset) {
    Object node = root;
    for (int level = topLevel; level > 1; level--) {
      if (node == null || node == FULL) {
        return node == FULL;
      }
      node = ((Inner) node).children[index(offset, level)];
    }
    if (node == null || node == FULL) {
      return node == FULL;
    }
    Bottom bottom = (Bottom) node;
    return (bottom.words[index(offset, 1)] & (1L << offset)) != 0;
  }

  /** Sets the offset; returns false when it was already set. */
  public boolean set(long offset) {
    Object node = root;
    if (node == FULL) {
      return false;
    }
    if (node == null) {
      node = root = newNode(topLevel);
    }
    Inner[] path = this.path;
    for (int level = topLevel; level > 1; level--) {
      Inner inner = (Inner) node;
      int i = index(offset, level);
      Object child = inner.children[i];
      if (child == FULL) {
        return false;
      }
      if (child == null) {
        child = newNode(level - 1);
        inner.children[i] = child;
        inner.present |= 1L << i;
      }
      path[level] = inner;
      node = child;
    }
    Bottom bottom = (Bottom) node;
    int i = index(offset, 1);
    long word = bottom.words[i];
    long bit = 1L << offset;
    if ((word & bit) != 0) {
      return false;
    }
    word |= bit;
    bottom.words[i] = word;
    bottom.present |= 1L << i;
    cardinality++;
    if (word == -1L && (bottom.full |= 1L << i) == -1L) {
      // the bottom node filled up: mark it full in its parent, and so on up while nodes fill
      for (int level = 2; level <= topLevel; level++) {
        Inner inner = path[level];
        if ((inner.full |= 1L << index(offset, level)) != -1L) {
          break;
        }
      }
    }
    return true;
  }

  /** Clears the offset; returns false when it was not set (or lies in a {@link #setRange} range). */
  public boolean clear(long offset) {
    Object node = root;
    if (node == null || node == FULL) {
      return false;
    }
    Inner[] path = this.path;
    for (int level = topLevel; level > 1; level--) {
      Inner inner = (Inner) node;
      Object child = inner.children[index(offset, level)];
      if (child == null || child == FULL) {
        return false;
      }
      path[level] = inner;
      node = child;
    }
    Bottom bottom = (Bottom) node;
    int i = index(offset, 1);
    long word = bottom.words[i];
    long bit = 1L << offset;
    if ((word & bit) == 0 || (bottom.pinned != null && (bottom.pinned[i] & bit) != 0)) {
      return false; // not set, or set by setRange
    }
    word &= ~bit;
    bottom.words[i] = word;
    boolean wasFull = (bottom.full & (1L << i)) != 0;
    bottom.full &= ~(1L << i);
    cardinality--;
    boolean empty = word == 0 && (bottom.present &= ~(1L << i)) == 0;
    // up the path: a node that was full is no longer; a node left empty is dropped
    Object child = bottom;
    for (int level = 2; level <= topLevel && (wasFull || empty); level++) {
      Inner inner = path[level];
      long childBit = 1L << index(offset, level);
      wasFull = (inner.full & childBit) != 0;
      inner.full &= ~childBit;
      if (empty) {
        inner.children[index(offset, level)] = null;
        empty = (inner.present &= ~childBit) == 0;
        recycle(child);
      }
      child = inner;
    }
    if (empty) {
      recycle(root);
      root = null;
    }
    return true;
  }

  /**
   * The least clear offset at or after {@code from} (unsigned), or {@link #NOT_FOUND}. The result
   * may lie past the {@code lastOffset} given at construction; callers bound it.
   */
  public long nextClear(long from) {
    Object node = root;
    if (node == null) {
      return from;
    }
    if (node == FULL) {
      return NOT_FOUND;
    }
    // walk down from's path, remembering the deepest node with a non-full child after it
    Inner fork = null;
    int forkLevel = 0;
    int forkChild = 0;
    boolean blocked = false;
    for (int level = topLevel; level > 1; level--) {
      Inner inner = (Inner) node;
      int i = index(from, level);
      long later = i == 63 ? 0 : ~inner.full & (-1L << (i + 1));
      if (level >= 10) {
        later &= 0xFFFFL; // the top node of a 2^64 space has only 16 children
      }
      if (later != 0) {
        fork = inner;
        forkLevel = level;
        forkChild = Long.numberOfTrailingZeros(later);
      }
      if ((inner.full & (1L << i)) != 0) {
        blocked = true;
        break;
      }
      Object child = inner.children[i];
      if (child == null) {
        return from; // an empty subtree
      }
      node = child;
    }
    if (!blocked) {
      Bottom bottom = (Bottom) node;
      int i = index(from, 1);
      long free = ~bottom.words[i] & (-1L << from);
      if (free != 0) {
        return (from & ~63L) | Long.numberOfTrailingZeros(free);
      }
      long later = i == 63 ? 0 : ~bottom.full & (-1L << (i + 1));
      if (later != 0) {
        int j = Long.numberOfTrailingZeros(later);
        return nodeBase(from, 1) | ((long) j << 6) | Long.numberOfTrailingZeros(~bottom.words[j]);
      }
    }
    if (fork == null) {
      return NOT_FOUND;
    }
    // the first clear offset of the fork's non-full child: the leftmost non-full path down
    long base = nodeBase(from, forkLevel) | ((long) forkChild << (6 * forkLevel));
    Object child = fork.children[forkChild];
    for (int level = forkLevel - 1; ; level--) {
      if (child == null) {
        return base;
      }
      if (level == 1) {
        Bottom bottom = (Bottom) child;
        int j = Long.numberOfTrailingZeros(~bottom.full);
        return base | ((long) j << 6) | Long.numberOfTrailingZeros(~bottom.words[j]);
      }
      Inner inner = (Inner) child;
      int j = Long.numberOfTrailingZeros(~inner.full);
      base |= (long) j << (6 * level);
      child = inner.children[j];
    }
  }

  /**
   * Sets every offset in {@code [from, to]} (unsigned, inclusive) without counting them in
   * {@link #cardinality}. Meant for reserved parts of a range, set before any allocation: offsets
   * set this way can never be cleared. Costs at most 128 node visits per level.
   */
  public void setRange(long from, long to) {
    if (Long.compareUnsigned(from, to) > 0) {
      throw new IllegalArgumentException("from > to");
    }
    if (root == FULL) {
      return;
    }
    if (from == 0 && to == lastOf(0, topLevel)) {
      root = FULL;
      return;
    }
    if (root == null) {
      root = newNode(topLevel);
    }
    setRange(root, topLevel, 0, from, to);
  }

  private void setRange(Object node, int level, long base, long from, long to) {
    int shift = 6 * level;
    int first = Long.compareUnsigned(from, base) <= 0 ? 0 : index(from, level);
    long last = lastOf(base, level);
    int end = Long.compareUnsigned(to, last) >= 0 ? 63 : index(to, level);
    for (int i = first; i <= end; i++) {
      long childBase = base | ((long) i << shift);
      long childLast = level == 1 ? childBase | 63 : lastOf(childBase, level - 1);
      boolean whole = Long.compareUnsigned(from, childBase) <= 0 && Long.compareUnsigned(to, childLast) >= 0;
      if (level == 1) {
        Bottom bottom = (Bottom) node;
        long mask = -1L;
        if (!whole) {
          long lo = Long.compareUnsigned(from, childBase) > 0 ? from & 63 : 0;
          long hi = Long.compareUnsigned(to, childLast) < 0 ? to & 63 : 63;
          mask = (-1L << lo) & (-1L >>> (63 - hi));
        }
        bottom.words[i] |= mask;
        if (bottom.pinned == null) {
          bottom.pinned = new long[64];
        }
        bottom.pinned[i] |= mask;
        bottom.present |= 1L << i;
        if (bottom.words[i] == -1L) {
          bottom.full |= 1L << i;
        }
        continue;
      }
      Inner inner = (Inner) node;
      if (inner.children[i] == FULL) {
        continue;
      }
      if (whole) {
        inner.children[i] = FULL;
      } else {
        if (inner.children[i] == null) {
          inner.children[i] = newNode(level - 1);
        }
        setRange(inner.children[i], level - 1, childBase, from, to);
      }
      inner.present |= 1L << i;
      if (isFull(inner.children[i])) {
        inner.full |= 1L << i;
      }
    }
  }

  /** Tree nodes allocated (shared {@link #setRange} markers not counted); for tests. */
  long nodeCount() {
    return nodeCount(root);
  }

  private static long nodeCount(Object node) {
    if (node == null || node == FULL) {
      return 0;
    }
    if (node instanceof Bottom) {
      return 1;
    }
    long n = 1;
    for (Object child : ((Inner) node).children) {
      n += nodeCount(child);
    }
    return n;
  }

  private static int index(long offset, int level) {
    return (int) ((offset >>> (6 * level)) & 63);
  }

  /** The first offset of the node at {@code level} that holds {@code offset}. */
  private static long nodeBase(long offset, int level) {
    int span = 6 * (level + 1);
    return span >= 64 ? 0 : offset & ~((1L << span) - 1);
  }

  /** The last offset of the node at {@code level} starting at {@code base}. */
  private static long lastOf(long base, int level) {
    int span = 6 * (level + 1);
    return span >= 64 ? -1L : base | ((1L << span) - 1);
  }

  private Object newNode(int level) {
    if (level == 1) {
      Bottom b = spareBottom;
      spareBottom = null;
      return b != null ? b : new Bottom();
    }
    if (spareInnerCount > 0) {
      Inner n = spareInners[--spareInnerCount];
      spareInners[spareInnerCount] = null;
      return n;
    }
    return new Inner();
  }

  /** Keeps an empty node just dropped: all its words are 0 / children null, as when new. */
  private void recycle(Object node) {
    if (node instanceof Bottom b) {
      b.full = 0;
      spareBottom = b;
    } else if (node instanceof Inner n && spareInnerCount < spareInners.length) {
      n.full = 0;
      spareInners[spareInnerCount++] = n;
    }
  }

  private static boolean isFull(Object node) {
    if (node == FULL) {
      return true;
    }
    return node instanceof Bottom b ? b.full == -1L : ((Inner) node).full == -1L;
  }

  private static final class Bottom {
    final long[] words = new long[64];
    /** Bits set by setRange, which clear() must not undo; null until a range touches the node. */
    long[] pinned;
    long full;
    long present;
  }

  private static final class Inner {
    final Object[] children = new Object[64];
    long full;
    long present;
  }
}
