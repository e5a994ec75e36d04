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
 * <p>Not thread-safe: callers guard an instance with the lock of the store that owns it.
 */
public final class AddressBitmap {
  /** Returned by {@link #nextClear} when no clear offset exists at or after the start. */
  public static final long NOT_FOUND = -1L;

  /** A whole subtree set by {@link #setRange}; never descended into. */
  private static final Object FULL = new Object();

  private final int topLevel;
  private Object root;
  private long cardinality;

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
    if (root == FULL) {
      return false;
    }
    if (root == null) {
      root = newNode(topLevel);
    }
    boolean changed = set(root, topLevel, offset);
    if (changed) {
      cardinality++;
    }
    return changed;
  }

  private static boolean set(Object node, int level, long offset) {
    int i = index(offset, level);
    if (level == 1) {
      Bottom bottom = (Bottom) node;
      long word = bottom.words[i];
      long bit = 1L << offset;
      if ((word & bit) != 0) {
        return false;
      }
      word |= bit;
      bottom.words[i] = word;
      bottom.present |= 1L << i;
      if (word == -1L) {
        bottom.full |= 1L << i;
      }
      return true;
    }
    Inner inner = (Inner) node;
    Object child = inner.children[i];
    if (child == FULL) {
      return false;
    }
    if (child == null) {
      child = newNode(level - 1);
      inner.children[i] = child;
      inner.present |= 1L << i;
    }
    if (!set(child, level - 1, offset)) {
      return false;
    }
    if (isFull(child)) {
      inner.full |= 1L << i;
    }
    return true;
  }

  /** Clears the offset; returns false when it was not set (or lies in a {@link #setRange} range). */
  public boolean clear(long offset) {
    if (root == null || root == FULL) {
      return false;
    }
    boolean changed = clear(root, topLevel, offset);
    if (changed) {
      cardinality--;
      if (isEmpty(root)) {
        root = null;
      }
    }
    return changed;
  }

  private static boolean clear(Object node, int level, long offset) {
    int i = index(offset, level);
    if (level == 1) {
      Bottom bottom = (Bottom) node;
      long word = bottom.words[i];
      long bit = 1L << offset;
      if ((word & bit) == 0 || (bottom.pinned != null && (bottom.pinned[i] & bit) != 0)) {
        return false; // not set, or set by setRange
      }
      word &= ~bit;
      bottom.words[i] = word;
      bottom.full &= ~(1L << i);
      if (word == 0) {
        bottom.present &= ~(1L << i);
      }
      return true;
    }
    Inner inner = (Inner) node;
    Object child = inner.children[i];
    if (child == null || child == FULL || !clear(child, level - 1, offset)) {
      return false;
    }
    inner.full &= ~(1L << i);
    if (isEmpty(child)) {
      inner.children[i] = null;
      inner.present &= ~(1L << i);
    }
    return true;
  }

  /**
   * The least clear offset at or after {@code from} (unsigned), or {@link #NOT_FOUND}. The result
   * may lie past the {@code lastOffset} given at construction; callers bound it.
   */
  public long nextClear(long from) {
    if (root == null) {
      return from;
    }
    if (root == FULL) {
      return NOT_FOUND;
    }
    return nextClear(root, topLevel, from);
  }

  private static long nextClear(Object node, int level, long from) {
    int i = index(from, level);
    int shift = 6 * level;
    if (level == 1) {
      Bottom bottom = (Bottom) node;
      long free = ~bottom.words[i] & (-1L << from);
      if (free != 0) {
        return (from & ~63L) | Long.numberOfTrailingZeros(free);
      }
      long candidates = i == 63 ? 0 : ~bottom.full & (-1L << (i + 1));
      if (candidates == 0) {
        return NOT_FOUND;
      }
      int j = Long.numberOfTrailingZeros(candidates);
      return nodeBase(from, level) | ((long) j << shift) | Long.numberOfTrailingZeros(~bottom.words[j]);
    }
    Inner inner = (Inner) node;
    if ((inner.full & (1L << i)) == 0) {
      Object child = inner.children[i];
      if (child == null) {
        return from;
      }
      long found = nextClear(child, level - 1, from);
      if (found != NOT_FOUND) {
        return found;
      }
    }
    long candidates = i == 63 ? 0 : ~inner.full & (-1L << (i + 1));
    if (candidates == 0) {
      return NOT_FOUND;
    }
    int j = Long.numberOfTrailingZeros(candidates);
    if (shift > 58 && (j >>> (64 - shift)) != 0) {
      return NOT_FOUND; // the top node of a 2^64 space has only 2^(64 - shift) children
    }
    long childBase = nodeBase(from, level) | ((long) j << shift);
    Object child = inner.children[j];
    return child == null ? childBase : nextClear(child, level - 1, childBase);
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

  private static void setRange(Object node, int level, long base, long from, long to) {
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

  private static Object newNode(int level) {
    return level == 1 ? new Bottom() : new Inner();
  }

  private static boolean isFull(Object node) {
    if (node == FULL) {
      return true;
    }
    return node instanceof Bottom b ? b.full == -1L : ((Inner) node).full == -1L;
  }

  private static boolean isEmpty(Object node) {
    if (node == FULL) {
      return false;
    }
    return node instanceof Bottom b ? b.present == 0 : ((Inner) node).present == 0;
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
