package io.jipam.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.core.store.capability.CommitCounters;
import io.jipam.core.store.capability.CommitListener;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The group-commit meters of a jipamd with several etcd stores (a central jipamd opens one per
 * node): the changes and bytes of every watched store's commits add up, and stay counted after a
 * store is gone. Before, the counters read the first store's own figures, and the later stores'
 * registrations were ignored (Micrometer warned once).
 */
class MetricsCommitsTest {
  /** A store that reports its commits; {@link #commit} plays one. */
  static final class CommittingStore extends ForwardingStore implements CommitCounters {
    final List<CommitListener> listeners = new CopyOnWriteArrayList<>();

    CommittingStore() {
      super(MemoryStores.open());
    }

    void commit(String pool, int changes, long bytes) {
      listeners.forEach(l -> l.committed(pool, changes, bytes));
    }

    @Override
    public long commits() {
      return 0;
    }

    @Override
    public long committedRequests() {
      return 0;
    }

    @Override
    public long refusedCommits() {
      return 0;
    }

    @Override
    public void addCommitListener(CommitListener listener) {
      listeners.add(listener);
    }
  }

  static Map<String, Double> samples(String scrape) {
    Map<String, Double> out = new TreeMap<>();
    for (String line : scrape.lines().toList()) {
      if (!line.startsWith("#") && !line.isBlank()) {
        int space = line.lastIndexOf(' ');
        out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
      }
    }
    return out;
  }

  @Test
  void watchCommits_baseStoreAndTwoNodeStores_sumsEveryStoresCommits() {
    Metrics metrics = new Metrics();
    CommittingStore base = new CommittingStore();
    CommittingStore nodeA = new CommittingStore();
    CommittingStore nodeB = new CommittingStore();
    for (CommittingStore s : List.of(base, nodeA, nodeB)) {
      metrics.watchCommits(s);
    }
    nodeA.commit("pods", 3, 700);
    nodeB.commit("pods", 5, 1100);
    nodeB.commit("other", 1, 200);
    nodeA.listeners.clear(); // node A's store evicted: what it committed stays counted
    Map<String, Double> m = samples(metrics.scrape(List.of(), base));
    assertEquals(9.0, m.get("jipamd_etcd_committed_changes_total"), m.toString());
    assertEquals(2000.0, m.get("jipamd_etcd_written_bytes_total"), m.toString());
    assertEquals(2.0, m.get("jipamd_etcd_commit_batch_changes_count{pool=\"pods\"}"), m.toString());
    assertEquals(8.0, m.get("jipamd_etcd_commit_batch_changes_sum{pool=\"pods\"}"), m.toString());
    assertEquals(1.0, m.get("jipamd_etcd_commit_batch_changes_count{pool=\"other\"}"), m.toString());
    assertEquals(-1.0, m.get("jipamd_etcd_db_size_bytes"), m.toString()); // the first store's (unknown here)
  }
}
