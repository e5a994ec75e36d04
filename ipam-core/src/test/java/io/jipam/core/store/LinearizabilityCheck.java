package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.memory.MemoryStores;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Runs recorded histories against stores and checks each with {@link Linearizability}. */
public final class LinearizabilityCheck {
  private LinearizabilityCheck() {}

  /** A small dual-stack pool (a handful of addresses per set, so allocations also exhaust it). */
  public static Pool smallPool(String name) {
    List<RangeSet> sets = new ArrayList<>();
    for (String subnet : List.of("198.18.77.0/29", "fd00:18:77::/125")) {
      sets.add(new RangeSet(List.of(IpRange.withDefaults(Cidr.parse(subnet), null, null, null, null))));
    }
    return new Pool(name, sets, AllocationOrder.ROUND_ROBIN);
  }

  /** Every address each range set of {@code pool} hands out, found by exhausting an in-memory store. */
  public static List<List<IpAddress>> addressesPerSet(Pool pool) {
    List<List<IpAddress>> out = new ArrayList<>();
    for (RangeSet set : pool.rangeSets()) {
      Pool one = new Pool(pool.name(), List.of(set), pool.order()); // each set exhausted on its own
      List<IpAddress> addresses = new ArrayList<>();
      try (IpamStore scratch = MemoryStores.open()) {
        for (int i = 0; ; i++) {
          AllocationOutcome o = scratch.allocate(one, AllocationRequest.of(new Attachment("x" + i, "eth0")));
          if (!(o instanceof AllocationOutcome.Allocated a)) {
            break;
          }
          addresses.add(a.allocations().get(0).address());
        }
      }
      out.add(addresses);
    }
    return out;
  }

  /**
   * The store, with close() doing nothing: {@link #run} closes its handles after each history, so
   * a store shared by every history is handed out this way.
   */
  public static IpamStore unclosable(IpamStore store) {
    return (IpamStore) java.lang.reflect.Proxy.newProxyInstance(IpamStore.class.getClassLoader(),
        new Class<?>[] {IpamStore.class}, (proxy, method, args) -> {
          if (method.getName().equals("close")) {
            return null;
          }
          try {
            return method.invoke(store, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /**
   * {@code histories} histories, each on a fresh pool of {@code store(poolName)}: {@code threads}
   * threads of {@code ops} calls on 8 attachments; fails on the first non-linearizable one.
   *
   * @return figures for the report: histories, calls, milliseconds
   */
  public static String run(Function<Integer, IpamStore[]> stores, int histories, int threads, int ops)
      throws Exception {
    long start = System.nanoTime();
    int calls = 0;
    int exhausted = 0;
    for (int h = 0; h < histories; h++) {
      Pool pool = smallPool("lin" + h);
      Linearizability checker = new Linearizability(pool, addressesPerSet(pool));
      IpamStore[] handles = stores.apply(h);
      List<Linearizability.Op> history = new ArrayList<>();
      // several handles (e.g. store instances over one data dir, like processes): threads share them
      IpamStore mux = handles.length == 1 ? handles[0] : new RoundRobinStore(handles);
      history.addAll(checker.record(mux, threads, ops, 8));
      for (IpamStore s : handles) {
        s.close();
      }
      calls += history.size();
      exhausted += (int) history.stream().filter(o -> o.result() instanceof AllocationOutcome.Exhausted).count();
      assertEquals(threads * ops, history.size());
      assertNull(checker.check(history, Map.of()), "history " + h);
    }
    return histories + " histories, " + calls + " calls (" + exhausted + " Exhausted), " + threads + " threads, "
        + (System.nanoTime() - start) / 1_000_000 + " ms, violations 0";
  }

  /** Spreads calls over several store handles by thread. */
  private static final class RoundRobinStore implements IpamStore {
    private final IpamStore[] stores;

    RoundRobinStore(IpamStore[] stores) {
      this.stores = stores;
    }

    private IpamStore pick() {
      return stores[(int) (Thread.currentThread().getId() % stores.length)];
    }

    @Override public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
      return pick().allocate(pool, request);
    }

    @Override public List<Allocation> release(Pool pool, Attachment attachment) {
      return pick().release(pool, attachment);
    }

    @Override public List<Allocation> find(Pool pool, Attachment attachment) {
      return pick().find(pool, attachment);
    }

    @Override public List<Allocation> list(Pool pool) {
      return pick().list(pool);
    }

    @Override public List<Allocation> retainOnly(Pool pool, java.util.Set<Attachment> valid) {
      return pick().retainOnly(pool, valid);
    }

    @Override public PoolUsage usage(Pool pool) {
      return pick().usage(pool);
    }

    @Override public void close() {}
  }
}
