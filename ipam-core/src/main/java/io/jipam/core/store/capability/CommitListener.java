package io.jipam.core.store.capability;

/**
 * Told of every transaction a store committed for its group commit, on the committing thread:
 * implementations must be quick and must not throw (a throw is dropped). See {@link
 * CommitCounters#addCommitListener}.
 */
@FunctionalInterface
public interface CommitListener {
  /** One transaction of {@code pool} committed, carrying {@code changes} ADDs and DELs (1 to 32). */
  void committed(String pool, int changes);

  /**
   * As {@link #committed(String, int)}, with the bytes of keys and values the transaction wrote
   * (as {@link CommitCounters#bytesWritten} counts them). Stores call this one; by default it
   * forgets the bytes.
   */
  default void committed(String pool, int changes, long bytes) {
    committed(pool, changes);
  }
}
