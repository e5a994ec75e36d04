package io.jipam.core.net;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Finds two ranges that share an address, in O(n log n): sorted by first address (family first),
 * a range overlaps an earlier one exactly when it starts at or before the largest last address
 * seen so far in its family. Replaces the pairwise check, which made a config of 50,000 ranges
 * take minutes. Stateless; a class, not lambdas (start-up cost on the plugin's path).
 */
public final class Overlap {
  private Overlap() {}

  private static final class ByStart implements Comparator<Integer> {
    private final List<IpRange> ranges;

    ByStart(List<IpRange> ranges) {
      this.ranges = ranges;
    }

    @Override
    public int compare(Integer a, Integer b) {
      int c = ranges.get(a).rangeStart().compareTo(ranges.get(b).rangeStart());
      return c != 0 ? c : Integer.compare(a, b);
    }
  }

  /**
   * Indexes {@code {i, j}} ({@code i < j}) of two ranges that overlap, or null when all are
   * disjoint.
   */
  public static int[] find(List<IpRange> ranges) {
    Integer[] order = new Integer[ranges.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, new ByStart(ranges));
    int widest = -1; // index of the range with the largest last address so far in this family
    for (Integer k : order) {
      IpRange r = ranges.get(k);
      if (widest >= 0) {
        IpRange w = ranges.get(widest);
        if (w.family() == r.family() && r.rangeStart().compareTo(w.rangeEnd()) <= 0) {
          return new int[] {Math.min(widest, k), Math.max(widest, k)};
        }
        if (w.family() != r.family() || r.rangeEnd().compareTo(w.rangeEnd()) > 0) {
          widest = k;
        }
      } else {
        widest = k;
      }
    }
    return null;
  }
}
