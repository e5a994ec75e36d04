package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A linearizability checker of the {@link IpamStore} contract over recorded concurrent histories
 * of {@code allocate}, {@code release} and {@code find} on one pool (Wing and Gong's search with
 * Lowe's memoization of (linearized set, model state)).
 *
 * <p>The sequential model is the contract, not an implementation: the store is a map address to
 * attachment; {@code allocate} of an attachment holding addresses returns exactly them with
 * {@code existing}; otherwise it returns one free address per range set (any one: the order is an
 * implementation choice) and takes them, or {@code Exhausted(set)} when set has no free address;
 * {@code release} returns exactly what the attachment held and frees it; {@code find} returns
 * exactly what it holds. A history is linearizable when some order of its operations, consistent
 * with real time (an operation that returned before another was invoked comes first), is accepted
 * by the model.
 */
public final class Linearizability {
  /** One recorded call: its kind, attachment, what it returned, and when (nanoTime) it ran. */
  public record Op(int thread, String kind, Attachment attachment, Object result, long invoked, long returned) {}

  private final Pool pool;
  private final int[] setSizes;
  private final Map<IpAddress, Integer> setOf = new HashMap<>();

  /** @param addressesPerSet every address each range set can hand out (for exhaustion) */
  public Linearizability(Pool pool, List<List<IpAddress>> addressesPerSet) {
    this.pool = pool;
    this.setSizes = new int[addressesPerSet.size()];
    for (int s = 0; s < setSizes.length; s++) {
      setSizes[s] = addressesPerSet.get(s).size();
      for (IpAddress a : addressesPerSet.get(s)) {
        setOf.put(a, s);
      }
    }
  }

  /**
   * Runs {@code threads} threads, each doing {@code opsPerThread} random calls on attachments
   * drawn from {@code attachments} (shared between threads, so calls race on one attachment too),
   * and records the history.
   */
  public List<Op> record(IpamStore store, int threads, int opsPerThread, int attachments) throws Exception {
    List<Op> history = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      futures.add(pool.submit(() -> {
        start.await();
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        for (int i = 0; i < opsPerThread; i++) {
          Attachment att = new Attachment("lin-" + rnd.nextInt(attachments), "eth0");
          int kind = rnd.nextInt(5);
          long invoked = System.nanoTime();
          Object result;
          String name;
          if (kind < 2) {
            name = "allocate";
            result = store.allocate(this.pool, AllocationRequest.of(att));
          } else if (kind < 4) {
            name = "release";
            result = store.release(this.pool, att);
          } else {
            name = "find";
            result = store.find(this.pool, att);
          }
          history.add(new Op(thread, name, att, result, invoked, System.nanoTime()));
        }
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : futures) {
      f.get();
    }
    pool.shutdown();
    return new ArrayList<>(history);
  }

  /** Null when the history is linearizable from {@code initial}; else why not. */
  public String check(List<Op> history, Map<IpAddress, Attachment> initial) {
    Op[] ops = history.toArray(new Op[0]);
    Set<String> seen = new HashSet<>();
    if (search(ops, new BitSet(ops.length), new TreeMap<>(initial), seen)) {
      return null;
    }
    return "no sequential order of these " + ops.length + " calls satisfies the contract: " + history;
  }

  private boolean search(Op[] ops, BitSet done, TreeMap<IpAddress, Attachment> state, Set<String> seen) {
    if (done.cardinality() == ops.length) {
      return true;
    }
    if (!seen.add(done + "|" + state)) {
      return false; // this (linearized set, state) was explored and failed
    }
    long minReturn = Long.MAX_VALUE;
    for (int i = done.nextClearBit(0); i < ops.length; i = done.nextClearBit(i + 1)) {
      minReturn = Math.min(minReturn, ops[i].returned);
    }
    for (int i = done.nextClearBit(0); i < ops.length; i = done.nextClearBit(i + 1)) {
      if (ops[i].invoked > minReturn) {
        continue; // some pending call returned before this one began: it must come first
      }
      TreeMap<IpAddress, Attachment> next = apply(ops[i], state);
      if (next != null) {
        done.set(i);
        if (search(ops, done, next, seen)) {
          return true;
        }
        done.clear(i);
      }
    }
    return false;
  }

  /** The state after {@code op} when the model allows its result from {@code state}, else null. */
  TreeMap<IpAddress, Attachment> apply(Op op, TreeMap<IpAddress, Attachment> state) {
    List<IpAddress> held = new ArrayList<>();
    state.forEach((a, h) -> {
      if (h.equals(op.attachment)) {
        held.add(a);
      }
    });
    switch (op.kind) {
      case "find":
        return sameAddresses((List<?>) op.result, held, op.attachment) ? state : null;
      case "release": {
        if (!sameAddresses((List<?>) op.result, held, op.attachment)) {
          return null;
        }
        TreeMap<IpAddress, Attachment> next = new TreeMap<>(state);
        held.forEach(next::remove);
        return next;
      }
      default: {
        if (op.result instanceof AllocationOutcome.Allocated a) {
          if (!held.isEmpty()) {
            return a.existing() && sameAddresses(a.allocations(), held, op.attachment) ? state : null;
          }
          if (a.existing() || a.allocations().size() != setSizes.length) {
            return null;
          }
          TreeMap<IpAddress, Attachment> next = new TreeMap<>(state);
          for (int s = 0; s < setSizes.length; s++) {
            Allocation x = a.allocations().get(s);
            Integer set = setOf.get(x.address());
            if (set == null || set != s || x.rangeSetIndex() != s || !x.attachment().equals(op.attachment)
                || next.containsKey(x.address())) {
              return null;
            }
            next.put(x.address(), op.attachment);
          }
          return next;
        }
        if (op.result instanceof AllocationOutcome.Exhausted e) {
          if (!held.isEmpty()) {
            return null;
          }
          long used = state.keySet().stream().filter(x -> setOf.get(x) == e.rangeSetIndex()).count();
          return used == setSizes[e.rangeSetIndex()] ? state : null;
        }
        return null;
      }
    }
  }

  private static boolean sameAddresses(List<?> allocations, List<IpAddress> held, Attachment att) {
    if (allocations.size() != held.size()) {
      return false;
    }
    Set<IpAddress> got = new HashSet<>();
    for (Object o : allocations) {
      Allocation a = (Allocation) o;
      if (!a.attachment().equals(att)) {
        return false;
      }
      got.add(a.address());
    }
    return got.equals(new HashSet<>(held));
  }
}
