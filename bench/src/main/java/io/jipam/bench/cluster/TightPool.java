package io.jipam.bench.cluster;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A tight pool on the etcd store: {@code nodes} simulated nodes (store instances with their own
 * node names, a fresh key prefix) start {@code podsPerNode} pods each, {@code callers} at a time
 * per node, in a pool of exactly as many addresses as pods. Every pod must get an address.
 *
 * <h2>Why it is hard</h2>
 * The range ({@link #FIRST} onwards, {@code nodes × podsPerNode} addresses) does not start on a
 * block boundary and holds fewer /26 blocks than there are nodes once there are more than a few:
 * most nodes find no free block and must borrow addresses from other nodes' blocks, and the last
 * pods race for the last free addresses.
 *
 * <h2>What counts</h2>
 * A pod's ADD is repeated (same attachment, as a runtime repeats it) only after {@code
 * TRY_AGAIN_LATER}, at most {@link #ATTEMPTS} times; those are the retries. {@code Exhausted}
 * is never repeated: the store answers it only when the pool is full at an etcd revision read
 * after the call began, which no pod should see before every pod is placed, so a refusal is a
 * failure. Any other outcome or error is an error. Afterwards the run checks that no address was
 * given twice, that the store lists exactly the placed pods, and that one more ADD is refused
 * ({@code Exhausted}): the pool is really full.
 */
final class TightPool {
  /** The first address of the range: the eleventh of 198.19.0.0/16, not on a block boundary. */
  static final IpAddress FIRST = IpAddress.parse("198.19.0.10");
  static final int ATTEMPTS = 5;

  private TightPool() {}

  /**
   * What one fill did.
   *
   * @param pods pods started, equal to the addresses in the pool
   * @param placed pods that got an address
   * @param distinct distinct addresses handed out (equal to placed unless one was given twice)
   * @param fillNanos from the start of the first ADD until the last pod was answered
   * @param retries ADDs repeated after TRY_AGAIN_LATER
   * @param errors pods that ended with an error or an unexpected outcome
   * @param refused pods answered {@code Exhausted}
   * @param listed allocations the store lists afterwards
   * @param fullAfter whether one more ADD was refused with {@code Exhausted}
   * @param firstProblem the first error or refusal seen, or null
   */
  record Outcome(int pods, int placed, int distinct, long fillNanos, long retries, long errors, long refused,
      int listed, boolean fullAfter, String firstProblem) {
    /** Every pod got its own address, and the pool is exactly full. */
    boolean allPlaced() {
      return placed == pods && distinct == pods && listed == pods && errors == 0 && refused == 0 && fullAfter;
    }

    int duplicates() {
      return placed - distinct;
    }
  }

  static Pool pool(int pods) {
    IpAddress last = FIRST.plus(pods - 1);
    return new Pool("tight", List.of(new RangeSet(List.of(
        IpRange.withDefaults(Cidr.parse("198.19.0.0/16"), FIRST, last, null, null)))), AllocationOrder.ROUND_ROBIN);
  }

  static Outcome run(List<String> endpoints, int nodes, int podsPerNode, int callers) throws Exception {
    int pods = nodes * podsPerNode;
    Pool pool = pool(pods);
    String prefix = "/bench-tight-" + UUID.randomUUID();
    List<EtcdStore> stores = new ArrayList<>();
    int perNode = Math.min(callers, podsPerNode);
    ExecutorService threads = Executors.newFixedThreadPool(nodes * perNode);
    try {
      for (int n = 0; n < nodes; n++) {
        EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(endpoints, "node-" + n).withPrefix(prefix)
            .withTimeout(Duration.ofSeconds(10)));
        stores.add(s);
        s.ping(); // connected before the clock starts
      }
      Set<IpAddress> addresses = ConcurrentHashMap.newKeySet();
      AtomicInteger placed = new AtomicInteger();
      AtomicLong retries = new AtomicLong();
      AtomicLong errors = new AtomicLong();
      AtomicLong refused = new AtomicLong();
      AtomicLong lastAnswer = new AtomicLong();
      AtomicReference<String> firstProblem = new AtomicReference<>();
      long[] start = new long[1];
      CyclicBarrier go = new CyclicBarrier(nodes * perNode, () -> start[0] = System.nanoTime());
      List<AtomicInteger> next = new ArrayList<>();
      for (int n = 0; n < nodes; n++) {
        next.add(new AtomicInteger());
      }
      List<Future<?>> workers = new ArrayList<>();
      for (int w = 0; w < nodes * perNode; w++) {
        int node = w % nodes;
        workers.add(threads.submit(() -> {
          go.await(60, TimeUnit.SECONDS);
          for (int pod = next.get(node).getAndIncrement(); pod < podsPerNode; pod = next.get(node).getAndIncrement()) {
            Attachment a = new Attachment("pod-" + node + "-" + pod, "eth0");
            String problem = place(stores.get(node), pool, a, addresses, placed, retries, errors, refused);
            if (problem != null) {
              firstProblem.compareAndSet(null, problem);
            }
            lastAnswer.accumulateAndGet(System.nanoTime(), Math::max);
          }
          return null;
        }));
      }
      for (Future<?> f : workers) {
        f.get();
      }
      long fill = lastAnswer.get() - start[0];
      int listed = stores.get(0).list(pool).size();
      AllocationOutcome extra = stores.get(0).allocate(pool, AllocationRequest.of(new Attachment("pod-extra", "eth0")));
      return new Outcome(pods, placed.get(), addresses.size(), fill, retries.get(), errors.get(), refused.get(),
          listed, extra instanceof AllocationOutcome.Exhausted, firstProblem.get());
    } finally {
      threads.shutdownNow();
      for (EtcdStore s : stores) {
        s.close();
      }
    }
  }

  /** One pod's ADD with its retries; the problem it ended with, or null when it got an address. */
  private static String place(EtcdStore store, Pool pool, Attachment a, Set<IpAddress> addresses,
      AtomicInteger placed, AtomicLong retries, AtomicLong errors, AtomicLong refused) {
    for (int attempt = 1; ; attempt++) {
      AllocationOutcome out;
      try {
        out = store.allocate(pool, AllocationRequest.of(a));
      } catch (IpamException e) {
        if (e.code() == ErrorCode.TRY_AGAIN_LATER && attempt < ATTEMPTS) {
          retries.incrementAndGet();
          continue;
        }
        errors.incrementAndGet();
        return a.containerId() + ": " + e.code() + " " + e.getMessage();
      }
      if (out instanceof AllocationOutcome.Allocated allocated) {
        placed.incrementAndGet();
        for (Allocation x : allocated.allocations()) {
          addresses.add(x.address());
        }
        return null;
      }
      if (out instanceof AllocationOutcome.Exhausted) {
        refused.incrementAndGet();
      } else {
        errors.incrementAndGet();
      }
      return a.containerId() + ": " + out;
    }
  }
}
