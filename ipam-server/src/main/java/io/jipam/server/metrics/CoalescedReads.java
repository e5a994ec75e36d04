package io.jipam.server.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One read of one kind at a time, on a thread of its own, shared by every request that asks while
 * it waits: a request is answered by the first read that starts after it arrived, so it never gets
 * a value older than itself; requests arriving while a read runs are answered together by the next
 * one. However many ask, the reader runs at most once at a time and at most one read waits.
 *
 * <p>Why: {@code /metrics} and {@code /healthz} are served unauthenticated on a TCP port, and
 * each scrape reads the store (every pool's usage; on etcd, key reads). Run on jipamd's workers,
 * a flood of scrapes from anything that reaches the port filled their queue, and the CNI and gRPC
 * calls of a store whose calls take a worker (etcd, remote) were answered busy. And a health check
 * run on the workers said NOT_SERVING whenever the calls kept them busy: a loaded jipamd looked
 * down to its probes.
 *
 * <p>Thread-safe. Answers run on the reader's thread.
 */
public final class CoalescedReads<T> implements AutoCloseable {
  /**
   * The most requests that may wait for the next read by default: a bound on memory only, far above
   * what a scraper and the probes send. A low one would let a flood of requests fill it, and then the
   * kubelet's probe would be refused; below it, the probe joins the next read like any other.
   */
  public static final int MAX_WAITING = 10_000;

  /** What a read gave: its value, or the exception it threw. */
  public record Outcome<T>(T value, RuntimeException failure) {}

  private final Supplier<T> reader;
  private final int maxWaiting;
  private final ExecutorService thread;
  /** Guarded by this: whether a read runs, and who waits for the next one. */
  private boolean reading;
  private List<Consumer<Outcome<T>>> waiting = new ArrayList<>();

  /** With at most {@link #MAX_WAITING} requests waiting. */
  public CoalescedReads(String name, Supplier<T> reader) {
    this(name, reader, MAX_WAITING);
  }

  /**
   * @param name the reader thread's name
   * @param maxWaiting how many requests may wait for the next read; more are refused
   */
  CoalescedReads(String name, Supplier<T> reader, int maxWaiting) {
    this.reader = reader;
    this.maxWaiting = maxWaiting;
    this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Asks for a read: {@code answer} gets the outcome of the first read that starts after this
   * call. False, and {@code answer} is never called, when {@code maxWaiting} requests already wait
   * or this is closed.
   */
  public synchronized boolean ask(Consumer<Outcome<T>> answer) {
    if (waiting.size() >= maxWaiting || thread.isShutdown()) {
      return false;
    }
    waiting.add(answer);
    if (!reading) {
      reading = startNext();
    }
    return true;
  }

  /** Starts a read for everyone waiting; false when closed (the waiting are dropped). Holds the lock. */
  private boolean startNext() {
    List<Consumer<Outcome<T>>> batch = waiting;
    waiting = new ArrayList<>();
    try {
      thread.execute(() -> read(batch));
      return true;
    } catch (RejectedExecutionException closed) {
      return false;
    }
  }

  private void read(List<Consumer<Outcome<T>>> batch) {
    Outcome<T> outcome;
    try {
      outcome = new Outcome<>(reader.get(), null);
    } catch (RuntimeException e) {
      outcome = new Outcome<>(null, e);
    } catch (Error e) { // answered as a failed read: this thread must go on serving the next ones
      outcome = new Outcome<>(null, new IllegalStateException("the read failed: " + e, e));
    }
    for (Consumer<Outcome<T>> answer : batch) {
      try {
        answer.accept(outcome);
      } catch (RuntimeException | Error e) {
        // one answer that cannot be delivered does not keep the others from theirs, nor this
        // thread from the next reads (an Error here left `reading` set: no read ever again)
      }
    }
    synchronized (this) {
      reading = !waiting.isEmpty() && startNext();
    }
  }

  /** How many requests wait for the next read (tests). */
  synchronized int waiting() {
    return waiting.size();
  }

  /**
   * Refuses new requests, and answers those waiting for the next read with a failure (jipamd is
   * stopping) on the calling thread; a read running ends on its own (its thread is a daemon) and
   * answers its batch.
   */
  @Override
  public void close() {
    List<Consumer<Outcome<T>>> dropped;
    synchronized (this) {
      thread.shutdown();
      dropped = waiting;
      waiting = new ArrayList<>();
    }
    Outcome<T> stopping = new Outcome<>(null, new IllegalStateException("jipamd is stopping"));
    for (Consumer<Outcome<T>> answer : dropped) {
      try {
        answer.accept(stopping);
      } catch (RuntimeException | Error e) {
        // as in read: the others still get theirs
      }
    }
  }
}
