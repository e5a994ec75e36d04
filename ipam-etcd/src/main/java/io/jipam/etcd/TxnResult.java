package io.jipam.etcd;

import io.etcd.jetcd.kv.GetResponse;
import java.util.List;

/**
 * What became of a {@link TxnPart}: applied at {@code revision}, or refused by its own guard, with
 * the guarded keys' values at {@code revision} in the guard's order.
 */
record TxnResult(boolean succeeded, long revision, List<GetResponse> reads) {
  TxnResult {
    reads = List.copyOf(reads);
  }

  /** Applied at {@code revision}. */
  static TxnResult applied(long revision, List<GetResponse> reads) {
    return new TxnResult(true, revision, reads);
  }

  /** Refused by its own guard; {@code reads} are the guarded keys' values at {@code revision}. */
  static TxnResult refused(long revision, List<GetResponse> reads) {
    return new TxnResult(false, revision, reads);
  }
}
