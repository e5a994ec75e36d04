package io.jipam.etcd;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * {@link EtcdNodeStores}: one {@link EtcdClient}, one pool of commit threads and one {@link
 * TxnCombiner}, and a {@link GroupCommitStore} per node on them that owns none of them: each node's
 * commit task plans its own part, and the combiner sends several nodes' parts in one transaction.
 */
final class SharedClientStores implements EtcdNodeStores {
  /** Transactions in flight at once: one being sent while the next one fills. */
  static final int MAX_IN_FLIGHT = 2;
  private final EtcdStoreConfig config;
  private final EtcdClient etcd;
  private final LongSupplier clock;
  private final java.time.Clock wall;
  private final ExecutorService committers = GroupCommitStore.newCommitters();
  private final GroupCommitStore own;
  /** Every store's transactions, so that several nodes' changes share one etcd transaction. */
  private final TxnCombiner combiner;

  SharedClientStores(EtcdStoreConfig config, LongSupplier clock, java.time.Clock wall) {
    this.config = config;
    this.clock = clock;
    this.wall = wall;
    this.etcd = new EtcdClient(config, clock);
    this.combiner = new TxnCombiner(etcd, clock, MAX_IN_FLIGHT);
    this.own = new GroupCommitStore(config, etcd, clock, wall, GroupCommitStore.Scope.CLUSTER, committers,
        GroupCommitStore.Resources.BORROWED, combiner);
  }

  @Override
  public EtcdStore store() {
    return own;
  }

  @Override
  public EtcdStore forNode(String node) {
    return new GroupCommitStore(config.withNode(node), etcd, clock, wall, GroupCommitStore.Scope.OWN_NODE, committers,
        GroupCommitStore.Resources.BORROWED, combiner);
  }

  /** Etcd transactions and parts the combiner sent (for tests and the benchmark). */
  long[] combinerCounts() {
    return new long[] {combiner.transactions(), combiner.parts(), combiner.resent()};
  }

  @Override
  public void close() {
    own.close();
    committers.shutdown();
    try {
      committers.awaitTermination(Math.max(1, config.timeout().toMillis()), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    committers.shutdownNow();
    etcd.close();
  }
}
