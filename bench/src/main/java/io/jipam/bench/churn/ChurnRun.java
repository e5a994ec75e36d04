package io.jipam.bench.churn;

import io.jipam.bench.harness.ChildCpu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Plays a {@link PodPlan} against one {@link Subject}: each pod's ADD is started when it arrives
 * (at most {@code maxInFlight} plugin processes at once, the rest wait their turn, as pods wait for
 * a busy runtime), and its DEL when its lifetime after the ADD has passed. Time to address is from
 * arrival to the end of the ADD, so it includes the wait. Every {@link #SAMPLE_MILLIS} ms the run
 * records how many pods hold an address (ADD done, DEL not yet done) and how many wait for one.
 *
 * <p>One run at a time per instance; nothing else is reaped as a child of this JVM meanwhile (CPU
 * per call is the children's CPU over the run divided by its calls).
 */
final class ChurnRun {
  static final long SAMPLE_MILLIS = 250;

  /** One finished CNI call: times in ms from the start of the run; {@code error} null when it succeeded. */
  record Call(String pod, String command, long arrivalMillis, double startMillis, double endMillis, String error) {
    double wallMillis() {
      return endMillis - startMillis;
    }
  }

  /** The state at one instant of the run. */
  record Point(double seconds, int inUse, int waiting) {}

  /** What a run measured. */
  record Outcome(List<Call> calls, List<Point> timeline, double cpuMillis, double seconds, int leftInStore) {}

  private final Subject subject;
  private final String network;
  private final int maxInFlight;

  /** A run of {@code subject}'s calls on {@code network}, at most {@code maxInFlight} at once. */
  ChurnRun(Subject subject, String network, int maxInFlight) {
    this.subject = subject;
    this.network = network;
    this.maxInFlight = maxInFlight;
  }

  Outcome play(PodPlan plan, Runnable onPodDone) throws Exception {
    Path storeDir = subject.networkDir(network);
    List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    List<Point> timeline = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger inUse = new AtomicInteger();
    AtomicInteger waiting = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(plan.pods().size());
    ExecutorService pool = Executors.newFixedThreadPool(maxInFlight);
    ScheduledExecutorService clock = Executors.newScheduledThreadPool(1);
    double cpuBefore = ChildCpu.millis() + subject.serverCpuMillis();
    long t0 = System.nanoTime();
    try {
      clock.scheduleAtFixedRate(() -> timeline.add(new Point(millisSince(t0) / 1000, inUse.get(), waiting.get())),
          0, SAMPLE_MILLIS, TimeUnit.MILLISECONDS);
      for (PodPlan.Pod pod : plan.pods()) {
        clock.schedule(() -> {
          waiting.incrementAndGet();
          pool.submit(() -> {
            Call add = call(pod, "ADD", t0);
            calls.add(add);
            waiting.decrementAndGet();
            if (add.error() != null) {
              done.countDown();
              onPodDone.run();
              return;
            }
            inUse.incrementAndGet();
            clock.schedule(() -> pool.submit(() -> {
              calls.add(call(pod, "DEL", t0));
              inUse.decrementAndGet();
              done.countDown();
              onPodDone.run();
            }), pod.lifetimeMillis(), TimeUnit.MILLISECONDS);
          });
        }, pod.arrivalMillis(), TimeUnit.MILLISECONDS);
      }
      long last = plan.pods().stream().mapToLong(p -> p.arrivalMillis() + p.lifetimeMillis()).max().orElse(0);
      if (!done.await(last + TimeUnit.MINUTES.toMillis(3), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(subject.name() + ": " + done.getCount() + " pods of " + plan.pods().size()
            + " not done 3 min after the last one was due");
      }
    } finally {
      clock.shutdownNow();
      pool.shutdown();
      if (!pool.awaitTermination(2, TimeUnit.MINUTES)) {
        pool.shutdownNow();
      }
    }
    double seconds = millisSince(t0) / 1000;
    timeline.add(new Point(seconds, inUse.get(), waiting.get()));
    double cpu = ChildCpu.millis() + subject.serverCpuMillis() - cpuBefore;
    List<Call> sorted = new ArrayList<>(calls);
    sorted.sort((a, b) -> Double.compare(a.startMillis(), b.startMillis()));
    return new Outcome(sorted, List.copyOf(timeline), cpu, seconds, addressesIn(storeDir));
  }

  private Call call(PodPlan.Pod pod, String command, long t0) {
    double start = millisSince(t0);
    String error;
    try {
      error = subject.call(command, pod.id(), network);
    } catch (IOException e) {
      error = subject.name() + " " + command + " " + pod.id() + ": " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      error = subject.name() + " " + command + " " + pod.id() + ": interrupted";
    }
    return new Call(pod.id(), command, pod.arrivalMillis(), start, millisSince(t0), error);
  }

  private static double millisSince(long t0) {
    return (System.nanoTime() - t0) / 1e6;
  }

  /** Address files (names of digits and dots) left in a host-local-layout network dir; -1 when it is not there. */
  static int addressesIn(Path networkDir) throws IOException {
    if (networkDir == null || !Files.isDirectory(networkDir)) {
      return -1;
    }
    try (Stream<Path> files = Files.list(networkDir)) {
      return (int) files.map(p -> p.getFileName().toString())
          .filter(n -> !n.isEmpty() && n.chars().allMatch(ch -> ch == '.' || (ch >= '0' && ch <= '9'))
              && n.chars().filter(ch -> ch == '.').count() == 3)
          .count();
    }
  }
}
