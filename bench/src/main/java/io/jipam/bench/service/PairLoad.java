package io.jipam.bench.service;

import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.Attachment;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.Order;
import io.jipam.api.v1.Pool;
import io.jipam.api.v1.Range;
import io.jipam.api.v1.RangeSet;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.client.RemoteStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Load generator for a running jipamd: {@code clients} concurrent allocate + release pairs, each
 * client on its own attachments of one /16 pool, over {@code connections} HTTP/2 connections, for a
 * warm-up (at least the one asked for, and until the JIT compilers of both processes have
 * settled) then a measured window; the latency of every measured pair, pairs per second, and the CPU
 * this process (and, given its pid, jipamd) spent in the measured window.
 *
 * <p>Every attachment is new: its container ID carries a random tag of the run, the client and a
 * sequence number, as a runtime's container IDs are unique. A run that named them from 0 again
 * reused the IDs of the runs before it on the same jipamd, and the etcd store answers an ADD of an
 * attachment DELeted before with a refused transaction and a second round trip whenever its copy
 * of the DEL marker is stale (docs/etcd.md, "Limits"): the central cell measured a half to a
 * quarter of the pairs per second of new IDs.
 *
 * <p>A client is not a thread: it is a chain of asynchronous calls on a Vert.x gRPC client (the
 * next allocate is sent when the release is answered), so 64 clients are 64 calls in flight on two
 * event loops. 64 blocking threads over {@link RemoteStore} measure the same server but cost the
 * client several times the CPU, which on a 2-core machine is CPU jipamd does not get.
 *
 * <p>Bounded in time (warm-up + window + at most the 5 s call deadline); loopback or a unix socket.
 * {@link #run} returns the {@link Result}. The {@code service} scenario and the tools
 * {@code io.jipam.bench.tools.JipamdThroughput} (a command line over one run) and {@code CentralBench}
 * use it.
 */
public final class PairLoad {
  private static final long CALL_TIMEOUT_MILLIS = 5_000;
  /** The longest warm-up waiting for the JIT to settle. */
  public static final Duration MAX_WARMUP = Duration.ofSeconds(120);
  private static final long TICK_NANOS = 1_000_000_000L / 100; // USER_HZ: /proc/PID/stat's unit

  private PairLoad() {}

  /** What a run measured; latencies are of the measured window only, sorted, in nanoseconds. */
  public record Result(String target, int clients, int connections, Duration window, long pairs,
      long[] latencyNanos, long failures, long clientCpuNanos, long serverCpuNanos, long clientJitNanos,
      long serverJitNanos, Duration warmedUp, long peerCpuNanos) {
    /** Pairs per second over the measured window. */
    public double pairsPerSecond() {
      return pairs / (window.toNanos() / 1e9);
    }

    /**
     * The latency at quantile {@code q} (0..1) in milliseconds, by nearest rank as {@code
     * Stats.percentile} (of 100 samples, p99 is the 99th, not the largest); NaN without samples.
     */
    public double latencyMillis(double q) {
      if (latencyNanos.length == 0) {
        return Double.NaN;
      }
      int rank = (int) Math.ceil(q * latencyNanos.length - 1e-9); // as Stats.percentile
      return latencyNanos[Math.max(0, Math.min(latencyNanos.length, rank) - 1)] / 1e6;
    }

    /** This process's CPU per measured pair, ms. */
    public double clientCpuPerPairMillis() {
      return pairs == 0 ? Double.NaN : clientCpuNanos / 1e6 / pairs;
    }

    /** The peer process's CPU (etcd behind jipamd, say) per measured pair, ms; NaN when no peer was given. */
    public double peerCpuPerPairMillis() {
      return pairs == 0 || peerCpuNanos < 0 ? Double.NaN : peerCpuNanos / 1e6 / pairs;
    }

    /** jipamd's CPU per measured pair, ms; NaN when its pid was not given. */
    public double serverCpuPerPairMillis() {
      return pairs == 0 || serverCpuNanos < 0 ? Double.NaN : serverCpuNanos / 1e6 / pairs;
    }

    /**
     * CPU per pair without the JIT compiler threads' share (ms; {client, jipamd}): on a loaded
     * machine compilation is still going on in the window, and this is what the calls cost.
     */
    public double[] cpuPerPairWithoutJitMillis() {
      return new double[] {pairs == 0 ? Double.NaN : (clientCpuNanos - clientJitNanos) / 1e6 / pairs,
          pairs == 0 || serverCpuNanos < 0 ? Double.NaN : (serverCpuNanos - serverJitNanos) / 1e6 / pairs};
    }
  }

  /**
   * Runs {@code clients} allocate+release loops against the jipamd at {@code target} ({@code
   * unix:/path} or {@code host:port}, plain) over {@code connections} connections for {@code warmup} (longer until the JIT
   * compilers of this process and jipamd have settled, at most {@link #MAX_WARMUP})
   * then {@code window}; {@code jipamdPid} (or -1) names the process whose CPU in the window is
   * read from {@code /proc}. Returns when every client has finished its last pair.
   */
  public static Result run(String target, int clients, int connections, Duration warmup, Duration window,
      long jipamdPid) throws InterruptedException {
    return run(target, clients, connections, warmup, MAX_WARMUP, window, jipamdPid);
  }

  /**
   * Like {@link #run(String, int, int, Duration, Duration, long)}, waiting for the JIT to settle
   * only until {@code maxWarmup} has passed: a {@code maxWarmup} no longer than {@code warmup}
   * warms up for exactly {@code warmup} (for cells after a jipamd has been warmed up once).
   */
  public static Result run(String target, int clients, int connections, Duration warmup, Duration maxWarmup,
      Duration window, long jipamdPid) throws InterruptedException {
    return run(target, clients, connections, 0, warmup, maxWarmup, window, jipamdPid);
  }

  /**
   * Like {@link #run(String, int, int, Duration, Duration, Duration, long)}, client {@code c}
   * acting for node {@code node-(c % nodes)} (the {@code jipam-node} metadata a node's jipamd
   * sends a central one); {@code nodes} 0: no node named.
   */
  public static Result run(String target, int clients, int connections, int nodes, Duration warmup,
      Duration maxWarmup, Duration window, long jipamdPid) throws InterruptedException {
    return run(target, clients, connections, nodes, warmup, maxWarmup, window, jipamdPid, -1);
  }

  /**
   * Like {@link #run(String, int, int, int, Duration, Duration, Duration, long)}, also reading the
   * CPU that process {@code peerPid} (or -1: none; etcd behind a jipamd, say) spent in the window.
   */
  public static Result run(String target, int clients, int connections, int nodes, Duration warmup,
      Duration maxWarmup, Duration window, long jipamdPid, long peerPid) throws InterruptedException {
    if (clients < 1 || connections < 1 || connections > clients) {
      throw new IllegalArgumentException("clients " + clients + " and connections " + connections
          + ": need 1 <= connections <= clients");
    }
    RemoteStore.Target where = RemoteStore.Target.parse(target);
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(Math.min(2, connections))
        .setFileSystemOptions(new FileSystemOptions().setClassPathResolvingEnabled(false)
            .setFileCachingEnabled(false))); // no vertx-cache-* dir left in java.io.tmpdir
    List<GrpcClient> grpcs = new ArrayList<>();
    List<Context> contexts = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      GrpcClient grpc = GrpcClient.client(vertx, new GrpcClientOptions().setTimeout((int) CALL_TIMEOUT_MILLIS)
          .setTimeoutUnit(TimeUnit.MILLISECONDS).setScheduleDeadlineAutomatically(true),
          new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
      grpcs.add(grpc);
      contexts.add(vertx.getOrCreateContext()); // a new context per call from outside Vert.x: spread over event loops
    }
    Pool pool = benchPool();
    Run run = new Run(clients);
    for (int c = 0; c < clients; c++) {
      Client client = new Client(run, c, grpcs.get(c % connections), where, nodes == 0 ? null : "node-" + (c % nodes),
          pool);
      contexts.get(c % connections).runOnContext(v -> client.next());
    }
    // warm-up: at least `warmup`, then on until the JIT compilers of both processes have settled
    // (under 1% of a core over 2 s), at most MAX_WARMUP: on a loaded machine compilation gets
    // little CPU, and code still interpreted would be measured instead of the steady state
    long self = ProcessHandle.current().pid();
    long warmStart = System.nanoTime();
    TimeUnit.NANOSECONDS.sleep(warmup.toNanos());
    long lastJit = jitCpuNanos(self) + (jipamdPid > 0 ? jitCpuNanos(jipamdPid) : 0);
    while (System.nanoTime() - warmStart < maxWarmup.toNanos()) {
      TimeUnit.SECONDS.sleep(2);
      long jit = jitCpuNanos(self) + (jipamdPid > 0 ? jitCpuNanos(jipamdPid) : 0);
      if (jit - lastJit < 20_000_000L) {
        break;
      }
      lastJit = jit;
    }
    long warmedUp = System.nanoTime() - warmStart;
    long client0 = processCpuNanos();
    long clientJit0 = jitCpuNanos(self);
    long server0 = jipamdPid > 0 ? procCpuNanos(jipamdPid) : -1;
    long serverJit0 = jipamdPid > 0 ? jitCpuNanos(jipamdPid) : 0;
    long peer0 = peerPid > 0 ? procCpuNanos(peerPid) : -1;
    long from = System.nanoTime();
    run.end = from + window.toNanos();
    run.measureFrom = from;
    run.done.await();
    long client1 = processCpuNanos();
    long clientJit1 = jitCpuNanos(self);
    long server1 = jipamdPid > 0 ? procCpuNanos(jipamdPid) : -1;
    long serverJit1 = jipamdPid > 0 ? jitCpuNanos(jipamdPid) : 0;
    long peer1 = peerPid > 0 ? procCpuNanos(peerPid) : -1;
    for (GrpcClient g : grpcs) {
      g.close();
    }
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // closing: nothing is pending
    }
    long[] all = run.latencies();
    Arrays.sort(all);
    return new Result(target, clients, connections, window, all.length, all, run.failures.get(),
        client1 - client0, server0 < 0 || server1 < 0 ? -1 : server1 - server0, clientJit1 - clientJit0,
        serverJit1 - serverJit0, Duration.ofNanos(warmedUp), peer0 < 0 || peer1 < 0 ? -1 : peer1 - peer0);
  }

  /** The pool every run allocates from: one /16 in 198.18.0.0/15, round robin. */
  public static Pool benchPool() {
    return Pool.newBuilder().setName("bench").setOrder(Order.ROUND_ROBIN)
        .addRangeSets(RangeSet.newBuilder().addRanges(Range.newBuilder().setSubnet("198.18.0.0/16")
            .setRangeStart("198.18.0.1").setRangeEnd("198.18.255.254").setGateway("198.18.0.1")))
        .build();
  }

  /** State shared by the clients of one run. */
  private static final class Run {
    volatile long measureFrom = Long.MAX_VALUE;
    volatile long end = Long.MAX_VALUE;
    final CountDownLatch done;
    final AtomicLong failures = new AtomicLong();
    final long[][] samples;
    final int[] counts;
    /** Makes this run's container IDs its own (see the class comment). */
    final String tag = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);

    Run(int clients) {
      this.done = new CountDownLatch(clients);
      this.samples = new long[clients][];
      this.counts = new int[clients];
    }

    long[] latencies() {
      int total = 0;
      for (int n : counts) {
        total += n;
      }
      long[] all = new long[total];
      int at = 0;
      for (int c = 0; c < counts.length; c++) {
        System.arraycopy(samples[c], 0, all, at, counts[c]);
        at += counts[c];
      }
      return all;
    }
  }

  /** One client: allocate, then release, then the next pair, on its connection's event loop. */
  private static final class Client {
    private final Run run;
    private final int id;
    private final GrpcClient grpc;
    private final RemoteStore.Target where;
    private final String node;
    private final Pool pool;
    private long[] mine = new long[1 << 14];
    private int n;
    private long seq;

    Client(Run run, int id, GrpcClient grpc, RemoteStore.Target where, String node, Pool pool) {
      this.run = run;
      this.id = id;
      this.grpc = grpc;
      this.where = where;
      this.node = node;
      this.pool = pool;
    }

    /** One unary call, naming this client's node when it has one. */
    private <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req message) {
      return grpc.request(where.address(), method).compose(req -> {
        if (node != null) {
          req.headers().set("jipam-node", node);
        }
        return req.send(message).compose(resp -> resp.last().transform(last ->
            resp.status() == io.vertx.grpc.common.GrpcStatus.OK && last.succeeded() ? Future.succeededFuture(last.result())
                : Future.failedFuture("status " + resp.status() + " " + resp.statusMessage())));
      });
    }

    void next() {
      long t0 = System.nanoTime();
      if (t0 >= run.end) {
        run.samples[id] = mine;
        run.counts[id] = n;
        run.done.countDown();
        return;
      }
      Attachment att = Attachment.newBuilder().setContainerId("b" + run.tag + "-" + id + "-" + seq++)
          .setIfname("eth0").build();
      call(IpamGrpcClient.Allocate, AllocateRequest.newBuilder().setPool(pool).setAttachment(att).build()).onComplete(a -> {
        if (a.failed() || a.result().getOutcomeCase() != AllocateResponse.OutcomeCase.ALLOCATED) {
          failed(a.failed() ? a.cause().toString() : a.result().getOutcomeCase().toString());
          return;
        }
        call(IpamGrpcClient.Release, ReleaseRequest.newBuilder().setPool(pool).setAttachment(att).build()).onComplete(r -> {
          if (r.failed()) {
            failed(r.cause().toString());
            return;
          }
          if (t0 >= run.measureFrom) {
            if (n == mine.length) {
              mine = Arrays.copyOf(mine, n * 2);
            }
            mine[n++] = System.nanoTime() - t0;
          }
          next();
        });
      });
    }

    private void failed(String why) {
      if (run.failures.incrementAndGet() <= 5) {
        System.err.println("client " + id + ": " + why);
      }
      next();
    }
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** utime + stime of a process, from /proc/PID/stat (fields 14 and 15, after the command). */
  static long procCpuNanos(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NANOS;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU of the process's JIT compiler threads ({@code C1/C2 CompilerThread*}), from
   * /proc/PID/task/TID/stat; a compiler thread that exits takes its share with it (so the JIT
   * share is, if anything, under-counted).
   */
  public static long jitCpuNanos(long pid) {
    long sum = 0;
    try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        try {
          String stat = Files.readString(t.resolve("stat"));
          String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          if (comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler")) {
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            sum += (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NANOS;
          }
        } catch (IOException | RuntimeException gone) {
          // the thread ended meanwhile
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return sum;
  }
}
