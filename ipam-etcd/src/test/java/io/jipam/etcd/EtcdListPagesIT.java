package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link EtcdStore#listPage} on a real etcd: what etcd visits for a page (the sum of its reads'
 * {@code count}) does not grow with the page's position, and pages taken while other stores
 * allocate and release list every allocation present throughout exactly once.
 */
@ExtendWith(EtcdExtension.class)
class EtcdListPagesIT {
  private static final int LIMIT = 50;

  private final Etcd etcd;
  private final String prefix = "/jipam-pages-" + UUID.randomUUID();
  private final List<EtcdStore> opened = new ArrayList<>();

  EtcdListPagesIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @AfterEach
  void closeAll() {
    opened.forEach(EtcdStore::close);
  }

  private GroupCommitStore store(String node) {
    GroupCommitStore s = (GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node)
        .withPrefix(prefix));
    opened.add(s);
    return s;
  }

  private static void allocateAll(EtcdStore s, Pool pool, String name, int n) throws Exception {
    Concurrently.run(8, Duration.ofMinutes(2), t -> {
      for (int i = t; i < n; i += 8) {
        assertInstanceOf(AllocationOutcome.Allocated.class,
            s.allocate(pool, AllocationRequest.of(new Attachment(name + i, "eth0"))));
      }
    });
  }

  @Test
  void listPage_lastPagesOf800_visitNoMoreThanTheFirst() throws Exception {
    Pool pool = TestPools.pool("pages", AllocationOrder.ROUND_ROBIN, "198.18.60.0/22", "fd00:60::/118");
    GroupCommitStore s = store("node-a");
    allocateAll(s, pool, "p", 400);
    List<Allocation> paged = new ArrayList<>();
    List<Long> visits = new ArrayList<>();
    IpAddress after = null;
    while (true) {
      long before = s.etcd().tally().keysScanned();
      List<Allocation> page = s.listPage(pool, after, LIMIT);
      visits.add(s.etcd().tally().keysScanned() - before);
      if (page.isEmpty()) {
        break;
      }
      assertTrue(page.size() <= LIMIT);
      paged.addAll(page);
      after = page.get(page.size() - 1).address();
    }
    assertEquals(s.list(pool), paged);
    assertEquals(800, paged.size());
    // a read covers 4 x 50 addresses: 200 keys at most; from the first page to the end of the
    // pool, as paging to the end of the prefix did, would be 800 for the first page
    for (long v : visits) {
      assertTrue(v <= 4 * LIMIT, "keys etcd visited per page: " + visits);
    }
  }

  @Test
  void listPage_pagingWhileAnotherNodeAllocatesAndReleases_steadyOnesExactlyOnce() throws Exception {
    Pool pool = TestPools.pool("moving", AllocationOrder.ROUND_ROBIN, "198.18.64.0/22");
    GroupCommitStore lister = store("node-a");
    EtcdStore churner = store("node-b");
    allocateAll(lister, pool, "steady", 300);
    Set<Attachment> steady = new HashSet<>(lister.allocatingNodes(pool).keySet());
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger churned = new AtomicInteger();
    Thread churn = new Thread(() -> {
      for (int i = 0; !stop.get() && i < 5_000; i++) {
        Attachment a = new Attachment("churn" + (i % 40), "eth0");
        churner.allocate(pool, AllocationRequest.of(a));
        if (i % 2 == 1) {
          churner.release(pool, new Attachment("churn" + ((i + 17) % 40), "eth0"));
        }
        churned.incrementAndGet();
      }
    });
    churn.start();
    Map<IpAddress, Attachment> seen = new HashMap<>();
    Map<Attachment, Integer> times = new HashMap<>();
    try {
      for (int round = 0; round < 3; round++) {
        seen.clear();
        times.clear();
        IpAddress after = null;
        List<Allocation> page;
        do {
          page = lister.listPage(pool, after, 20);
          for (Allocation a : page) {
            assertEquals(null, seen.put(a.address(), a.attachment()), "address listed twice: " + a);
            times.merge(a.attachment(), 1, Integer::sum);
          }
          after = page.isEmpty() ? after : page.get(page.size() - 1).address();
        } while (!page.isEmpty());
        for (Attachment a : steady) {
          assertEquals(1, times.getOrDefault(a, 0), "times listed: " + a);
        }
        // a churning attachment may be listed twice: released behind the pages read so far and
        // given an address ahead of them (pages are read at one revision each, not all at one);
        // no address is listed twice (above), and nothing but the two kinds is listed
        for (Map.Entry<Attachment, Integer> e : times.entrySet()) {
          assertTrue(steady.contains(e.getKey()) || e.getKey().containerId().startsWith("churn"), e.toString());
        }
      }
    } finally {
      stop.set(true);
      churn.join();
    }
    assertTrue(churned.get() > 0);
    assertEquals(List.of(), lister.audit(pool));
  }
}
