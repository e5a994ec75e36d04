package io.jipam.server.pools;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import io.jipam.core.store.IpamStore;
import io.jipam.etcd.EtcdNodeStores;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * The stores jipamd serves calls from: its one store, and on etcd a store per calling node.
 *
 * <p>On etcd ({@link #perNode}) each node that calls gets a store of its own over the one etcd
 * client ({@link EtcdNodeStores#forNode}): its own pool caches and commit queue, so calls of
 * different nodes commit in parallel and each node allocates from its own affine blocks. A node's
 * store idle for {@link #IDLE} is dropped, and at most {@link #MAX_NODES} are kept (least recently
 * used go first); the next call of that node builds a new one, which reads its state from etcd.
 * Nothing is lost by dropping one: every acknowledged change is in etcd, and a call still running
 * on a dropped store finishes on it (two stores of one node at once are as safe as two processes).
 * Other stores ({@link #single}) serve every caller from the one store.
 *
 * <p>Thread-safe.
 */
public final class NodeStores implements AutoCloseable {
  /** How long a node's store is kept without a call. */
  static final Duration IDLE = Duration.ofMinutes(10);
  /** The most node stores kept at once. */
  static final long MAX_NODES = 10_000;

  private final IpamStore base;
  private final EtcdNodeStores shared;
  private final LoadingCache<String, IpamStore> nodes;
  private volatile Consumer<IpamStore> opened = s -> { };

  private NodeStores(IpamStore base, EtcdNodeStores shared, LoadingCache<String, IpamStore> nodes) {
    this.base = base;
    this.shared = shared;
    this.nodes = nodes;
  }

  /** Every caller served from {@code store}; closing this closes it. */
  public static NodeStores single(IpamStore store) {
    return new NodeStores(store, null, null);
  }

  /**
   * A store per node on {@code shared} ({@link EtcdNodeStores#forNode}), kept while in use.
   * Closing this closes the client.
   */
  public static NodeStores perNode(EtcdNodeStores shared) {
    return perNode(shared, Ticker.systemTicker(), IDLE, MAX_NODES);
  }

  /** As {@link #perNode(EtcdNodeStores)} with a clock and bounds of the caller's (tests). */
  static NodeStores perNode(EtcdNodeStores shared, Ticker ticker, Duration idle, long maxNodes) {
    return new NodeStores(shared.store(), shared, ticker, idle, maxNodes);
  }

  private NodeStores(IpamStore base, EtcdNodeStores shared, Ticker ticker, Duration idle, long maxNodes) {
    this.base = base;
    this.shared = shared;
    this.nodes = Caffeine.newBuilder()
        .ticker(ticker)
        .expireAfterAccess(idle)
        .maximumSize(maxNodes)
        .executor(Runnable::run)
        .build(node -> {
          IpamStore s = shared.forNode(node);
          opened.accept(s);
          return s;
        });
  }

  /** {@code listener} is told of every node store built from now on (metrics watch its commits). */
  public void onEachNodeStore(Consumer<IpamStore> listener) {
    opened = listener;
  }

  /** jipamd's own store: operators' calls that name no node, health, metrics, the CNI call on the socket. */
  public IpamStore base() {
    return base;
  }

  /** Whether calls of different nodes get stores of their own (which record and scope by node). */
  public boolean scopesNodes() {
    return nodes != null;
  }

  /** The store of {@code node}'s calls (with {@link #scopesNodes} false: the one store). */
  public IpamStore forNode(String node) {
    return nodes == null ? base : nodes.get(node);
  }

  /** Node stores kept now (after pending evictions ran). */
  long kept() {
    if (nodes == null) {
      return 0;
    }
    nodes.cleanUp();
    return nodes.estimatedSize();
  }

  @Override
  public void close() {
    if (shared != null) {
      nodes.invalidateAll();
      shared.close();
    } else {
      base.close();
    }
  }
}
