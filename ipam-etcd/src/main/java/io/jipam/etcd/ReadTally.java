package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What an {@link EtcdClient}'s reads have cost so far: the keys etcd returned and the keys in the
 * ranges it read, the bytes of keys and values returned (in all, and the most in one response),
 * and the reads and transactions that returned them. The store's metrics and the scale tests read
 * these. Thread-safe: each figure is an atomic counter, counted when a response arrives.
 */
final class ReadTally {
  /** Keys (with their values) etcd has returned: what the reads cost the client. */
  private final AtomicLong keysRead = new AtomicLong();
  /**
   * Keys in the ranges etcd read (each read's {@code count}): what the reads cost etcd 3.4, which
   * visits every key of a read's range whatever its limit.
   */
  private final AtomicLong keysScanned = new AtomicLong();
  private final AtomicLong largestResponse = new AtomicLong();
  private final AtomicLong bytesRead = new AtomicLong();
  private final AtomicLong requests = new AtomicLong();

  /** Counts one response: a range read's, or a transaction's reads together. */
  void count(List<GetResponse> reads) {
    long bytes = 0;
    for (GetResponse g : reads) {
      keysRead.addAndGet(g.getKvs().size());
      keysScanned.addAndGet(Math.max(g.getCount(), g.getKvs().size()));
      for (KeyValue kv : g.getKvs()) {
        bytes += kv.getKey().size() + kv.getValue().size();
      }
    }
    largestResponse.accumulateAndGet(bytes, Math::max);
    bytesRead.addAndGet(bytes);
    requests.incrementAndGet();
  }

  /** Keys etcd returned so far (range reads and the reads of transactions). */
  long keysRead() {
    return keysRead.get();
  }

  /** Keys in the ranges of the reads so far (range reads and the reads of transactions). */
  long keysScanned() {
    return keysScanned.get();
  }

  /** The most bytes of keys and values one response carried so far. */
  long largestResponse() {
    return largestResponse.get();
  }

  /** Bytes of keys and values etcd returned so far. */
  long bytesRead() {
    return bytesRead.get();
  }

  /** Range reads and transactions sent so far (not lease or status calls). */
  long requests() {
    return requests.get();
  }
}
