package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.testing.Concurrently;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Many nodes churning against one etcd: no address held twice, nothing leaked, own blocks used. */
@ExtendWith(EtcdExtension.class)
class EtcdChurnIT {
  private final Etcd etcd;
  private final String prefix = "/jipam-test-" + UUID.randomUUID();

  EtcdChurnIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @Test
  void churn_eightNodesInOneJvm_noDuplicatesNoLeaksEachNodeInItsOwnBlock() throws Exception {
    int nodes = 8;
    List<GroupCommitStore> stores = new ArrayList<>();
    for (int n = 0; n < nodes; n++) {
      stores.add((GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "n" + n).withPrefix(prefix)
          .withTimeout(Churn.STORE_TIMEOUT)));
    }
    try {
      List<Churn> churns = new ArrayList<>();
      for (int n = 0; n < nodes; n++) {
        churns.add(new Churn());
      }
      Concurrently.run(nodes, Duration.ofSeconds(120),
          n -> churns.get(n).run(stores.get(n), Churn.POOL, "n" + n, 3, 50, 3, Long.MAX_VALUE));
      List<Churn.Hold> all = new ArrayList<>();
      for (Churn c : churns) {
        assertEquals(List.of(), List.copyOf(c.errors));
        assertEquals(0, c.tryAgain.get());
        all.addAll(c.holds);
      }
      assertEquals(nodes * 3 * 50, all.size());
      assertEquals(List.of(), Churn.overlaps(all));
      assertOwnBlocks(all);
      assertNothingLeft(stores.get(0), nodes);
      EtcdInvariants.check(etcd.endpoints(), prefix);
    } finally {
      stores.forEach(GroupCommitStore::close);
    }
  }

  @Test
  void churn_fourStoresOfOneNode_conflictingCasNeverDuplicates() throws Exception {
    // one node's blocks shared by four stores (four CNI plugin processes on one host): every
    // commit races the others on the same block keys
    List<GroupCommitStore> stores = new ArrayList<>();
    for (int n = 0; n < 4; n++) {
      stores.add((GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "same").withPrefix(prefix)
          .withTimeout(Churn.STORE_TIMEOUT)));
    }
    try {
      List<Churn> churns = new ArrayList<>();
      for (int n = 0; n < 4; n++) {
        churns.add(new Churn());
      }
      Concurrently.run(4, Duration.ofSeconds(120),
          n -> churns.get(n).run(stores.get(n), Churn.POOL, "s" + n, 2, 50, 4, Long.MAX_VALUE));
      List<Churn.Hold> all = new ArrayList<>();
      long tryAgain = 0;
      for (Churn c : churns) {
        assertEquals(List.of(), List.copyOf(c.errors));
        all.addAll(c.holds);
        tryAgain += c.tryAgain.get();
        // a starved request (TRY_AGAIN_LATER under this contention) is repeated by the runtime as DEL
        for (Attachment a : c.uncertain) {
          stores.get(0).release(Churn.POOL, a);
        }
      }
      assertTrue(tryAgain <= 20, tryAgain + " requests starved");
      assertTrue(all.size() >= 4 * 2 * 50 - tryAgain, all.size() + " holds");
      assertEquals(List.of(), Churn.overlaps(all));
      Set<IpAddress> blocks = new HashSet<>();
      all.forEach(h -> blocks.add(h.address().masked(26)));
      assertEquals(1, blocks.size(), "one node, one block: " + blocks);
      assertEquals(List.of(), stores.get(0).list(Churn.POOL));
      EtcdInvariants.check(etcd.endpoints(), prefix);
    } finally {
      stores.forEach(GroupCommitStore::close);
    }
  }

  @Test
  void churn_threeJvms_noDuplicatesNoLeaksEachNodeInItsOwnBlock() throws Exception {
    int processes = 3;
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<Process> children = new ArrayList<>();
    List<Future<List<String>>> outputs = new ArrayList<>();
    ExecutorService readers = Executors.newFixedThreadPool(processes);
    try {
      for (int p = 0; p < processes; p++) {
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp",
            System.getProperty("java.class.path"), Churn.class.getName(), String.join(",", etcd.endpoints()),
            prefix, "p" + p, "3", "40", "3");
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process child = pb.start();
        children.add(child);
        outputs.add(readers.submit(() -> {
          List<String> lines = new ArrayList<>();
          try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
              lines.add(line);
            }
          }
          return lines;
        }));
      }
      List<Churn.Hold> all = new ArrayList<>();
      for (int p = 0; p < processes; p++) {
        assertTrue(children.get(p).waitFor(120, TimeUnit.SECONDS), "child " + p + " finished");
        assertEquals(0, children.get(p).exitValue());
        List<String> lines = outputs.get(p).get();
        String done = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        assertEquals("DONE " + (3 * 40 * 2) + " 0", done, "child p" + p + ": " + lines.stream()
            .filter(l -> l.startsWith("E ") || l.startsWith("T ")).toList());
        lines.stream().filter(l -> l.startsWith("H ")).map(Churn.Hold::parse).forEach(all::add);
      }
      assertEquals(processes * 3 * 40, all.size());
      assertEquals(List.of(), Churn.overlaps(all));
      assertOwnBlocks(all);
      try (GroupCommitStore check = (GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "checker")
          .withPrefix(prefix))) {
        assertNothingLeft(check, processes);
      }
      EtcdInvariants.check(etcd.endpoints(), prefix);
    } finally {
      children.forEach(Process::destroyForcibly);
      readers.shutdownNow();
    }
  }

  /** Each node's addresses all lie in one /26 (its block: it never held enough to fill it), blocks distinct. */
  private static void assertOwnBlocks(List<Churn.Hold> all) {
    Map<String, Set<IpAddress>> blocksByNode = new HashMap<>();
    for (Churn.Hold h : all) {
      blocksByNode.computeIfAbsent(h.node(), k -> new HashSet<>()).add(h.address().masked(26));
    }
    Set<IpAddress> seen = new HashSet<>();
    for (Map.Entry<String, Set<IpAddress>> e : blocksByNode.entrySet()) {
      assertEquals(1, e.getValue().size(), e.getKey() + " used blocks " + e.getValue());
      assertTrue(seen.add(e.getValue().iterator().next()), "block of " + e.getKey() + " shared");
      assertTrue(Cidr.parse("10.20.0.0/20").contains(e.getValue().iterator().next()));
    }
  }

  /** No allocation, no handle; each node kept exactly its one (empty) block. */
  private void assertNothingLeft(GroupCommitStore s, int nodes) {
    long deadline = System.nanoTime() + 5_000_000_000L;
    assertEquals(List.of(), s.list(Churn.POOL));
    assertEquals(List.of(), s.etcd().range(s.keys().handlesPrefix(Churn.POOL.name()), Fetch.KEYS, deadline, "test"));
    assertEquals(nodes, s.etcd().range(s.keys().blocksPrefix(Churn.POOL.name()), Fetch.KEYS, deadline, "test").size());
    assertEquals(List.of(0L), s.usage(Churn.POOL).allocated());
  }
}
