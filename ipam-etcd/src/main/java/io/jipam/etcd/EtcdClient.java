package io.jipam.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;

/**
 * The jetcd client behind a store, with every call bounded by a deadline and every failure turned
 * into an {@link IpamException}: {@code TRY_AGAIN_LATER} for what may pass (unreachable, no
 * leader, timeouts), {@code IO_FAILURE} for what will not (auth, quota, bad request). The
 * connection the calls go out on, and its replacement when a call times out, is {@link
 * EtcdConnections}'s; what the reads cost is counted by {@link ReadTally}. Thread-safe.
 */
final class EtcdClient implements AutoCloseable {
  private final EtcdConnections connections;
  private final String endpoints;
  private final LongSupplier nanoTime;
  /** Starts jetcd's calls on the calling thread. */
  private final CallingThreadExecutor starter = new CallingThreadExecutor();
  private final ReadTally tally = new ReadTally();

  /**
   * Connects to the config's endpoints ({@link EtcdConnections}).
   *
   * @throws IpamException {@code INVALID_CONFIG} when the TLS files cannot be loaded
   */
  EtcdClient(EtcdStoreConfig config, LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.endpoints = String.join(",", config.endpoints());
    this.connections = new EtcdConnections(config, starter, nanoTime);
  }

  Client raw() {
    return connections.current().client();
  }

  /** What this client's reads have cost so far. */
  ReadTally tally() {
    return tally;
  }

  /** The size of the database of the first endpoint's member, as its status says; -1 when unknown. */
  long dbSize(long deadline) {
    try {
      String endpoint = endpoints.split(",")[0];
      return await(connections.current().client().getMaintenanceClient().statusMember(endpoint), deadline, "reading etcd's status")
          .getDbSize();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  static String text(ByteSequence b) {
    return b.toString(StandardCharsets.UTF_8);
  }

  static Cmp absent(String key) {
    return new Cmp(bytes(key), Cmp.Op.EQUAL, CmpTarget.version(0));
  }

  static Cmp modRev(String key, long rev) {
    return rev == 0 ? absent(key) : new Cmp(bytes(key), Cmp.Op.EQUAL, CmpTarget.modRevision(rev));
  }

  static Op put(String key, String value) {
    return Op.put(bytes(key), bytes(value), PutOption.DEFAULT);
  }

  /** A put of a key that etcd deletes when the lease expires. */
  static Op put(String key, String value, long leaseId) {
    return Op.put(bytes(key), bytes(value), PutOption.builder().withLeaseId(leaseId).build());
  }

  /** A granted lease: its id and the TTL etcd gave it (at least etcd's least lease TTL). */
  record Lease(long id, long ttlSeconds) {}

  /** Grants a lease of {@code ttlSeconds} (etcd may raise it to its least lease TTL). */
  Lease grantLease(long ttlSeconds, long deadline, String what) {
    io.etcd.jetcd.lease.LeaseGrantResponse r = await(connections.current().leases().grant(ttlSeconds), deadline, what);
    return new Lease(r.getID(), r.getTTL());
  }

  /** Keeps a lease alive until the returned client is closed; the observer hears each renewal and the end. */
  io.etcd.jetcd.support.CloseableClient keepAlive(long leaseId,
      io.grpc.stub.StreamObserver<io.etcd.jetcd.lease.LeaseKeepAliveResponse> observer) {
    return connections.current().leases().keepAlive(leaseId, observer);
  }

  /** Revokes a lease without waiting for the answer (best effort: it ends by its TTL anyway). */
  void revokeLater(long leaseId) {
    try {
      connections.current().leases().revoke(leaseId);
    } catch (RuntimeException ignored) {
      // closed or unreachable: the lease ends by its TTL
    }
  }

  static Op delete(String key) {
    return Op.delete(bytes(key), DeleteOption.DEFAULT);
  }

  /** A delete of every key under the prefix, as a transaction's write. */
  static Op deletePrefix(String prefix) {
    return Op.delete(bytes(prefix), DeleteOption.builder().isPrefix(true).build());
  }

  /**
   * A compare that holds when no key under the prefix was created or changed after revision {@code
   * rev} (an empty prefix included): every key's mod revision at most {@code rev} ({@link
   * io.etcd.jetcd.op.RangeCmp}).
   */
  static Cmp unchangedSince(String prefix, long rev) {
    return new io.etcd.jetcd.op.RangeCmp(bytes(prefix), Cmp.Op.LESS, CmpTarget.modRevision(rev + 1));
  }

  /** The number of keys under the prefix, as a transaction's read (its answer's count). */
  static Op countUnder(String prefix) {
    return Op.get(bytes(prefix), GetOption.builder().isPrefix(true).withCountOnly(true).build());
  }

  static Op get(String key) {
    return Op.get(bytes(key), GetOption.DEFAULT);
  }

  /** Every key under the prefix, as a transaction's read (several in one transaction: one revision). */
  static Op getPrefix(String prefix) {
    return Op.get(bytes(prefix), GetOption.builder().isPrefix(true).build());
  }

  /** The first key under the prefix, key only, as a transaction's read: whether any exists. */
  static Op firstUnder(String prefix) {
    return Op.get(bytes(prefix), GetOption.builder().isPrefix(true).withLimit(1).withKeysOnly(true).build());
  }

  TxnResponse txn(List<Cmp> cmps, List<Op> then, List<Op> otherwise, long deadline, String what) {
    CompletableFuture<TxnResponse> f = connections.current().kv().txn()
        .If(cmps.toArray(Cmp[]::new))
        .Then(then.toArray(Op[]::new))
        .Else(otherwise.toArray(Op[]::new))
        .commit();
    TxnResponse r = await(f, deadline, what);
    tally.count(r.getGetResponses());
    return r;
  }

  /** Reads many keys in one round trip (chunks of 100); null where a key does not exist. */
  List<KeyValue> getAll(List<String> keys, long deadline, String what) {
    List<KeyValue> out = new ArrayList<>(keys.size());
    for (int from = 0; from < keys.size(); from += 100) {
      List<String> chunk = keys.subList(from, Math.min(keys.size(), from + 100));
      List<Op> gets = new ArrayList<>();
      for (String k : chunk) {
        gets.add(get(k));
      }
      TxnResponse r = txn(List.of(), gets, List.of(), deadline, what);
      for (GetResponse g : r.getGetResponses()) {
        out.add(g.getKvs().isEmpty() ? null : g.getKvs().get(0));
      }
    }
    return out;
  }

  /**
   * One key as it was at a revision (null when it did not exist then); when etcd has compacted
   * that revision away, as it is now.
   */
  KeyValue getAt(String key, long revision, long deadline, String what) {
    GetOption at = GetOption.builder().withRevision(revision).build();
    try {
      List<KeyValue> kvs = counted(await(connections.current().kv().get(bytes(key), at), deadline, what)).getKvs();
      return kvs.isEmpty() ? null : kvs.get(0);
    } catch (IpamException e) {
      if (e.code() != ErrorCode.IO_FAILURE || e.getMessage() == null || !e.getMessage().contains("compacted")) {
        throw e;
      }
      List<KeyValue> now = counted(await(connections.current().kv().get(bytes(key)), deadline, what)).getKvs();
      return now.isEmpty() ? null : now.get(0);
    }
  }

  /**
   * Up to {@code limit} keys from {@code fromKey} (inclusive) to the end of the prefix, in key
   * order, at {@code revision} (0: now), values too unless {@link Fetch#KEYS}. On etcd 3.4 the read visits
   * every key from {@code fromKey} to the end of the prefix (its {@code count}); a walk uses
   * {@link #range} with a bounded end instead.
   */
  GetResponse page(String prefix, String fromKey, int limit, Fetch fetch, long revision, long deadline,
      String what) {
    return range(fromKey, prefixEnd(prefix), limit, fetch, revision, deadline, what);
  }

  /** Up to {@code limit} keys in [{@code from}, {@code to}), in key order, at {@code revision} (0: now). */
  GetResponse range(String from, String to, int limit, Fetch fetch, long revision, long deadline, String what) {
    GetOption option = GetOption.builder().withRange(bytes(to)).withLimit(limit)
        .withKeysOnly(fetch == Fetch.KEYS).withRevision(revision).build();
    return counted(await(connections.current().kv().get(bytes(from), option), deadline, what));
  }

  /**
   * How many keys each range [{@code bounds[i]}, {@code bounds[i + 1]}) holds at {@code revision}
   * (count-only reads, up to 100 in a transaction).
   */
  long[] counts(List<String> bounds, long revision, long deadline, String what) {
    long[] out = new long[bounds.size() - 1];
    for (int from = 0; from < out.length; from += 100) {
      List<Op> counts = new ArrayList<>();
      for (int i = from; i < Math.min(out.length, from + 100); i++) {
        counts.add(Op.get(bytes(bounds.get(i)), GetOption.builder().withRange(bytes(bounds.get(i + 1)))
            .withCountOnly(true).withRevision(revision).build()));
      }
      List<GetResponse> got = txn(List.of(), counts, List.of(), deadline, what).getGetResponses();
      for (int i = 0; i < got.size(); i++) {
        out[from + i] = got.get(i).getCount();
      }
    }
    return out;
  }

  private GetResponse counted(GetResponse r) {
    tally.count(List.of(r));
    return r;
  }

  /**
   * Every key under the prefix, in key order, all read at the revision of the first read (so as one
   * read would see them, without one response holding them all): {@link BoundedWalk}, reads of
   * at most {@code limit} keys whose ranges hold about that many.
   *
   * @return the revision read at
   */
  long walk(String prefix, int limit, Fetch fetch, long deadline, String what,
      java.util.function.Consumer<KeyValue> each) {
    return walkFrom(prefix, prefix, 0, limit, fetch, deadline, what, each);
  }

  /** {@link #walk} from {@code fromKey}, at {@code revision} (0: now). */
  long walkFrom(String prefix, String fromKey, long revision, int limit, Fetch fetch, long deadline,
      String what, java.util.function.Consumer<KeyValue> each) {
    return new BoundedWalk(this, limit, fetch, deadline, what, each).run(fromKey, prefixEnd(prefix), revision);
  }

  /** The first key after every key starting with the prefix. */
  static String prefixEnd(String prefix) {
    char last = prefix.charAt(prefix.length() - 1);
    return prefix.substring(0, prefix.length() - 1) + (char) (last + 1);
  }

  /** Every key under the prefix (values too unless {@link Fetch#KEYS}). */
  List<KeyValue> range(String prefix, Fetch fetch, long deadline, String what) {
    GetOption option = GetOption.builder().isPrefix(true).withKeysOnly(fetch == Fetch.KEYS).build();
    return counted(await(connections.current().kv().get(bytes(prefix), option), deadline, what)).getKvs();
  }

  <T> T await(CompletableFuture<T> future, long deadline, String what) {
    long remaining = deadline - nanoTime.getAsLong();
    try {
      if (remaining <= 0) {
        throw new TimeoutException();
      }
      return future.get(remaining, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      future.cancel(true);
      connections.afterTimeout();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd at " + endpoints + " did not answer " + what
          + " in time: unreachable or without quorum");
    } catch (InterruptedException e) {
      future.cancel(true);
      Thread.currentThread().interrupt();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted while waiting for etcd (" + what + ")", e);
    } catch (CancellationException e) {
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "etcd call cancelled (" + what + ")", e);
    } catch (ExecutionException e) {
      throw classify(e.getCause(), what);
    }
  }

  IpamException classify(Throwable cause, String what) {
    Throwable t = cause;
    while (t != null) {
      if (t instanceof IpamException ie) {
        return ie;
      }
      if (t instanceof EtcdException ee) {
        return switch (ee.getErrorCode()) {
          case PERMISSION_DENIED, UNAUTHENTICATED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, OUT_OF_RANGE,
              UNIMPLEMENTED, DATA_LOSS, FAILED_PRECONDITION ->
              new IpamException(ErrorCode.IO_FAILURE, "etcd at " + endpoints + " refused " + what + ": "
                  + ee.getMessage() + limitHint(ee.getMessage()), cause);
          default -> transientFailure(what, cause);
        };
      }
      if (t instanceof io.grpc.StatusRuntimeException se) {
        return switch (se.getStatus().getCode()) {
          case PERMISSION_DENIED, UNAUTHENTICATED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, OUT_OF_RANGE,
              UNIMPLEMENTED, DATA_LOSS, FAILED_PRECONDITION ->
              new IpamException(ErrorCode.IO_FAILURE, "etcd at " + endpoints + " refused " + what + ": "
                  + se.getMessage() + limitHint(se.getMessage()), cause);
          default -> transientFailure(what, cause);
        };
      }
      t = t.getCause();
    }
    return transientFailure(what, cause);
  }

  /**
   * What to change when etcd refused a request for one of its limits, which jipam's requests stay
   * within at etcd's defaults (docs/etcd.md, "Operating etcd"); empty for any other refusal.
   */
  static String limitHint(String etcdMessage) {
    if (etcdMessage == null) {
      return "";
    }
    if (etcdMessage.contains("too many operations in txn request")) {
      return " (etcd's --max-txn-ops is below the " + TxnCombiner.MAX_OPS + " operations jipam puts in one"
          + " transaction: set it to " + TxnCombiner.MAX_OPS + ", its default, or more)";
    }
    if (etcdMessage.contains("request is too large")) {
      return " (etcd's --max-request-bytes is below what jipam sends: set it to 1.5 MiB, its default, or more)";
    }
    return "";
  }

  private IpamException transientFailure(String what, Throwable cause) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER,
        "etcd at " + endpoints + " failed " + what + ": " + cause, cause);
  }

  /**
   * Closes the connections ({@link EtcdConnections#close}: waits for their event loops to end, at
   * most {@value EtcdConnections#CLOSE_WAIT_MILLIS} ms); retries still due are dropped, as by
   * jetcd's own pool.
   */
  @Override
  public void close() {
    starter.shutdown();
    connections.close();
  }
}
