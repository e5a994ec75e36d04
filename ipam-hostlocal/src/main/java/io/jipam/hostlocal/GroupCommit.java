package io.jipam.hostlocal;

import io.jipam.core.store.capability.LocalCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Group commit for one pool: callers queue their operation and wait; one of them (the leader)
 * takes everything queued as one batch and runs it with {@code runner}, outside the queue's lock,
 * then wakes the batch's callers and hands the lead to the first caller still waiting. So calls
 * that arrive while a batch is on disk are served together by the next one: one pool-lock hold
 * and one fsync round per batch instead of per call.
 *
 * <p>Thread-safe. The runner must complete every operation of the batch it is given (result or
 * failure); a runner that throws fails the operations it did not complete with that exception.
 */
final class GroupCommit<T extends GroupCommit.Pending> {
  /** A queued operation; {@link #done} is set by the leader once its result or failure is in. */
  abstract static class Pending {
    Condition wake;
    boolean done;
    /** Set by the runner: an IpamException or other RuntimeException the caller rethrows. */
    RuntimeException failure;

    boolean completed() {
      return done;
    }
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final List<T> queue = new ArrayList<>();
  private final Consumer<List<T>> runner;
  private boolean running;
  private long batches;
  private long operations;

  GroupCommit(Consumer<List<T>> runner) {
    this.runner = runner;
  }

  /**
   * Queues {@code op}, waits until a batch containing it has run (leading it when its turn comes).
   * Run {@link LocalCalls#withoutWaiting}, it does not wait: it runs {@code op} alone when no batch
   * runs or waits, and otherwise throws {@link LocalCalls.WouldWait} without queueing it.
   */
  void submit(T op) {
    List<T> batch;
    lock.lock();
    try {
      if (LocalCalls.waitingRefused() && (running || !queue.isEmpty())) {
        throw new LocalCalls.WouldWait("another call's batch runs on the pool");
      }
      op.wake = lock.newCondition();
      queue.add(op);
      while (running && !op.done) {
        op.wake.awaitUninterruptibly();
      }
      if (op.done) {
        return;
      }
      running = true;
      batch = new ArrayList<>(queue);
      queue.clear();
    } finally {
      lock.unlock();
    }
    try {
      runner.accept(batch);
    } catch (RuntimeException e) {
      for (T p : batch) {
        if (p.failure == null) {
          p.failure = e;
        }
      }
    } finally {
      lock.lock();
      try {
        batches++;
        operations += batch.size();
        for (T p : batch) {
          p.done = true;
          if (p != op) {
            p.wake.signal();
          }
        }
        running = false;
        if (!queue.isEmpty()) {
          queue.get(0).wake.signal(); // the next leader
        }
      } finally {
        lock.unlock();
      }
    }
  }

  /** Batches run and operations served so far: {batches, operations}. */
  long[] counts() {
    lock.lock();
    try {
      return new long[] {batches, operations};
    } finally {
      lock.unlock();
    }
  }
}
