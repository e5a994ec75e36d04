package io.jipam.bench.harness;

import java.util.Collection;

/** Order statistics over samples. Stateless. */
public final class Stats {
  private Stats() {}

  /** The median (mean of the two middle values for an even count); NaN when empty. */
  public static double median(Collection<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /** The nearest-rank percentile {@code p} (0 < p <= 100); NaN when empty. */
  public static double percentile(Collection<Double> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    if (!(p > 0 && p <= 100)) {
      throw new IllegalArgumentException("percentile must be in (0, 100], got " + p);
    }
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    // nearest rank; the tolerance keeps 99.9 % of 1,000 at rank 999, not 1,000 (0.999 * 1000 > 999 in doubles)
    int index = (int) Math.ceil(p / 100.0 * sorted.length - 1e-9) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  /** {@code a / b}, NaN when either is NaN or b is 0. */
  public static double ratio(double a, double b) {
    return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? Double.NaN : a / b;
  }
}
