package io.jipam.etcd;

import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * ADD/DEL churn of one node, as threads in this JVM or as a child JVM ({@link #main}). Records
 * every hold as an interval from the end of its ADD to the start of its DEL, in wall-clock
 * microseconds, so holds recorded by different processes can be checked for overlap.
 */
final class Churn {
  static final Pool POOL = TestPools.pool("churn", AllocationOrder.ROUND_ROBIN, "10.20.0.0/20");
  /**
   * The stores' bound on each call in the churn tests: they check addresses (no duplicate, no leak),
   * not latency, and share the machine with other test modules; the default 3 s made calls fail
   * with "try again" under that load.
   */
  static final java.time.Duration STORE_TIMEOUT = java.time.Duration.ofSeconds(15);

  /** One hold of an address. */
  record Hold(IpAddress address, Attachment attachment, String node, long fromMicros, long toMicros) {
    String line() {
      return "H " + address + " " + attachment.containerId() + " " + node + " " + fromMicros + " " + toMicros;
    }

    static Hold parse(String line) {
      String[] f = line.split(" ");
      return new Hold(IpAddress.parse(f[1]), new Attachment(f[2], "eth0"), f[3], Long.parseLong(f[4]),
          Long.parseLong(f[5]));
    }
  }

  final ConcurrentLinkedQueue<Hold> holds = new ConcurrentLinkedQueue<>();
  final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
  /** Why each TRY_AGAIN_LATER came (a child prints them as "T" lines). */
  final ConcurrentLinkedQueue<String> tryAgainWhy = new ConcurrentLinkedQueue<>();
  /** Attachments whose ADD or DEL ended in TRY_AGAIN_LATER: DEL them once etcd is back. */
  final ConcurrentLinkedQueue<Attachment> uncertain = new ConcurrentLinkedQueue<>();
  final java.util.concurrent.atomic.AtomicLong ok = new java.util.concurrent.atomic.AtomicLong();
  final java.util.concurrent.atomic.AtomicLong tryAgain = new java.util.concurrent.atomic.AtomicLong();

  static long micros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
  }

  /**
   * Runs {@code threads} threads for {@code rounds} rounds (or until {@code stopAtMillis}): each
   * round ADDs one attachment and, when the thread holds more than {@code hold}, DELs its oldest.
   * Everything is released at the end. TRY_AGAIN_LATER is counted and the attachment retried
   * with DEL later; any other exception is an error.
   */
  void run(IpamStore store, Pool pool, String node, int threads, int rounds, int hold, long stopAtMillis)
      throws Exception {
    Concurrently.run(threads, Duration.ofMinutes(10), id -> {
      ArrayDeque<Object[]> mine = new ArrayDeque<>();
      for (int r = 0; r < rounds && System.currentTimeMillis() < stopAtMillis; r++) {
        Attachment a = new Attachment(node + "-" + id + "-" + r, "eth0");
        try {
          AllocationOutcome out = store.allocate(pool, AllocationRequest.of(a));
          if (out instanceof AllocationOutcome.Allocated got) {
            mine.add(new Object[] {got.allocations().get(0).address(), a, micros()});
            ok.incrementAndGet();
          } else {
            errors.add("ADD " + a + ": " + out);
          }
        } catch (IpamException e) {
          count(e, a);
        }
        while (mine.size() > hold) {
          releaseOldest(store, pool, node, mine);
        }
      }
      while (!mine.isEmpty()) {
        releaseOldest(store, pool, node, mine);
      }
    });
  }

  private void releaseOldest(IpamStore store, Pool pool, String node, ArrayDeque<Object[]> mine) {
    Object[] o = mine.poll();
    Attachment a = (Attachment) o[1];
    holds.add(new Hold((IpAddress) o[0], a, node, (Long) o[2], micros()));
    try {
      store.release(pool, a);
      ok.incrementAndGet();
    } catch (IpamException e) {
      count(e, a);
    }
  }

  private void count(IpamException e, Attachment a) {
    if (e.code() == io.jipam.core.ErrorCode.TRY_AGAIN_LATER) {
      tryAgain.incrementAndGet();
      tryAgainWhy.add(a + ": " + e.getMessage());
      uncertain.add(a);
    } else {
      errors.add(a + ": " + e);
    }
  }

  /** Pairs of holds of one address whose intervals overlap: duplicates. */
  static List<String> overlaps(List<Hold> all) {
    List<Hold> sorted = new ArrayList<>(all);
    sorted.sort((x, y) -> {
      int c = x.address().compareTo(y.address());
      return c != 0 ? c : Long.compare(x.fromMicros(), y.fromMicros());
    });
    List<String> out = new ArrayList<>();
    for (int i = 1; i < sorted.size(); i++) {
      Hold a = sorted.get(i - 1);
      Hold b = sorted.get(i);
      if (a.address().equals(b.address()) && b.fromMicros() < a.toMicros()) {
        out.add(a.line() + " overlaps " + b.line());
      }
    }
    return Collections.unmodifiableList(out);
  }

  /** Child JVM: args endpoints prefix node threads rounds hold. Prints holds, then "DONE ok errors". */
  public static void main(String[] args) throws Exception {
    EtcdStoreConfig config = EtcdStoreConfig.of(List.of(args[0].split(",")), args[2]).withPrefix(args[1])
        .withTimeout(STORE_TIMEOUT);
    Churn churn = new Churn();
    try (IpamStore store = EtcdStores.open(config)) {
      churn.run(store, POOL, args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
          Integer.parseInt(args[5]), Long.MAX_VALUE);
    }
    StringBuilder out = new StringBuilder();
    for (Hold h : churn.holds) {
      out.append(h.line()).append('\n');
    }
    for (String e : churn.errors) {
      out.append("E ").append(e.replace('\n', ' ')).append('\n');
    }
    for (String e : churn.tryAgainWhy) {
      out.append("T ").append(e.replace('\n', ' ')).append('\n');
    }
    out.append("DONE ").append(churn.ok.get()).append(' ').append(churn.errors.size() + churn.tryAgain.get())
        .append('\n');
    System.out.print(out);
    System.out.flush();
    System.exit(0);
  }
}
