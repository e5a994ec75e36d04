package io.jipam.bench.churn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PodPlanTest {
  @Test
  void draw_sameSeed_samePods() {
    PodPlan a = PodPlan.draw(new SplittableRandom(7), 20, 30, 2);
    PodPlan b = PodPlan.draw(new SplittableRandom(7), 20, 30, 2);
    assertEquals(a, b);
    assertNotEquals(a, PodPlan.draw(new SplittableRandom(8), 20, 30, 2));
  }

  @Test
  void draw_arrivalsInOrderWithinTheWindow_lifetimesCapped() {
    PodPlan plan = PodPlan.draw(new SplittableRandom(1), 50, 60, 2);
    // Poisson: 3,000 expected; 5 standard deviations is about 270
    assertTrue(Math.abs(plan.pods().size() - 3000) < 300, "pods: " + plan.pods().size());
    long previous = 0;
    double lifetimes = 0;
    for (PodPlan.Pod pod : plan.pods()) {
      assertTrue(pod.arrivalMillis() >= previous && pod.arrivalMillis() < 60_000, pod.toString());
      assertTrue(pod.lifetimeMillis() >= 0 && pod.lifetimeMillis() <= 6_000, pod.toString());
      previous = pod.arrivalMillis();
      lifetimes += pod.lifetimeMillis();
    }
    double mean = lifetimes / plan.pods().size();
    // exponential of mean 2 s capped at 6 s: mean 2 * (1 - e^-3) = 1.90 s
    assertTrue(Math.abs(mean - 1900) < 150, "mean lifetime " + mean);
  }

  @Test
  void draw_zeroRate_isRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PodPlan.draw(new SplittableRandom(1), 0, 1, 1));
    assertTrue(e.getMessage().contains("got 0.0"), e.getMessage());
  }
}
