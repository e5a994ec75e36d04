package io.jipam.etcd;

import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.Op;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A {@link TxnSender} that puts the parts of many stores (the nodes a central jipamd serves) into
 * shared etcd transactions: a group commit across nodes, so that the transactions per second etcd
 * can do are shared by every node's changes, not spent one per node's small batch.
 *
 * <h2>How parts share a transaction</h2>
 * Callers (each store's commit task, with its node's part planned against its own blocks, handles,
 * fence and ticket) queue their part; while fewer than {@code maxInFlight} transactions are in
 * flight, a caller takes the queue's parts that fit (in order, the first always) and sends them as
 * one transaction: the compares of all of them, their writes, and on the else branch the reads of
 * all of them. A part fits when it touches no key another part of the transaction writes, writes
 * no key another one guards, and the sums stay within {@value #MAX_OPS} compares and writes (etcd's
 * default {@code --max-txn-ops}) and {@value #MAX_BYTES} bytes (below {@code --max-request-bytes}).
 * So each part's guard is checked before any part's write, no two parts write one key, and the
 * transaction applies every part or none.
 *
 * <p>When it applies, every part is answered as applied at its revision. When it is refused, the
 * else branch gave every guarded key's value at one revision: each part whose own guard failed is
 * answered as refused with its own reads (its store refreshes and plans again, as when alone); each
 * part whose guard held goes back to the front of the queue and is sent again unchanged. At least
 * one part's guard failed, so every round answers at least one part. A transport failure or timeout
 * is every part's (each store treats it as an unknown outcome, as when alone); a lease etcd no longer
 * has refuses the whole transaction without applying it, so then each part is sent again alone, and
 * only the part on that lease sees the error.
 *
 * <p>Thread-safe: the queue and the count in flight are guarded by one lock; a sender sends outside it.
 * Each caller waits on a condition of its own, signalled when a sender answers one of its parts or
 * hands it the slot the sender frees (a caller that still has parts to wait for sends with its slot
 * again itself), so a transaction wakes the callers it answered and at most one other, not all.
 */
final class TxnCombiner implements TxnSender {
  /** Etcd's default --max-txn-ops. */
  static final int MAX_OPS = 128;
  /** Below etcd's default --max-request-bytes (1.5 MiB), with room for the request's framing. */
  static final long MAX_BYTES = 1L << 20;
  /** The longest a caller waits between looks at the queue when no one signals it. */
  private static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private final EtcdClient etcd;
  private final LongSupplier clock;
  private final int maxInFlight;
  private final ReentrantLock lock = new ReentrantLock();
  private final ArrayDeque<Entry> queue = new ArrayDeque<>();
  private int inFlight;
  private final AtomicLong transactions = new AtomicLong();
  private final AtomicLong parts = new AtomicLong();
  private final AtomicLong resent = new AtomicLong();

  /** A queued part and, once answered, its result or error (written and read under the lock). */
  private static final class Entry {
    final TxnPart part;
    final long deadline;
    final String what;
    /** Signalled when this part is answered, or when it may take a free slot (its caller's own). */
    final Condition waiter;
    TxnResult result;
    IpamException error;
    boolean queued = true;

    Entry(TxnPart part, long deadline, String what, Condition waiter) {
      this.part = part;
      this.deadline = deadline;
      this.what = what;
      this.waiter = waiter;
    }

    boolean done() {
      return result != null || error != null;
    }
  }

  TxnCombiner(EtcdClient etcd, LongSupplier clock, int maxInFlight) {
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("maxInFlight " + maxInFlight);
    }
    this.etcd = etcd;
    this.clock = clock;
    this.maxInFlight = maxInFlight;
  }

  /** Etcd transactions sent so far (for tests and the benchmark). */
  long transactions() {
    return transactions.get();
  }

  /** Parts answered so far (applied or refused by their own guard). */
  long parts() {
    return parts.get();
  }

  /** Parts sent again because another part of their transaction was refused. */
  long resent() {
    return resent.get();
  }

  @Override
  public TxnResult send(TxnPart part, long deadline, String what) {
    return sendAll(List.of(part), deadline, what).get(0);
  }

  /**
   * Queues the parts at once (so that they may share a transaction) and waits for every result.
   *
   * @throws IpamException the first part's error, when any part had one (as {@link #send})
   */
  List<TxnResult> sendAll(List<TxnPart> parts, long deadline, String what) {
    List<Entry> mine = new ArrayList<>(parts.size());
    Condition waiter = lock.newCondition();
    for (TxnPart p : parts) {
      mine.add(new Entry(p, deadline, what, waiter));
    }
    lock.lock();
    try {
      queue.addAll(mine);
    } finally {
      lock.unlock();
    }
    while (true) {
      List<Entry> batch;
      lock.lock();
      try {
        // a caller whose parts all ride in another caller's transaction may still send queued parts
        // of others (its etcd call is then bounded by its own deadline too: run)
        while (!allDone(mine) && (inFlight >= maxInFlight || queue.isEmpty())) {
          long left = deadline - clock.getAsLong();
          if (left <= 0) {
            for (Entry e : mine) {
              if (e.queued) {
                queue.remove(e);
                e.queued = false;
                e.error = new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: timed out waiting to send "
                    + what + " (behind other nodes' transactions); it was not sent");
              }
            }
            if (allDone(mine)) {
              break;
            }
          }
          // a part in flight is answered by its sender, whose etcd call ends by this part's deadline
          // woken when answered or handed a slot; the bound only limits a missed hand-off's cost
          waiter.awaitNanos(Math.max(Math.min(left, MAX_WAIT_NANOS), TimeUnit.MILLISECONDS.toNanos(10)));
        }
        if (allDone(mine)) {
          return results(mine);
        }
        batch = take();
        inFlight++;
        if (inFlight < maxInFlight) {
          handOn(waiter); // a slot is still free (two senders may have handed theirs to this caller)
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        for (Entry x : mine) {
          if (x.queued) {
            queue.remove(x);
            x.queued = false;
          }
        }
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting to send " + what, e);
      } finally {
        lock.unlock();
      }
      List<Entry> again = List.of();
      try {
        again = run(batch, deadline);
      } finally {
        lock.lock();
        try {
          inFlight--;
          for (int i = again.size() - 1; i >= 0; i--) {
            Entry e = again.get(i);
            e.queued = true;
            queue.addFirst(e);
          }
          for (Entry e : batch) {
            if (!e.done() && !e.queued) {
              e.error = new IpamException(ErrorCode.INTERNAL, "etcd store: " + e.what + " was not answered");
            }
            if (e.done() && e.waiter != waiter) {
              e.waiter.signal();
            }
          }
          if (allDone(mine)) {
            handOn(waiter); // this caller leaves: the slot it frees goes to another caller
          }
        } finally {
          lock.unlock();
        }
      }
    }
  }

  /** Signals the caller of the oldest queued part that is not {@code own}'s; under the lock. */
  private void handOn(Condition own) {
    for (Entry e : queue) {
      if (e.waiter != own) {
        e.waiter.signal();
        return;
      }
    }
  }

  private static boolean allDone(List<Entry> entries) {
    for (Entry e : entries) {
      if (!e.done()) {
        return false;
      }
    }
    return true;
  }

  /** The entries' results, or the first one's error; under the lock. */
  private static List<TxnResult> results(List<Entry> entries) {
    List<TxnResult> out = new ArrayList<>(entries.size());
    for (Entry e : entries) {
      if (e.error != null) {
        throw new IpamException(e.error.code(), e.error.getMessage(), e.error);
      }
      out.add(e.result);
    }
    return out;
  }

  /** The queue's parts that fit into one transaction, in order, the first always; under the lock. */
  private List<Entry> take() {
    List<Entry> out = new ArrayList<>();
    Set<String> writes = new HashSet<>();
    Set<String> guarded = new HashSet<>();
    int compares = 0;
    int thens = 0;
    long bytes = 0;
    for (Iterator<Entry> it = queue.iterator(); it.hasNext(); ) {
      Entry e = it.next();
      TxnPart p = e.part;
      if (!out.isEmpty() && (compares + p.guards().size() > MAX_OPS || thens + p.then().size() > MAX_OPS
          || bytes + p.bytes() > MAX_BYTES || overlaps(p, writes, guarded))) {
        continue;
      }
      it.remove();
      e.queued = false;
      out.add(e);
      writes.addAll(p.written());
      for (TxnPart.Guard g : p.guards()) {
        guarded.add(g.key());
      }
      compares += p.guards().size();
      thens += p.then().size();
      bytes += p.bytes();
    }
    return out;
  }

  /** True when the part touches a key the transaction writes, or writes one it guards. */
  private static boolean overlaps(TxnPart p, Set<String> writes, Set<String> guarded) {
    for (String k : p.written()) {
      if (writes.contains(k) || guarded.contains(k)) {
        return true;
      }
    }
    for (TxnPart.Guard g : p.guards()) {
      if (writes.contains(g.key())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Sends a batch as one transaction and answers its parts; returns the parts to send again (their
   * guard held, another's failed), in order. The etcd call ends by the earliest deadline of its
   * parts and by the sender's own ({@code senderDeadline}): a caller is never held past its
   * deadline by other callers' parts (the batch need not hold one of its own).
   */
  private List<Entry> run(List<Entry> batch, long senderDeadline) {
    long now = clock.getAsLong();
    List<Entry> live = new ArrayList<>(batch.size());
    for (Entry e : batch) {
      if (now >= e.deadline) {
        answer(e, null, new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd store: timed out waiting to send "
            + e.what + " (behind other nodes' transactions); it was not sent"));
      } else {
        live.add(e);
      }
    }
    if (live.isEmpty()) {
      return List.of();
    }
    List<Cmp> cmps = new ArrayList<>();
    List<Op> then = new ArrayList<>();
    List<Op> reads = new ArrayList<>();
    long deadline = senderDeadline;
    for (Entry e : live) {
      cmps.addAll(e.part.compares());
      then.addAll(e.part.then());
      reads.addAll(e.part.reads());
      deadline = Math.min(deadline, e.deadline);
    }
    String what = live.size() == 1 ? live.get(0).what : live.get(0).what + " and " + (live.size() - 1) + " other parts";
    TxnResponse r;
    try {
      transactions.incrementAndGet();
      r = etcd.txn(cmps, then, reads, deadline, what);
    } catch (IpamException ex) {
      if (live.size() > 1 && ex.getMessage() != null && ex.getMessage().contains("lease not found")) {
        // refused as a whole before applying anything: find the part on the ended lease
        List<Entry> again = new ArrayList<>();
        for (Entry e : live) {
          again.addAll(run(List.of(e), senderDeadline));
        }
        return again;
      }
      for (Entry e : live) {
        answer(e, null, ex);
      }
      return List.of();
    } catch (RuntimeException ex) {
      IpamException wrapped = new IpamException(ErrorCode.INTERNAL, "etcd store: unexpected " + ex, ex);
      for (Entry e : live) {
        answer(e, null, wrapped);
      }
      return List.of();
    }
    long revision = r.getHeader().getRevision();
    if (r.isSucceeded()) {
      for (Entry e : live) {
        answer(e, TxnResult.applied(revision, List.of()), null);
      }
      return List.of();
    }
    List<GetResponse> got = r.getGetResponses();
    List<Entry> again = new ArrayList<>();
    int at = 0;
    for (Entry e : live) {
      List<GetResponse> own = got.subList(at, at + e.part.guards().size());
      at += e.part.guards().size();
      if (live.size() > 1 && held(e.part, own)) {
        again.add(e);
        resent.incrementAndGet();
      } else {
        answer(e, TxnResult.refused(revision, own), null);
      }
    }
    return again;
  }

  /** Whether the part's own guard held against the else branch's reads. */
  private static boolean held(TxnPart part, List<GetResponse> reads) {
    for (int i = 0; i < reads.size(); i++) {
      GetResponse g = reads.get(i);
      long modRev = g.getKvs().isEmpty() ? 0L : g.getKvs().get(0).getModRevision();
      if (modRev != part.guards().get(i).modRev()) {
        return false;
      }
    }
    return true;
  }

  private void answer(Entry e, TxnResult result, IpamException error) {
    lock.lock();
    try {
      e.result = result;
      e.error = error;
      if (result != null) {
        parts.incrementAndGet();
      }
    } finally {
      lock.unlock();
    }
  }
}
