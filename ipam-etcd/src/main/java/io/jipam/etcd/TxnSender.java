package io.jipam.etcd;

import io.etcd.jetcd.kv.TxnResponse;

/**
 * Sends a store's planned transactions to etcd: each {@link TxnPart} applies as a whole or not at
 * all, and is answered as if it had been sent alone (applied, or refused by its own guard with its
 * own reads), whatever else went in the same etcd transaction. Thread-safe.
 */
interface TxnSender {

  /**
   * Sends the part and waits for its result, bounded by {@code deadline} (nanoTime on the store's clock).
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when etcd did not answer in time or failed
   *     transiently (the part may still apply), as {@link EtcdClient#txn} does
   */
  TxnResult send(TxnPart part, long deadline, String what);

  /** Every part in a transaction of its own (a node's store on its own client). */
  static TxnSender direct(EtcdClient etcd) {
    return (part, deadline, what) -> {
      TxnResponse r = etcd.txn(part.compares(), part.then(), part.reads(), deadline, what);
      return new TxnResult(r.isSucceeded(), r.getHeader().getRevision(), r.getGetResponses());
    };
  }
}
