package io.jipam.bench.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.bench.harness.Stats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link PairLoad.Result#latencyMillis} ranks as {@link Stats#percentile} does (nearest rank). */
class PairLoadResultTest {
  @ParameterizedTest
  @CsvSource({"100, 0.99, 99", "100, 0.5, 50", "1000, 0.999, 999", "1000, 0.99, 990", "1, 0.99, 1", "3, 0.01, 1",
      "3, 1.0, 3"})
  void latencyMillis_nMillisecondSamples_theNearestRank(int n, double q, long expectedMillis) {
    long[] nanos = LongStream.rangeClosed(1, n).map(ms -> ms * 1_000_000).toArray();
    PairLoad.Result r = new PairLoad.Result("t", 1, 1, Duration.ofSeconds(1), n, nanos, 0, 0, 0, 0, 0, Duration.ZERO, 0);
    assertEquals(expectedMillis, r.latencyMillis(q));
    List<Double> values = new ArrayList<>();
    LongStream.rangeClosed(1, n).forEach(ms -> values.add((double) ms));
    assertEquals(Stats.percentile(values, q * 100), r.latencyMillis(q));
  }
}
