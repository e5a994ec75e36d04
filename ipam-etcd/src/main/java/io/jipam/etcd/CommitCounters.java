package io.jipam.etcd;

/**
 * What an etcd store has committed, for benchmarks, tests and metrics (how well group commit
 * batches); not part of the store contract. The stores {@link EtcdStores#open} returns implement
 * it. Counters only grow; reads are thread-safe and not atomic with each other.
 */
public interface CommitCounters {
  /** Successful transactions this store committed. */
  long commits();

  /** Changes (ADDs and DELs) those transactions carried. */
  long committedRequests();

  /** Transactions etcd refused because their guard no longer held (another writer came first). */
  long refusedCommits();

  /**
   * Tells {@code listener} of every transaction committed from now on, with its batch size.
   * Thread-safe; listeners stay until the store is closed.
   */
  void addCommitListener(CommitListener listener);
}
