package io.jipam.bench.harness;

import java.nio.file.Path;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * What a scenario gets for one run.
 *
 * @param out the results directory (exists)
 * @param seed the workload seed ({@code --seed}): the same seed gives the same workload
 * @param quick tiny sizes, for smoke tests: the figures mean nothing
 * @param rounds the rounds the user asked for, or 0 for each scenario's default
 * @param results where raw samples go ({@code samples.csv})
 * @param report where the summary goes ({@code summary.md})
 * @param progress the progress display
 */
public record RunContext(Path out, long seed, boolean quick, int rounds, Results results, Report report,
    Progress progress) {

  public RunContext {
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(results, "results");
    Objects.requireNonNull(report, "report");
    Objects.requireNonNull(progress, "progress");
    if (rounds < 0) {
      throw new IllegalArgumentException("rounds must be >= 0, got " + rounds);
    }
  }

  /** {@link #rounds} if the user set it, else {@code fallback}. */
  public int roundsOr(int fallback) {
    return rounds > 0 ? rounds : fallback;
  }

  /** A random source derived from the seed and a name, so scenarios do not share one stream. */
  public SplittableRandom random(String name) {
    return new SplittableRandom(seed * 31 + name.hashCode());
  }

  /** A file in the results directory. */
  public Path file(String name) {
    return out.resolve(name);
  }
}
