package io.jipam.etcd;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * {@link EtcdNodeStores}: one {@link EtcdClient} and one pool of commit threads, and a {@link
 * GroupCommitStore} per node on them that owns neither.
 */
final class SharedClientStores implements EtcdNodeStores {
  private final EtcdStoreConfig config;
  private final EtcdClient etcd;
  private final LongSupplier clock;
  private final java.time.Clock wall;
  private final ExecutorService committers = GroupCommitStore.newCommitters();
  private final GroupCommitStore own;

  SharedClientStores(EtcdStoreConfig config, LongSupplier clock, java.time.Clock wall) {
    this.config = config;
    this.clock = clock;
    this.wall = wall;
    this.etcd = new EtcdClient(config, clock);
    this.own = new GroupCommitStore(config, etcd, clock, wall, false, committers, false);
  }

  @Override
  public EtcdStore store() {
    return own;
  }

  @Override
  public EtcdStore forNode(String node) {
    return new GroupCommitStore(config.withNode(node), etcd, clock, wall, true, committers, false);
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
