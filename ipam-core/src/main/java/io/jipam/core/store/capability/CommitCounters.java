package io.jipam.core.store.capability;

/**
 * What an etcd store has committed, for benchmarks, tests and metrics (how well group commit
 * batches); not part of the store contract. The etcd stores implement it; ask a store for it with
 * {@code store.capability(CommitCounters.class)}. Counters only grow; reads are thread-safe and not
 * atomic with each other.
 */
public interface CommitCounters {
  /** Successful transactions this store committed. */
  long commits();

  /** Changes (ADDs and DELs) those transactions carried. */
  long committedRequests();

  /** Transactions etcd refused because their guard no longer held (another writer came first). */
  long refusedCommits();

  /**
   * Bytes of keys and values the committed transactions put (and keys they deleted): divided by
   * {@link #committedRequests}, what a change costs etcd's database before compaction.
   */
  default long bytesWritten() {
    return 0;
  }

  /**
   * The size of etcd's database file as the first endpoint's member reports it (one status
   * request, bounded by the store's timeout); -1 when it cannot be read.
   */
  default long etcdDbSize() {
    return -1;
  }

  /**
   * The most bytes of keys and values one etcd response to this store carried (a range read, or
   * all reads of one transaction), since it was opened; 0 when it has read nothing. For the scale
   * benchmark's "no response over 16 MiB".
   */
  default long largestResponseBytes() {
    return 0;
  }

  /**
   * Range reads and transactions this store's etcd client sent, and the bytes of keys and values
   * etcd returned to them, since it was opened: what a call costs etcd (stores on one shared
   * client count together). {@code [requests, bytes]}.
   */
  default long[] etcdReads() {
    return new long[] {0, 0};
  }

  /**
   * Tells {@code listener} of every transaction committed from now on, with its batch size.
   * Thread-safe; listeners stay until the store is closed.
   */
  void addCommitListener(CommitListener listener);
}
