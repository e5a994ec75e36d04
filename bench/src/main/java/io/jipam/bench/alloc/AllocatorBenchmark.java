package io.jipam.bench.alloc;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.alloc.RangeSetAllocator;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One allocate+release pair (choose the next address, mark it, unmark it) at a given fill of a
 * range, so the fill stays constant across invocations.
 *
 * <ul>
 *   <li>{@code rangeSetRoundRobin}: {@link RangeSetAllocator#next} in round-robin order with the
 *       cursor moving to each address handed out (host-local's order), then mark + unmark.
 *   <li>{@code rangeSetLowestFree}: the same in lowest-free order.
 *   <li>{@code bitSetRoundRobin} / {@code bitSetLowestFree}: the baseline, a naive allocator over
 *       one {@link java.util.BitSet} searched with {@code nextClearBit} (a linear scan of words),
 *       producing an {@link IpAddress} too so that both sides do the same object work.
 *   <li>{@code hostLocalScan}: a model of host-local's algorithm on the same bitmap: from the last
 *       reserved address, one address per step (host-local tries to create one file per step).
 *   <li>{@code k8sRandomScan}: a model of Kubernetes' ClusterIP bitmap allocator: a random start,
 *       then one bit per step.
 * </ul>
 *
 * <p>The models have the peers' algorithms, not their costs per step: a host-local step is a
 * file creation, measured for real by the harness's {@code plugin} scenario.
 *
 * <p>The fill is random (Bernoulli per address, fixed seed) and prepared in {@code @Setup}; at
 * least one address is always left free (a /24 at 99.99% would otherwise have none). An IPv6 /64
 * cannot be filled to a fraction of 2^64: for {@code fd00::/64} the fill applies to a window of the
 * first 2^24 addresses, the rest of the /64 stays empty, and the baseline covers the window only.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AllocatorBenchmark {
  /** Addresses of a /64 that the fill applies to (the size of an IPv4 /8). */
  static final long V6_WINDOW = 1L << 24;

  @Param({"10.0.0.0/24", "10.0.0.0/16", "10.0.0.0/8", "fd00::/64"})
  public String subnet;

  /** Percent of the range's addresses marked in use before measuring. */
  @Param({"0", "50", "90", "99", "99.99"})
  public double fill;

  private RangeSetAllocator allocator;
  private IpAddress cursor;

  /** Seed of the random fill (and of the Kubernetes model's random starts). */
  @Param({"20240601"})
  public long seed;

  private NaiveBitSetAllocator baseline;
  private int baselineCursor;
  private SplittableRandom starts;

  @Setup(Level.Trial)
  public void setUp(BenchmarkParams params) {
    IpRange range = IpRange.withDefaults(Cidr.parse(subnet), null, null, null, List.of());
    long window = range.family() == io.jipam.core.net.IpFamily.V6 ? V6_WINDOW : range.lastOffset() + 1;
    boolean useBaseline = !params.getBenchmark().contains("rangeSet");
    if (useBaseline) {
      baseline = new NaiveBitSetAllocator(range.rangeStart(), (int) window);
      baseline.reserve(0); // the gateway, rangeStart by default, as the real allocator reserves it
    } else {
      allocator = new RangeSetAllocator(new RangeSet(List.of(range)));
    }
    // the same random addresses for both allocators: offset 0 is the gateway
    SplittableRandom random = new SplittableRandom(seed);
    starts = new SplittableRandom(seed + 1);
    double p = fill / 100.0;
    long marked = 0;
    long lastMarked = -1;
    for (long offset = 1; offset < window; offset++) {
      if (random.nextDouble() < p) {
        if (useBaseline) {
          baseline.mark((int) offset);
        } else if (!allocator.mark(range.addressAt(offset))) {
          throw new IllegalStateException("could not mark " + range.addressAt(offset));
        }
        marked++;
        lastMarked = offset;
      }
    }
    if (marked == window - 1) { // no free address left: free the last one marked
      if (useBaseline) {
        baseline.unmark((int) lastMarked);
      } else {
        allocator.unmark(range.addressAt(lastMarked));
      }
      marked--;
    }
    cursor = null;
    baselineCursor = -1;
    if (!Boolean.getBoolean("jipam.bench.quiet")) {
      System.out.printf("%n[setup] %s %s: %d of %d addresses marked (%.4f%%)%n", params.getBenchmark()
          .replaceAll(".*\\.", ""), subnet, marked, window - 1, 100.0 * marked / (window - 1));
    }
  }

  @Benchmark
  public IpAddress rangeSetRoundRobin() {
    IpAddress next = allocator.next(AllocationOrder.ROUND_ROBIN, cursor);
    allocator.mark(next);
    allocator.unmark(next);
    cursor = next;
    return next;
  }

  @Benchmark
  public IpAddress rangeSetLowestFree() {
    IpAddress next = allocator.next(AllocationOrder.LOWEST_FREE, null);
    allocator.mark(next);
    allocator.unmark(next);
    return next;
  }

  @Benchmark
  public IpAddress bitSetRoundRobin() {
    int offset = baseline.nextRoundRobin(baselineCursor);
    baseline.mark(offset);
    baseline.unmark(offset);
    baselineCursor = offset;
    return baseline.addressAt(offset);
  }

  @Benchmark
  public IpAddress bitSetLowestFree() {
    int offset = baseline.nextLowest();
    baseline.mark(offset);
    baseline.unmark(offset);
    return baseline.addressAt(offset);
  }

  @Benchmark
  public IpAddress hostLocalScan() {
    int offset = baseline.nextStepwise(baselineCursor);
    baseline.mark(offset);
    baseline.unmark(offset);
    baselineCursor = offset;
    return baseline.addressAt(offset);
  }

  @Benchmark
  public IpAddress k8sRandomScan() {
    int offset = baseline.nextRandomStart(starts);
    baseline.mark(offset);
    baseline.unmark(offset);
    return baseline.addressAt(offset);
  }
}
