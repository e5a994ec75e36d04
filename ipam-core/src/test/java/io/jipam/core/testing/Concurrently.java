package io.jipam.core.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The concurrency harness of the tests (shipped in ipam-core's test-jar): N threads released
 * together, each running the task with its index; waiting rethrows the first failure (a task's
 * exception or a timeout) and always stops the threads. For tests that do something while the
 * threads run, {@link #start} returns them running.
 */
public final class Concurrently implements AutoCloseable {
  /** One thread's work. */
  @FunctionalInterface
  public interface Task {
    void run(int thread) throws Exception;
  }

  private final ExecutorService executor;
  private final List<Future<?>> futures = new ArrayList<>();

  private Concurrently(int threads, Task task) {
    executor = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    for (int t = 0; t < threads; t++) {
      int id = t;
      futures.add(executor.submit(() -> {
        go.await();
        task.run(id);
        return null;
      }));
    }
    go.countDown();
  }

  /** Runs the task on {@code threads} threads started together and waits for all of them. */
  public static void run(int threads, Duration timeout, Task task) throws Exception {
    try (Concurrently running = start(threads, task)) {
      running.await(timeout);
    }
  }

  /** Starts the task on {@code threads} threads together; {@link #await} or close them. */
  public static Concurrently start(int threads, Task task) {
    return new Concurrently(threads, task);
  }

  /**
   * Waits for every thread; rethrows the first failure (unwrapped from the executor's wrapper).
   *
   * @throws TimeoutException naming the timeout when the threads are not done by then
   */
  public void await(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Future<?> f : futures) {
      try {
        f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof Exception cause) {
          throw cause;
        }
        if (e.getCause() instanceof Error error) {
          throw error;
        }
        throw e;
      } catch (TimeoutException e) {
        throw new TimeoutException("threads not done within " + timeout);
      }
    }
  }

  /** Stops the threads (interrupting any still running) and waits briefly for them to end. */
  @Override
  public void close() throws InterruptedException {
    executor.shutdownNow();
    executor.awaitTermination(10, TimeUnit.SECONDS);
  }
}
