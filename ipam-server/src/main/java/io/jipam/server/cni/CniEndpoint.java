package io.jipam.server.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.CniCommand;
import io.jipam.core.cni.CniEnvironment;
import io.jipam.core.cni.CniHandler;
import io.jipam.core.cni.CniJson;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.cni.SubPoolForwarding;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ApplyBy;
import io.jipam.core.store.capability.LocalCalls;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The plugin's CNI call, served on jipamd's unix socket: the {@code jipam} plugin in daemon mode
 * posts what it was given and prints what it gets back, so the call runs exactly as the plugin
 * would run it but against jipamd's warm store.
 *
 * <table>
 *   <caption>Protocol: HTTP/1.1 on the unix socket</caption>
 *   <tr><th>part</th><th>content</th></tr>
 *   <tr><td>request line</td><td>{@code POST /cni/v1}</td></tr>
 *   <tr><td>request body</td><td>{@code CNI_NAME=value} lines (only the CNI_* variables, each
 *       once; {@code \} and newline in a value escaped as {@code \\} and {@code \n}, the only
 *       escapes taken), an empty line, then the network config exactly as the plugin read it from
 *       stdin</td></tr>
 *   <tr><td>response</td><td>200; header {@code Jipam-Exit} is the plugin's exit code (0 or 1);
 *       the body is exactly what the plugin prints on stdout (a result, nothing, or a CNI error
 *       object)</td></tr>
 * </table>
 *
 * <p>The config's {@code ipam.store} is not used: jipamd's store is. Configs are kept parsed
 * between calls ({@link ParsedConfigs}: the same bytes read the same, unless they name a file to
 * read). The body is read by {@link CniRequestBody}: the config is held to the plugin's own limit
 * ({@link NetworkConfig#MAX_BYTES}, CNI error 7 as the plugin gives), the environment lines to
 * {@link #MAX_ENVIRONMENT}; bodies over {@link #MAX_BODY} bytes are refused
 * unread (CNI error 6). The environment's bytes are decoded as the plugin decodes the naming
 * variables ({@link InterfaceName#decode}, lossless): an interface name that is not UTF-8 is
 * refused with code 4 as the plugin refuses it, and two byte strings never become one name. The
 * call runs on the workers given (a bounded pool: when it is full the answer is CNI error 11, try
 * again later), or, for a store of {@link LocalCalls}, first on the event loop that decoded the
 * request ({@link LocalCalls#withoutWaiting}), which then also writes the answer without a
 * hand-off; a call that would wait there for its pool's lock (a plugin in direct mode holds it,
 * or another thread's batch) goes to the workers instead, so the event loop never waits for one.
 *
 * <p>Time bounds: a request whose body has not arrived whole within {@code requestTimeout} of its
 * headers (a client that hangs or trickles mid-body) is answered CNI error 11 and its connection
 * closed; the idle timeout of the HTTP server it is mounted on (jipamd's sets one) covers a client
 * that stops or trickles before its headers are complete. A client cut off by a bound changes
 * nothing: the call runs only once its body is complete.
 */
public final class CniEndpoint {
  public static final String PATH = "/cni/v1";
  /** The most the CNI_* lines of a request may take (Linux's whole environment is 2 MiB at most). */
  static final int MAX_ENVIRONMENT = 1 << 20;
  /**
   * The largest request: the plugin's limit on the config ({@link NetworkConfig#MAX_BYTES}, checked
   * on its own, as the plugin checks stdin) plus the environment's.
   */
  public static final int MAX_BODY = NetworkConfig.MAX_BYTES + MAX_ENVIRONMENT;
  /**
   * Bytes of request bodies all the socket's requests may hold at once while they arrive: three
   * of the largest. Past it a request gets CNI error 11 (try again) instead of its bytes being
   * kept: each arriving body took up to twice its size in jipamd's heap, and about 25 requests of
   * legal size at once (connections or HTTP/2 streams that send all but their last byte) ran a
   * 192 MB heap out of memory.
   */
  static final long MAX_BUFFERED = 3L * MAX_BODY;

  private final IpamStore store;
  private final PoolRegistry pools;
  /** Where calls that may wait run. */
  private final Executor workers;
  /** The store's promise that its calls are local (they run on the decoding thread first), or null. */
  private final LocalCalls local;
  private final CallLog log;
  private final Metrics metrics;
  private final Duration requestTimeout;
  private final Supplier<String> node;
  /** The store's way of passing sub-pools on (a remote store's), or null. */
  private final SubPoolForwarding forwarding;
  private final ParsedConfigs configs = new ParsedConfigs();
  /** An {@code "auto"} config's own store against jipamd's. */
  private final AutoFallbackCheck autoFallback;
  /** Bytes the requests arriving now hold, at most {@link #MAX_BUFFERED}. */
  private final java.util.concurrent.atomic.AtomicLong buffered = new java.util.concurrent.atomic.AtomicLong();

  /** With the default request bound, 30 s, serving the node {@link NodeName#local} names. */
  CniEndpoint(IpamStore store, PoolRegistry pools, Executor workers, CallLog log, Metrics metrics) {
    this(store, pools, workers, log, metrics, Duration.ofSeconds(30), NodeName.local(System.getenv()));
  }

  /**
   * @param nodeName the node this jipamd serves: what sub-pool node selectors ({@code
   *     ipam.subPools[].nodes}) of the calls match; null when unknown (no node selector matches)
   */
  public CniEndpoint(IpamStore store, PoolRegistry pools, Executor workers, CallLog log, Metrics metrics,
      Duration requestTimeout, String nodeName) {
    this.node = () -> nodeName;
    this.metrics = metrics;
    this.requestTimeout = requestTimeout;
    this.store = store;
    this.forwarding = store.capability(SubPoolForwarding.class).orElse(null);
    this.pools = pools;
    this.workers = workers;
    this.local = store.capability(LocalCalls.class).orElse(null);
    this.autoFallback = new AutoFallbackCheck(store);
    this.log = log;
  }

  public void handle(HttpServerRequest req) {
    long start = System.nanoTime();
    if (req.method() != HttpMethod.POST) {
      req.response().setStatusCode(405).end();
      return;
    }
    String length = req.getHeader("content-length");
    if (length != null && parseLength(length) > MAX_BODY) {
      answer(req, start, failure(null, new IpamException(ErrorCode.DECODE_FAILURE,
          "CNI request of " + length + " bytes is over the limit of " + MAX_BODY)));
      return;
    }
    Vertx vertx = Vertx.currentContext().owner(); // handle runs on the request's event loop
    Buffer body = Buffer.buffer();
    boolean[] tooBig = {false};
    boolean[] busy = {false}; // other requests hold MAX_BUFFERED: this one's bytes are not kept
    boolean[] over = {false}; // answered by the time bound: nothing more happens for this request
    long[] held = {0}; // this request's share of buffered, given back once it ends, fails or is cut
    Runnable giveBack = () -> {
      buffered.addAndGet(-held[0]);
      held[0] = 0;
    };
    long timer = vertx.setTimer(requestTimeout.toMillis(), id -> {
      over[0] = true;
      giveBack.run();
      log.call("CNI", null, "outcome=error request not complete within " + requestTimeout.toSeconds() + " s",
          start);
      Reply late = failure(null, new IpamException(ErrorCode.TRY_AGAIN_LATER, "CNI request not received whole"
          + " within " + requestTimeout.toSeconds() + " s (got " + body.length() + " bytes); try again"));
      metrics.call("cni", "error", late.code, start);
      req.response().putHeader("Jipam-Exit", Integer.toString(late.exit)).putHeader("Connection", "close")
          .end(Buffer.buffer(late.output)).onComplete(ar -> req.connection().close());
    });
    req.handler(chunk -> {
      if (tooBig[0] || busy[0] || over[0]) {
        return;
      }
      if (body.length() + chunk.length() > MAX_BODY) {
        tooBig[0] = true; // stop buffering; answer once the request ends (or a time bound cuts it)
      } else if (buffered.addAndGet(chunk.length()) > MAX_BUFFERED) {
        buffered.addAndGet(-chunk.length());
        busy[0] = true; // likewise
      } else {
        held[0] += chunk.length();
        body.appendBuffer(chunk);
      }
    });
    req.exceptionHandler(e -> {
      giveBack.run();
      vertx.cancelTimer(timer);
      log.call("CNI", null, "request failed: " + e, start);
    });
    req.endHandler(v -> {
      if (over[0]) {
        return;
      }
      vertx.cancelTimer(timer);
      giveBack.run();
      if (tooBig[0]) {
        answer(req, start, failure(null, new IpamException(ErrorCode.DECODE_FAILURE,
            "CNI request is over the limit of " + MAX_BODY + " bytes")));
        return;
      }
      if (busy[0]) {
        answer(req, start, failure(null, new IpamException(ErrorCode.TRY_AGAIN_LATER,
            "jipamd is receiving other CNI requests of " + MAX_BUFFERED + " bytes in all, its bound; try again")));
        return;
      }
      serve(body.getBytes(), start, deadline(req.getHeader("Jipam-Deadline")),
          reply -> req.response().putHeader("Jipam-Exit", Integer.toString(reply.exit)).end(Buffer.buffer(reply.output)));
    });
  }

  /**
   * Runs the CNI call {@code body} holds (on this thread without waiting when the store's calls are
   * local, else or when it would wait on a worker), hands the reply to {@code answer} on that
   * thread, then logs and counts the call (its
   * duration from {@code start} to the answer handed over). When every worker is taken and the
   * queue is full, {@code answer} gets CNI error 11 at once, on the calling thread. A call that
   * ends after jipamd stopped (abandoned at the shutdown bound), when {@code answer} finds the
   * connection's event loop ended, is logged as not answered; nothing is thrown on the worker.
   */
  void serve(byte[] body, long start, long deadline, Consumer<Reply> answer) {
    if (local == null) {
      onWorker(body, start, deadline, answer);
      return;
    }
    Reply reply;
    try {
      reply = LocalCalls.withoutWaiting(() -> run(body, deadline));
    } catch (LocalCalls.WouldWait e) {
      onWorker(body, start, deadline, answer); // its pool's lock is held (a plugin, another batch): wait there
      return;
    }
    finish(reply, start, answer);
  }

  /** Runs the call on a worker; when every worker is taken and the queue is full, CNI error 11 at once. */
  private void onWorker(byte[] body, long start, long deadline, Consumer<Reply> answer) {
    try {
      workers.execute(() -> finish(run(body, deadline), start, answer));
    } catch (RejectedExecutionException e) {
      Reply busy = failure(null, new IpamException(ErrorCode.TRY_AGAIN_LATER,
          "jipamd is busy: every worker is taken and the queue is full; try again later"));
      metrics.call("cni", "busy", busy.code, start);
      log.call("CNI", null, "outcome=busy", start);
      answer.accept(busy);
    }
  }

  private void finish(Reply reply, long start, Consumer<Reply> answer) {
    long answered = System.nanoTime();
    try {
      answer.accept(reply);
    } catch (RejectedExecutionException stopped) {
      log.call("CNI", null, reply.summary + " not answered: jipamd stopped before the call ended", start);
      return;
    }
    log.call("CNI", null, reply.summary, start, answered);
    metrics.call("cni", reply.code == null ? "ok" : "error", reply.code, start);
  }

  /**
   * Logs (with the call log on) that a call ran but its answer could not be written: its client had
   * gone, having given up at its time bound or been killed. What the call did stays, as for any
   * call whose answer was lost: the runtime retries the ADD (the same addresses come back) or DELs.
   */
  void unanswered(Reply reply, long start) {
    log.call("CNI", null, reply.summary + " not answered: the client had gone", start);
  }

  private static long parseLength(String text) {
    try {
      return Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }

  private void answer(HttpServerRequest req, long start, Reply reply) {
    metrics.call("cni", reply.code == null ? "ok" : "error", reply.code, start);
    req.response().putHeader("Jipam-Exit", Integer.toString(reply.exit)).end(Buffer.buffer(reply.output));
  }

  /** What the plugin prints and its exit code. */
  record Reply(byte[] output, int exit, String summary, ErrorCode code) {
    Reply(byte[] output, int exit, String summary) {
      this(output, exit, summary, null);
    }

    Reply withSummary(String text) {
      return new Reply(output, exit, text, code);
    }
  }

  /**
   * A request's {@code Jipam-Deadline}: the time its client gives up, in milliseconds since the
   * epoch; 0 (none) when absent or not a number of at most 18 digits (the clients send one always;
   * a call without one runs as before they did).
   */
  static long deadline(String text) {
    if (text == null || text.isEmpty() || text.length() > 18 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return 0;
    }
    return Long.parseLong(text);
  }

  /**
   * How long before its client's deadline a call must reach its store: the time the call takes
   * there and the runtime's next call for the attachment (a DEL after the failed ADD) takes to
   * come. A call later than that is refused, and its store stops trying then ({@link ApplyBy}).
   */
  static final long DEADLINE_MARGIN_MILLIS = 250;

  /** Runs one CNI call as the plugin would, with no deadline; never throws. */
  Reply run(byte[] body) {
    return run(body, 0);
  }

  /**
   * Runs the call, refused (changing nothing) when it reaches this point past its client's
   * deadline less {@link #DEADLINE_MARGIN_MILLIS}: held up in jipamd (a pause, a full worker queue)
   * after its client gave up and the runtime went on, it would apply out of order with the
   * runtime's next call, a late ADD after the DEL leaking its address. The store runs it within
   * that time ({@link ApplyBy}), which a remote store passes on.
   */
  Reply run(byte[] body, long deadline) {
    long applyBy = deadline == 0 ? 0 : deadline - DEADLINE_MARGIN_MILLIS;
    return ApplyBy.within(applyBy, () -> runWithin(body, applyBy));
  }

  private Reply runWithin(byte[] body, long applyBy) {
    String versionText = null;
    CniCommand command = null;
    CniEnvironment known = null; // for a failure's log line: its attachment, once read
    String network = null; // and its network
    try {
      CniRequestBody request = CniRequestBody.decode(body);
      byte[] stdin = request.stdin();
      CniEnvironment cni = CniEnvironment.from(request.environment());
      command = cni.command();
      known = cni;
      if (command == CniCommand.VERSION) {
        return new Reply(CniJson.versionInfo(), 0, "VERSION outcome=ok");
      }
      ParsedConfigs.Parsed parsed = configs.read(stdin);
      versionText = parsed.versionText();
      NetworkConfig config = parsed.configOrThrow();
      network = config.name();
      CniHandler.checkVersion(command, config.cniVersion());
      long lateBy = ApplyBy.lateBy(applyBy, System.currentTimeMillis());
      if (lateBy > 0) {
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "not applied: the call reached jipamd's store " + lateBy
            + " ms after the time it had to (" + DEADLINE_MARGIN_MILLIS + " ms before its client gave up at "
            + java.time.Instant.ofEpochMilli(applyBy + DEADLINE_MARGIN_MILLIS) + "): held up in jipamd (paused, or"
            + " its workers busy); nothing changed");
      }
      // a network's sub-pools are pools of their own, each defined once: by an ADD the store took,
      // as on gRPC. Other commands neither define nor check a definition: they run with their own
      // config, as the plugin does on its own. A DEL or GC the runtime sends with the config it
      // cached at ADD, after the network's ranges changed, releases as it would in direct mode
      // (checked against the definition, it was refused with code 7 until jipamd restarted, and
      // the pods' addresses stayed allocated; defining, it fixed the old ranges).
      boolean defines = command == CniCommand.ADD;
      if (defines) {
        autoFallback.admit(config.ipam()); // a DEL is served whatever it names: refusing it would strand the pod
      }
      List<Pool> networkPools = defines ? config.ipam().pools().all() : List.of();
      List<PoolRegistry.Admission> admissions = new java.util.ArrayList<>(networkPools.size());
      CniHandler.Done done;
      try {
        for (Pool pool : networkPools) {
          admissions.add(pools.admit(pool));
        }
        if (defines) {
          pools.defined(config.ipam().pools()); // the selectors, for ListPools and the metrics
          if (forwarding != null) {
            forwarding.defined(config.ipam().pools()); // and the central jipamd's, when this one calls one
          }
        }
        done = CniHandler.run(cni, config, store, node);
        if (defines) {
          admissions.forEach(PoolRegistry.Admission::confirm);
        }
      } finally {
        admissions.forEach(PoolRegistry.Admission::close);
      }
      if (command == CniCommand.ADD) {
        pools.allocatedFrom(done.pool());
        metrics.allocated(done.pool().name(), done.origins());
      }
      return new Reply(done.output(), 0, command + " pool=" + (done.pool() == null ? config.name() : done.pool().name())
          + (cni.containerId() == null ? "" : " attachment=" + cni.containerId() + "/" + cni.ifname())
          + CallLog.origins(done.origins()) + " outcome=ok");
    } catch (IpamException e) {
      // no command when the environment itself is refused: "-" in its place, not "null"
      // named as a successful call's line names them (built only here: not on every call's path)
      String where = (network == null ? "" : " pool=" + network) + (known == null || known.containerId() == null ? ""
          : " attachment=" + known.containerId() + "/" + known.ifname());
      return failure(versionText, e).withSummary((command == null ? "-" : command) + where + " outcome=error "
          + e.code() + ": " + e.getMessage());
    } catch (LocalCalls.WouldWait e) {
      throw e; // not an outcome: serve() runs the call again on a worker
    } catch (RuntimeException e) {
      return failure(versionText, new IpamException(ErrorCode.INTERNAL, "internal error: " + e, e));
    }
  }

  private static Reply failure(String versionText, IpamException e) {
    return new Reply(CniJson.error(versionText, e), 1, "outcome=error " + e.code(), e.code());
  }

}
