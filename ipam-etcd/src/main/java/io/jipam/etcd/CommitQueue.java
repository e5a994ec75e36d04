package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * The commit queue of one pool in one store: callers queue {@link Change}s and wait; at most one
 * commit task at a time drains the queue in batches of up to {@value #MAX_BATCH} and hands each to
 * the pool's {@link BatchCommitter} (group commit).
 *
 * <p>Thread-safe. The {@code draining} flag hands the pool's cached state from one commit task to
 * the next (its atomic updates order memory). A caller past its deadline (plus slack) gives up only
 * on a change still queued; the commit task skips given-up changes and answers every change it took.
 */
final class CommitQueue {
  static final int MAX_BATCH = 32;

  private final ConcurrentLinkedDeque<Change<?>> queue = new ConcurrentLinkedDeque<>();
  private final AtomicBoolean draining = new AtomicBoolean();
  private final Executor committers;
  private final LongSupplier clock;
  private final long timeoutNanos;
  private final BatchCommitter committer;

  CommitQueue(Executor committers, LongSupplier clock, long timeoutNanos, BatchCommitter committer) {
    this.committers = committers;
    this.clock = clock;
    this.timeoutNanos = timeoutNanos;
    this.committer = committer;
  }

  /** Queues the change and waits for its result. */
  <R> R submit(Change<R> change) {
    queue.add(change);
    kick();
    return await(change);
  }

  /** Queues all changes at once (so they share transactions) and waits for every result. */
  <R> List<R> submitAll(List<? extends Change<R>> changes) {
    queue.addAll(changes);
    kick();
    List<R> out = new ArrayList<>();
    IpamException first = null;
    for (Change<R> c : changes) {
      try {
        out.add(await(c));
      } catch (IpamException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
    return out;
  }

  /**
   * Queues the change without waiting: the future completes when the commit task answers it, or,
   * past its deadline plus slack, as {@link #submit}'s wait would end (given up while still queued,
   * or, once taken and still unanswered after a further timeout, an unknown outcome), by a timer.
   */
  <R> CompletableFuture<R> submitAsync(Change<R> change) {
    queue.add(change);
    kick();
    if (!change.result.isDone()) {
      long wait = Math.max(0, change.deadline - clock.getAsLong()) + slack();
      ScheduledFuture<?> timer = Deadlines.TIMER.schedule(() -> expire(change), wait, TimeUnit.NANOSECONDS);
      change.result.whenComplete((r, t) -> timer.cancel(false));
    }
    return change.result;
  }

  /** The async caller's deadline passed: as {@link #await}'s, without a thread waiting. */
  private void expire(Change<?> change) {
    if (change.result.isDone()) {
      return;
    }
    if (change.abandon()) {
      queue.remove(change);
      change.result.completeExceptionally(queuedTooLong(change));
      return;
    }
    ScheduledFuture<?> last = Deadlines.TIMER.schedule(
        () -> change.result.completeExceptionally(unanswered(change)), timeoutNanos + slack(), TimeUnit.NANOSECONDS);
    change.result.whenComplete((r, t) -> last.cancel(false));
  }

  /**
   * Waits for a change's result. Past its deadline (plus slack) a caller gives up only on a change
   * still queued, which then is never planned; one the commit task has taken is answered by that
   * task, whose every etcd call ends by the change's deadline.
   */
  private <R> R await(Change<R> change) {
    long slack = slack();
    try {
      try {
        return change.result.get(Math.max(0, change.deadline - clock.getAsLong()) + slack, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        if (change.abandon()) {
          queue.remove(change);
          throw queuedTooLong(change);
        }
        return change.result.get(timeoutNanos + slack, TimeUnit.NANOSECONDS);
      }
    } catch (TimeoutException e) {
      throw unanswered(change);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting for etcd", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IpamException ie) {
        throw new IpamException(ie.code(), ie.getMessage(), ie);
      }
      throw new IpamException(ErrorCode.INTERNAL, "etcd store: " + cause, cause);
    }
  }

  private long slack() {
    return Math.min(timeoutNanos / 2, 2_000_000_000L) + 100_000_000L;
  }

  private static IpamException queuedTooLong(Change<?> change) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: request for " + change.attachment
        + " timed out waiting to commit (in the commit queue behind other transactions); nothing"
        + " changed and nothing will");
  }

  /** An outcome nobody can tell: TRY_AGAIN_LATER, as every unknown outcome (the runtime retries, or DELs). */
  private static IpamException unanswered(Change<?> change) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: the commit task did not answer the request for "
        + change.attachment + " long after its deadline; its outcome is unknown");
  }

  /**
   * The timer of {@link #submitAsync}'s deadlines: one daemon thread for the JVM, made on first
   * use; a cancelled timer leaves its queue at once, so it holds only the changes in flight.
   */
  private static final class Deadlines {
    static final ScheduledThreadPoolExecutor TIMER = timer();

    private static ScheduledThreadPoolExecutor timer() {
      ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
        Thread thread = new Thread(r, "jipam-etcd-deadlines");
        thread.setDaemon(true);
        return thread;
      });
      t.setRemoveOnCancelPolicy(true);
      return t;
    }
  }

  private void kick() {
    if (draining.compareAndSet(false, true)) {
      try {
        committers.execute(this::drain);
      } catch (RuntimeException e) {
        draining.set(false);
        IpamException ex = new IpamException(ErrorCode.INTERNAL, "etcd store is closed", e);
        Change<?> c;
        while ((c = queue.poll()) != null) {
          c.result.completeExceptionally(ex);
        }
      }
    }
  }

  private void drain() {
    while (true) {
      List<Change<?>> batch = new ArrayList<>();
      Change<?> c;
      while (batch.size() < MAX_BATCH && (c = queue.poll()) != null) {
        if (!c.take()) {
          continue; // its caller gave up: never planned
        }
        if (clock.getAsLong() >= c.deadline) {
          c.result.completeExceptionally(new IpamException(ErrorCode.TRY_AGAIN_LATER,
              "etcd store: request for " + c.attachment + " timed out waiting to commit (in the commit"
                  + " queue behind other transactions); nothing changed"));
          continue;
        }
        batch.add(c);
      }
      if (batch.isEmpty()) {
        draining.set(false);
        if (queue.isEmpty() || !draining.compareAndSet(false, true)) {
          return;
        }
        continue;
      }
      try {
        committer.process(batch);
      } catch (Throwable t) {
        committer.forget();
        IpamException ex = t instanceof IpamException ie ? ie
            : new IpamException(ErrorCode.INTERNAL, "etcd store: unexpected " + t, t);
        for (Change<?> o : batch) {
          o.result.completeExceptionally(ex);
        }
        if (t instanceof Error e && !(t instanceof AssertionError)) {
          draining.set(false);
          throw e;
        }
      }
    }
  }
}
