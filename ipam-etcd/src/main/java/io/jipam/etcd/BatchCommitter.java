package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.capability.CommitListener;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Commits the batches of one pool's {@link CommitQueue}: plans the batch's changes one after the
 * other into one {@link TxnPlan}, sends it as one transaction, and on a failed guard refreshes the
 * {@link PoolCache} from the transaction's else branch and plans again; transient failures drop
 * the cache and retry. Each change is answered by its deadline.
 *
 * <p>Refusals ({@code Exhausted}, {@code Taken}) write nothing, so no guard would catch a stale
 * copy behind them: they are only given by a plan that has written nothing yet and has re-read
 * every block of the pool, and the refused attachment's handle, at one revision (paged) ({@link
 * TxnPlan#snapshot}); a refusal planned after other changes' writes is planned again once they
 * have committed.
 *
 * <p>Confined to the pool's commit task.
 */
final class BatchCommitter {
  /** Keep transactions below etcd's default --max-txn-ops of 128. */
  private static final int MAX_TXN_OPS = 100;

  private final StoreContext ctx;
  private final PoolCache cache;
  private final CommitTickets tickets;
  private final AtomicLong commits;
  private final AtomicLong committedRequests;
  private final AtomicLong refusedCommits;
  private final AtomicLong bytesWritten;
  private final CommitListener listener;
  private final TxnSender sender;

  /**
   * @param commits counts successful transactions; {@code committedRequests} the changes they
   *     carried (for tests and the benchmark), {@code refusedCommits} the transactions refused by
   *     their guard, {@code bytesWritten} the keys and values they wrote; {@code listener} is told of each commit (metrics); {@code sender} sends its
   *     transactions (alone, or with other nodes' parts)
   */
  BatchCommitter(StoreContext ctx, PoolCache cache, CommitTickets tickets, AtomicLong commits,
      AtomicLong committedRequests, AtomicLong refusedCommits, AtomicLong bytesWritten, CommitListener listener, TxnSender sender) {
    this.sender = sender;
    this.bytesWritten = bytesWritten;
    this.listener = listener;
    this.ctx = ctx;
    this.cache = cache;
    this.tickets = tickets;
    this.commits = commits;
    this.committedRequests = committedRequests;
    this.refusedCommits = refusedCommits;
  }

  /** After an unexpected failure: nothing cached is trusted. */
  void forget() {
    cache.forget();
  }

  /** Plans and commits a batch, retrying conflicts and transient failures until each one's deadline. */
  void process(List<Change<?>> batch) {
    List<Change<?>> pending = new ArrayList<>(batch);
    Set<Attachment> knownAbsent = new HashSet<>();
    cache.holds.clear(); // a pod's holds change on any node: read them for each batch
    int conflicts = 0;
    int attempts = 0;
    IpamException lastTransient = null;
    while (true) {
      long now = ctx.now();
      long deadline = Long.MAX_VALUE;
      List<Change<?>> live = new ArrayList<>(pending.size());
      for (Change<?> c : pending) {
        if (now >= c.deadline) {
          c.result.completeExceptionally(timedOut(c, attempts, conflicts, lastTransient));
        } else {
          live.add(c);
          deadline = Math.min(deadline, c.deadline);
        }
      }
      pending = live;
      if (pending.isEmpty()) {
        return;
      }
      boolean committing = false;
      List<Change<?>> included = new ArrayList<>();
      TxnPlan plan = null;
      try {
        cache.load(deadline);
        cache.prefetch(pending, knownAbsent, deadline);
        plan = new TxnPlan(ctx, cache, tickets, deadline, conflicts);
        List<Change<?>> deferred = new ArrayList<>();
        for (Change<?> c : pending) {
          boolean clean = plan.isClean();
          c.planIn(plan);
          if (c.isRefusal() && clean && !plan.snapshotCovers(c.attachment)) {
            // a refusal is only given from every block of the pool, and the attachment's handle,
            // read at one revision
            plan.rollbackChange();
            plan.snapshot(c.attachment);
            c.planIn(plan);
          }
          if (c.isRefusal() && !clean) {
            // decided against writes this plan has not committed yet: decide again after them
            plan.rollbackChange();
            deferred.add(c);
            continue;
          }
          if (!c.writes()) {
            plan.rollbackChange();
          }
          if (plan.size() > MAX_TXN_OPS && !included.isEmpty()) {
            plan.rollbackChange();
            deferred.add(c);
            continue;
          }
          plan.endChange();
          included.add(c);
        }
        if (plan.isEmpty()) {
          included.forEach(Change::complete);
          pending = deferred;
          continue;
        }
        plan.takeLeases();
        attempts++;
        committing = true;
        TxnResult r = plan.commit(sender);
        committing = false;
        if (r.succeeded()) {
          plan.apply(r.revision());
          commits.incrementAndGet();
          bytesWritten.addAndGet(plan.writtenBytes());
          committedRequests.addAndGet(included.size());
          try {
            listener.committed(cache.pool.name(), included.size(), plan.writtenBytes());
          } catch (RuntimeException ignored) {
            // a listener's failure is not the store's: the changes are committed
          }
          included.forEach(Change::complete);
          pending = deferred;
          conflicts = 0;
        } else {
          String fence = plan.refresh(r.reads(), knownAbsent);
          if (fence != null) {
            pending = failFenced(pending, included, fence);
          }
          conflicts++;
          refusedCommits.incrementAndGet();
          if (conflicts > 1) {
            // exponential backoff with full jitter: stores racing on one block spread out
            pause(ThreadLocalRandom.current().nextInt(0, 1 + Math.min(64, 1 << Math.min(conflicts, 6))));
          }
        }
      } catch (IpamException e) {
        if (e.code() != ErrorCode.TRY_AGAIN_LATER) {
          for (Change<?> c : pending) {
            c.result.completeExceptionally(e);
          }
          if (e.code() != ErrorCode.INVALID_CONFIG) {
            cache.forget();
          }
          return;
        }
        lastTransient = e;
        if (e.getMessage() != null && e.getMessage().contains("lease not found")) {
          tickets.dropLeases();
        }
        if (committing) {
          included.forEach(Change::markUncertain);
          // what was sent may still apply: its ticket's lease is no longer renewed from now on
          tickets.retireTicket(plan.ticketLeaseId());
        }
        cache.forget();
        knownAbsent.clear();
        long left = (deadline - ctx.now()) / 1_000_000;
        if (left > 0) {
          pause(Math.min(100, left));
        }
      } finally {
        for (Change<?> c : pending) {
          if (!c.result.isDone()) {
            c.planned = null;
          }
        }
      }
    }
  }

  /** The node is fenced: its changes that would create a handle fail; the rest go on. */
  private List<Change<?>> failFenced(List<Change<?>> pending, List<Change<?>> included, String fence) {
    List<Change<?>> rest = new ArrayList<>();
    for (Change<?> c : pending) {
      if (included.contains(c) && c.createsHandle()) {
        c.result.completeExceptionally(new IpamException(ErrorCode.NOT_AVAILABLE, "etcd store: node "
            + ctx.node() + " is " + fence + " (reclaimNode): it must not allocate, since its addresses may have"
            + " been handed out again. Nothing was allocated for " + c.attachment + ". If this node is"
            + " new, an operator lifts the fence (liftFence / jipamctl)"));
      } else {
        rest.add(c);
      }
    }
    return rest;
  }

  /** The error of a change whose deadline passed before it was answered. */
  private IpamException timedOut(Change<?> c, int attempts, int conflicts, IpamException lastTransient) {
    String why;
    if (lastTransient != null) {
      why = lastTransient.getMessage();
    } else if (conflicts > 0) {
      why = "the blocks kept changing under " + conflicts + " conflicting transactions";
    } else {
      why = "timed out waiting to commit (" + attempts + " transactions of its batch sent before)";
    }
    String outcome = c.uncertain == null ? "; nothing changed"
        : "; its last transaction was sent and its outcome is unknown: it can still apply only until its"
            + " ticket lease ends (about " + (ctx.config().timeout().toSeconds() + tickets.ticketTtlSeconds() + 1)
            + " s after it was sent by etcd's clock; later when etcd itself stalled meanwhile), and"
            + " never after a DEL of " + c.attachment + " returned";
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: no result for " + c.attachment + " within "
        + ctx.config().timeout().toMillis() + " ms: " + why + outcome, lastTransient);
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted", e);
    }
  }
}
