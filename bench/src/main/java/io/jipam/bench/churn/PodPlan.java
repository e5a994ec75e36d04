package io.jipam.bench.churn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The pods of one churn run, drawn from a seed: arrivals as a Poisson process at {@code rate} per
 * second over {@code seconds}, each pod living an exponentially distributed time of mean
 * {@code meanLifetimeSeconds} after it got its address, capped at three times the mean so a run
 * drains in bounded time. The same seed gives the same pods, so every subject gets the same load.
 *
 * @param pods in order of arrival
 */
record PodPlan(List<Pod> pods) {
  /** Lifetimes are capped at this many times the mean. */
  static final double LIFETIME_CAP = 3.0;

  /**
   * One pod.
   *
   * @param id its container id
   * @param arrivalMillis when it arrives, from the start of the run
   * @param lifetimeMillis how long it keeps its address once it has it
   */
  record Pod(String id, long arrivalMillis, long lifetimeMillis) {}

  PodPlan {
    pods = List.copyOf(pods);
  }

  static PodPlan draw(SplittableRandom random, double rate, double seconds, double meanLifetimeSeconds) {
    if (!(rate > 0) || !(seconds > 0) || !(meanLifetimeSeconds > 0)) {
      throw new IllegalArgumentException("rate, seconds and lifetime must be > 0, got " + rate + ", " + seconds
          + ", " + meanLifetimeSeconds);
    }
    List<Pod> pods = new ArrayList<>();
    double t = 0;
    while (true) {
      t += -Math.log(1 - random.nextDouble()) / rate;
      if (t >= seconds) {
        break;
      }
      double life = Math.min(-Math.log(1 - random.nextDouble()) * meanLifetimeSeconds, LIFETIME_CAP * meanLifetimeSeconds);
      pods.add(new Pod("churn" + pods.size(), Math.round(t * 1000), Math.round(life * 1000)));
    }
    return new PodPlan(pods);
  }
}
