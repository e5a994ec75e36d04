package io.jipam.etcd;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One ADD ({@link Add}) or DEL ({@link Del}) waiting for, or in, a commit, with its typed result.
 *
 * <p>Its state moves once: from queued to taken (by the commit task, which then answers it) or to
 * abandoned (by its caller, past the deadline; it is then never planned). The planned outcome and
 * the uncertain one are confined to the commit task that took it.
 *
 * @param <R> what the caller gets: an {@link AllocationOutcome} or the released allocations
 */
abstract sealed class Change<R> permits Change.Add, Change.Del {
  private static final int QUEUED = 0;
  private static final int TAKEN = 1;
  private static final int ABANDONED = 2;

  final Pool pool;
  final Attachment attachment;
  /** nanoTime by which the caller wants an answer. */
  final long deadline;
  final CompletableFuture<R> result = new CompletableFuture<>();
  private final AtomicInteger state = new AtomicInteger(QUEUED);
  /** The outcome planned in the current attempt, or null. */
  R planned;
  /** The outcome of an attempt whose transaction was sent and may or may not have applied. */
  R uncertain;
  /**
   * Set instead of {@link #planned} when the store may not touch the attachment (another node's,
   * in a scoped store): the change writes nothing and its caller gets this.
   */
  io.jipam.core.IpamException denied;

  private Change(Pool pool, Attachment attachment, long deadline) {
    this.pool = pool;
    this.attachment = attachment;
    this.deadline = deadline;
  }

  /** The commit task takes the change; false when its caller has given up. */
  final boolean take() {
    return state.compareAndSet(QUEUED, TAKEN);
  }

  /** The caller gives up; false when the commit task has already taken the change. */
  final boolean abandon() {
    return state.compareAndSet(QUEUED, ABANDONED);
  }

  /** Plans the change into the transaction; the outcome becomes {@link #planned}. */
  abstract void planIn(TxnPlan plan);

  /** True when the planned outcome writes (so it must be committed to hold). */
  abstract boolean writes();

  /** True when the planned outcome is a refusal that writes nothing: Exhausted or Taken. */
  boolean isRefusal() {
    return false;
  }

  /** True when the planned outcome creates the attachment's handle. */
  boolean createsHandle() {
    return false;
  }

  final void complete() {
    if (denied != null) {
      result.completeExceptionally(denied);
    } else {
      result.complete(planned);
    }
  }

  /** The planned outcome's transaction was sent and its fate is unknown. */
  final void markUncertain() {
    if (planned != null) {
      uncertain = planned;
    }
  }

  /** An ADD. */
  static final class Add extends Change<AllocationOutcome> {
    final AllocationRequest request;
    /**
     * True when the planned {@code Unavailable} comes from a claim on the requested address: like
     * Exhausted and Taken it is decided from a snapshot of the pool's blocks.
     */
    boolean claimRefusal;

    Add(Pool pool, AllocationRequest request, long deadline) {
      super(pool, request.attachment(), deadline);
      this.request = request;
    }

    @Override
    void planIn(TxnPlan plan) {
      claimRefusal = false;
      planned = plan.allocate(this);
    }

    @Override
    boolean writes() {
      return createsHandle();
    }

    @Override
    boolean isRefusal() {
      return planned instanceof AllocationOutcome.Exhausted || planned instanceof AllocationOutcome.Taken
          || claimRefusal && planned instanceof AllocationOutcome.Unavailable;
    }

    @Override
    boolean createsHandle() {
      return planned instanceof AllocationOutcome.Allocated a && !a.existing();
    }
  }

  /** A DEL: every DEL writes (at least its marker). */
  static final class Del extends Change<List<Allocation>> {
    Del(Pool pool, Attachment attachment, long deadline) {
      super(pool, attachment, deadline);
    }

    @Override
    void planIn(TxnPlan plan) {
      planned = plan.release(this);
    }

    @Override
    boolean writes() {
      return denied == null;
    }
  }
}
