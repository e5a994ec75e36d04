package io.jipam.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.KV;
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
import io.grpc.netty.GrpcSslContexts;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.netty.handler.ssl.SslContextBuilder;
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
 * leader, timeouts), {@code IO_FAILURE} for what will not (auth, quota, bad request).
 * Thread-safe.
 */
final class EtcdClient implements AutoCloseable {
  /** How long {@link #close} waits for the client's event loops to end. */
  private static final long CLOSE_WAIT_MILLIS = 2_000;
  /**
   * gRPC's channel logger, kept (a JUL logger nobody references can be collected with its filter),
   * with a filter that drops one record: the "Panic!" a channel logs when, shut down after its
   * Vert.x (see {@link #close}: the event loops are closed first so that the close can wait for
   * them), it finds the event loop it would flush its goodbye on already terminated. Nothing is
   * lost then (the connection is being closed), and the plugin's stderr must stay empty. Every
   * other record passes.
   */
  private static final java.util.logging.Logger CHANNEL_LOG = quietAboutTerminatedLoops(
      java.util.logging.Logger.getLogger("io.grpc.internal.ManagedChannelImpl"));

  private static java.util.logging.Logger quietAboutTerminatedLoops(java.util.logging.Logger log) {
    java.util.logging.Filter previous = log.getFilter();
    log.setFilter(r -> {
      Throwable t = r.getThrown();
      if (t instanceof java.util.concurrent.RejectedExecutionException
          && "event executor terminated".equals(t.getMessage())) {
        return false;
      }
      return previous == null || previous.isLoggable(r);
    });
    return log;
  }
  /** What a new connection is built from ({@link #reconnectAfterTimeout}); used under this object's lock. */
  private final ClientBuilder builder;
  /** The connection every call starts on: read once per call. */
  private volatile Connection conn;
  /** Connections a reconnect replaced, closed once every call that could still be on them has ended. */
  private final java.util.Set<Connection> replaced = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** When the connection was last replaced (nanoTime); guarded by this object's lock. */
  private long reconnectedAt;
  /** The least time between two reconnects, and how long a replaced connection stays open. */
  private final long reconnectGapNanos;
  private final boolean severalEndpoints;
  private volatile boolean closed;
  private final String endpoints;
  private final LongSupplier nanoTime;
  /** Starts jetcd's calls on the calling thread. */
  private final CallingThreadExecutor starter = new CallingThreadExecutor();
  /** Keys (with their values) etcd has returned to this client: what its reads cost. */
  private final java.util.concurrent.atomic.AtomicLong keysRead = new java.util.concurrent.atomic.AtomicLong();
  /**
   * Keys in the ranges etcd read for this client (each read's {@code count}): what the reads cost
   * etcd 3.4, which visits every key of a read's range whatever its limit.
   */
  private final java.util.concurrent.atomic.AtomicLong keysScanned = new java.util.concurrent.atomic.AtomicLong();
  /** The most bytes of keys and values one response (a read, or all reads of a transaction) carried. */
  private final java.util.concurrent.atomic.AtomicLong largestResponse = new java.util.concurrent.atomic.AtomicLong();
  /** Bytes of keys and values etcd returned to this client, and the reads and transactions that returned them. */
  private final java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();

  EtcdClient(EtcdStoreConfig config, LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.endpoints = String.join(",", config.endpoints());
    ClientBuilder builder = Client.builder()
        .endpoints(config.endpoints().toArray(String[]::new))
        .connectTimeout(config.timeout())
        .retryMaxDuration(config.timeout())
        // jetcd's retry policy needs delay < max delay < max duration; its defaults (500 ms,
        // 2.5 s) exceed short timeouts, which the config allows down to 100 ms
        .retryDelay(retryDelayMillis(config.timeout()))
        .retryMaxDelay(2 * retryDelayMillis(config.timeout()))
        .keepaliveTime(java.time.Duration.ofSeconds(10))
        .keepaliveTimeout(java.time.Duration.ofSeconds(5))
        .maxInboundMessageSize(256 * 1024 * 1024)
        // each call starts on the caller's thread, not with a hand-off to a pool thread
        .executorService(starter);
    if (config.tls() != null) {
      try {
        SslContextBuilder ssl = GrpcSslContexts.forClient();
        if (config.tls().ca() != null) {
          ssl.trustManager(config.tls().ca().toFile());
        }
        if (config.tls().cert() != null) {
          ssl.keyManager(config.tls().cert().toFile(), config.tls().key().toFile());
        }
        builder.sslContext(ssl.build());
      } catch (Exception e) {
        throw IpamException.invalidConfig("etcd tls: cannot load %s: %s (the key must be PEM PKCS#8)",
            config.tls(), e.getMessage());
      }
    }
    if (config.user() != null) {
      builder.user(bytes(config.user())).password(bytes(config.password()));
    }
    this.builder = builder;
    this.severalEndpoints = config.endpoints().size() > 1;
    this.reconnectGapNanos = Math.max(1_000_000_000L, config.timeout().toNanos());
    this.reconnectedAt = nanoTime.getAsLong() - reconnectGapNanos;
    this.conn = Connection.open(builder);
  }

  /**
   * One jetcd client and the Vert.x it runs on, made here so that {@link #close} can wait for its
   * event loops to end (jetcd closes the Vert.x it is given with the client, so each connection has
   * its own).
   */
  private record Connection(Client client, io.vertx.core.Vertx vertx, KV kv, io.etcd.jetcd.Lease leases) {
    static Connection open(ClientBuilder builder) {
      io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
      try {
        Client client = builder.vertx(vertx).build();
        return new Connection(client, vertx, client.getKVClient(), client.getLeaseClient());
      } catch (RuntimeException e) {
        vertx.close();
        throw e;
      }
    }

    /**
     * Closes it; returns the future of its event loops' end. Vert.x is closed first: its close
     * answers the first caller with the future of its end and any later one (jetcd's) at once.
     */
    io.vertx.core.Future<Void> close() {
      io.vertx.core.Future<Void> ended = vertx.close();
      client.close(); // closes the channel
      return ended;
    }
  }

  /**
   * After a call got no answer by its deadline: replaces the connection with a new one, when there
   * are several endpoints, at most once per store timeout (at least 1 s). Why: a member that hangs
   * with its connections open (a paused process, a frozen machine) stays in the client's round
   * robin, and a store whose calls come in a fixed rhythm (a failed commit, then a lease grant that
   * lands on the same member each time) found no other member for as long as gRPC's keep-alive
   * takes to give up on that connection (10 s + 5 s): no call succeeded for about 15 s though the
   * other members had elected a leader within one. A new channel's connection to a hung member
   * never completes its HTTP/2 handshake, so the new channel sends every call to the others until
   * it answers again. The replaced connection stays open for calls already sent on it (and the
   * lease keep-alives it carries) for another such period, then is closed; a call still waiting
   * on it then ends as cancelled (TRY_AGAIN_LATER, its outcome unknown, as after a timeout).
   */
  private void reconnectAfterTimeout() {
    Connection old;
    synchronized (this) {
      long now = nanoTime.getAsLong();
      if (!severalEndpoints || closed || now - reconnectedAt < reconnectGapNanos) {
        return;
      }
      reconnectedAt = now;
      old = conn;
      try {
        conn = Connection.open(builder);
      } catch (RuntimeException e) {
        return; // the old connection goes on; the next timeout tries again
      }
      replaced.add(old);
    }
    CompletableFuture.delayedExecutor(reconnectGapNanos, TimeUnit.NANOSECONDS).execute(() -> {
      if (replaced.remove(old)) {
        old.close();
      }
    });
  }

  Client raw() {
    return conn.client();
  }

  /** Keys etcd returned to this client so far (range reads and the reads of transactions). */
  long keysRead() {
    return keysRead.get();
  }

  /** The most bytes of keys and values one response to this client carried so far. */
  long largestResponse() {
    return largestResponse.get();
  }

  /** Bytes of keys and values etcd returned to this client so far. */
  long bytesRead() {
    return bytesRead.get();
  }

  /** Range reads and transactions this client sent so far (not lease or status calls). */
  long requests() {
    return requests.get();
  }

  private void sized(List<KeyValue> kvs, long[] bytes) {
    for (KeyValue kv : kvs) {
      bytes[0] += kv.getKey().size() + kv.getValue().size();
    }
  }

  /** Keys in the ranges of this client's reads so far (range reads and the reads of transactions). */
  long keysScanned() {
    return keysScanned.get();
  }

  /** The size of the database of the first endpoint's member, as its status says; -1 when unknown. */
  long dbSize(long deadline) {
    try {
      String endpoint = endpoints.split(",")[0];
      return await(conn.client().getMaintenanceClient().statusMember(endpoint), deadline, "reading etcd's status")
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
    io.etcd.jetcd.lease.LeaseGrantResponse r = await(conn.leases().grant(ttlSeconds), deadline, what);
    return new Lease(r.getID(), r.getTTL());
  }

  /** Keeps a lease alive until the returned client is closed; the observer hears each renewal and the end. */
  io.etcd.jetcd.support.CloseableClient keepAlive(long leaseId,
      io.grpc.stub.StreamObserver<io.etcd.jetcd.lease.LeaseKeepAliveResponse> observer) {
    return conn.leases().keepAlive(leaseId, observer);
  }

  /** Revokes a lease without waiting for the answer (best effort: it ends by its TTL anyway). */
  void revokeLater(long leaseId) {
    try {
      conn.leases().revoke(leaseId);
    } catch (RuntimeException ignored) {
      // closed or unreachable: the lease ends by its TTL
    }
  }

  static Op delete(String key) {
    return Op.delete(bytes(key), DeleteOption.DEFAULT);
  }

  static Op get(String key) {
    return Op.get(bytes(key), GetOption.DEFAULT);
  }

  /** Every key under the prefix, as a transaction's read (several in one transaction: one revision). */
  static Op getPrefix(String prefix) {
    return Op.get(bytes(prefix), GetOption.builder().isPrefix(true).build());
  }

  TxnResponse txn(List<Cmp> cmps, List<Op> then, List<Op> otherwise, long deadline, String what) {
    CompletableFuture<TxnResponse> f = conn.kv().txn()
        .If(cmps.toArray(Cmp[]::new))
        .Then(then.toArray(Op[]::new))
        .Else(otherwise.toArray(Op[]::new))
        .commit();
    TxnResponse r = await(f, deadline, what);
    long[] bytes = {0};
    for (GetResponse g : r.getGetResponses()) {
      keysRead.addAndGet(g.getKvs().size());
      keysScanned.addAndGet(Math.max(g.getCount(), g.getKvs().size()));
      sized(g.getKvs(), bytes);
    }
    largestResponse.accumulateAndGet(bytes[0], Math::max);
    bytesRead.addAndGet(bytes[0]);
    requests.incrementAndGet();
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
      List<KeyValue> kvs = counted(await(conn.kv().get(bytes(key), at), deadline, what)).getKvs();
      return kvs.isEmpty() ? null : kvs.get(0);
    } catch (IpamException e) {
      if (e.code() != ErrorCode.IO_FAILURE || e.getMessage() == null || !e.getMessage().contains("compacted")) {
        throw e;
      }
      List<KeyValue> now = counted(await(conn.kv().get(bytes(key)), deadline, what)).getKvs();
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
    return counted(await(conn.kv().get(bytes(from), option), deadline, what));
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
    keysRead.addAndGet(r.getKvs().size());
    keysScanned.addAndGet(Math.max(r.getCount(), r.getKvs().size()));
    long[] bytes = {0};
    sized(r.getKvs(), bytes);
    largestResponse.accumulateAndGet(bytes[0], Math::max);
    bytesRead.addAndGet(bytes[0]);
    requests.incrementAndGet();
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
    return counted(await(conn.kv().get(bytes(prefix), option), deadline, what)).getKvs();
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
      reconnectAfterTimeout();
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
                  + ee.getMessage(), cause);
          default -> transientFailure(what, cause);
        };
      }
      if (t instanceof io.grpc.StatusRuntimeException se) {
        return switch (se.getStatus().getCode()) {
          case PERMISSION_DENIED, UNAUTHENTICATED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, OUT_OF_RANGE,
              UNIMPLEMENTED, DATA_LOSS, FAILED_PRECONDITION ->
              new IpamException(ErrorCode.IO_FAILURE, "etcd at " + endpoints + " refused " + what + ": "
                  + se.getMessage(), cause);
          default -> transientFailure(what, cause);
        };
      }
      t = t.getCause();
    }
    return transientFailure(what, cause);
  }

  private IpamException transientFailure(String what, Throwable cause) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER,
        "etcd at " + endpoints + " failed " + what + ": " + cause, cause);
  }

  /**
   * Closes the connection (and any a reconnect replaced) and waits (at most {@value #CLOSE_WAIT_MILLIS} ms) until the event loops
   * have ended. Why wait: jetcd only starts closing its Vert.x, and a JVM that exits while threads
   * sit in native code (the event loops' {@code epoll_wait}) waits up to 300 ms for them: a plugin
   * call on etcd printed its result and then spent 0.3 s exiting. Vert.x is closed first: its
   * close answers the first caller with the future of its end and any later one at once.
   */
  @Override
  public void close() {
    starter.shutdown(); // as jetcd's own pool: retries still due after the close are dropped
    List<io.vertx.core.Future<Void>> ends = new ArrayList<>();
    // no reconnect after this; the connection is closed outside the lock: a caller waiting for it
    // may hold a lease slot's lock, which the end of a keep-alive closed here may need
    Connection current;
    synchronized (this) {
      closed = true;
      current = conn;
    }
    ends.add(current.close());
    for (Connection old : List.copyOf(replaced)) {
      if (replaced.remove(old)) {
        ends.add(old.close());
      }
    }
    try {
      io.vertx.core.Future.all(ends).toCompletionStage().toCompletableFuture()
          .get(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // closed as far as it goes within the bound: the connections are shut either way
    }
  }

  /** The first retry delay: jetcd's 500 ms, or less so that two delays fit in {@code timeout}. */
  static long retryDelayMillis(java.time.Duration timeout) {
    return Math.max(1, Math.min(500, timeout.toMillis() / 4));
  }
}
