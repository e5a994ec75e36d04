package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.tools.attach.VirtualMachine;
import io.jipam.api.GrpcErrors;
import io.jipam.api.WireMapping;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.PodRef;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.server.cni.CniEndpoint;
import io.jipam.testkit.JipamdProcess;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Resource bounds, jipamd flood. jipamd (a child process, file store with fsync, 2 workers and a
 * queue of 8) gets, for a few seconds, far more concurrent calls than workers and queue hold: 800
 * gRPC calls in flight at all times (8 connections of 100 streams; allocate, and release of what
 * was allocated) and 100 plugin CNI calls on its socket (ADD, and DEL of what was added).
 *
 * <ul>
 *   <li>Every call is answered: a result, or (the excess) RESOURCE_EXHAUSTED with jipam code
 *       TRY_AGAIN_LATER on gRPC and CNI error 11 on the CNI endpoint; nothing else. Both kinds of
 *       excess occur, and jipamd counts them as {@code busy} in its metrics.
 *   <li>A call answered busy changed nothing: after the flood jipamd lists exactly what the flood
 *       was acknowledged and did not release.
 *   <li>jipamd keeps serving: a normal client (its own connection, retrying "try again") succeeds
 *       during the flood, and at its first attempt after it.
 *   <li>Oversized messages are refused: gRPC requests past the 4 MiB limit (no OK answer), CNI
 *       bodies past 1 MiB (CNI error 6); serving goes on.
 *   <li>Memory stays bounded: jipamd's heap in use after a full GC (read over JMX, attached to the
 *       process) grows by less than {@link #HEAP_GROWTH_BOUND} from before the flood to after, and
 *       its RSS (sampled from /proc during the flood) stays under {@link #RSS_BOUND}.
 * </ul>
 *
 * <p>Sizes from system properties: {@code jipam.jipamd.flood.seconds} (4), {@code .workers} (2),
 * {@code .queue} (8), {@code .connections} (8), {@code .streams} (100 per connection), {@code
 * .cniCalls} (100 at once).
 */
@Isolated // floods jipamd on purpose: alone, not beside another IT class
class JipamdFloodIT {
  static final int SECONDS = Integer.getInteger("jipam.jipamd.flood.seconds", 4);
  static final int WORKERS = Integer.getInteger("jipam.jipamd.flood.workers", 2);
  static final int QUEUE = Integer.getInteger("jipam.jipamd.flood.queue", 8);
  static final int CONNECTIONS = Integer.getInteger("jipam.jipamd.flood.connections", 8);
  static final int STREAMS = Integer.getInteger("jipam.jipamd.flood.streams", 100);
  static final int CNI_CALLS = Integer.getInteger("jipam.jipamd.flood.cniCalls", 100);
  static final long HEAP_GROWTH_BOUND = 16L << 20;
  static final long RSS_BOUND = 400L << 20;
  static final String MAX_HEAP = "-Xmx128m";

  static final Pool POOL = TestPools.pool("flood", AllocationOrder.ROUND_ROBIN, "198.18.96.0/20", "fd00:18:96::/116");
  static final String CNI_CONFIG = "{\"cniVersion\":\"1.0.0\",\"name\":\"floodcni\",\"type\":\"bridge\","
      + "\"ipam\":{\"type\":\"jipam\",\"ranges\":[[{\"subnet\":\"198.18.112.0/20\"}],[{\"subnet\":\"fd00:18:112::/116\"}]]}}";

  @TempDir Path dir;

  /** How a flood call was answered. */
  enum Kind { OK, BUSY, OTHER }

  final AtomicLong grpcOk = new AtomicLong();
  final AtomicLong grpcBusy = new AtomicLong();
  final AtomicLong cniOk = new AtomicLong();
  final AtomicLong cniBusy = new AtomicLong();
  final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
  /** Attachments the flood was acknowledged and has not had released. */
  final Set<Attachment> held = ConcurrentHashMap.newKeySet();
  final Set<String> cniHeld = ConcurrentHashMap.newKeySet();
  final AtomicLong ids = new AtomicLong();
  /** Busy answers to the normal client (each of its retries of "try again later"). */
  final AtomicLong normalBusy = new AtomicLong();

  @Test
  void flood_pastWorkersAndQueue_excessTryAgainServingGoesOnMemoryBounded() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    List<String> jvm = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", MAX_HEAP);
    String classPath = System.getProperty("java.class.path");
    try (JipamdProcess jipamd = ServerJipamd.start(dir, jvm, classPath, List.of("--socket", socket.toString(),
        "--store", "file", "--fsync", "--data-dir", dir.resolve("data").toString(), "--workers",
        Integer.toString(WORKERS), "--queue", Integer.toString(QUEUE), "--metrics", "127.0.0.1:0"));
         RemoteStore normal = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket)
             .withTimeout(Duration.ofSeconds(10)));
         Jmx jmx = Jmx.attach(jipamd.pid())) {
      Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
      try {
        SocketAddress where = SocketAddress.domainSocketAddress(socket.toString());
        // warm up: every path the flood takes, so that classes and caches are there before "before"
        for (int i = 0; i < 20; i++) {
          Attachment a = new Attachment("warm-" + i, "eth0");
          normal.allocate(POOL, AllocationRequest.of(a));
          normal.release(POOL, a);
        }
        HttpClient cni = vertx.httpClientBuilder().with(new HttpClientOptions())
            .with(new PoolOptions().setHttp1MaxSize(CNI_CALLS)).build();
        for (int i = 0; i < 5; i++) {
          cniAdd(cni, where, "warm-" + i).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        oversized(vertx, where, cni, 2);
        long heapBefore = jmx.heapAfterGc();
        long rssBefore = rss(jipamd.pid());

        List<GrpcClient> grpc = new ArrayList<>();
        for (int i = 0; i < CONNECTIONS; i++) {
          grpc.add(GrpcClient.client(vertx, new GrpcClientOptions().setScheduleDeadlineAutomatically(true),
              new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false)));
        }
        AtomicBoolean flooding = new AtomicBoolean(true);
        AtomicLong rssPeak = new AtomicLong(rssBefore);
        Thread sampler = new Thread(() -> {
          while (flooding.get()) {
            try {
              rssPeak.accumulateAndGet(rss(jipamd.pid()), Math::max);
              Thread.sleep(50);
            } catch (IOException | InterruptedException e) {
              return;
            }
          }
        }, "rss-sampler");
        sampler.setDaemon(true);
        sampler.start();
        long start = System.nanoTime();
        List<Future<Void>> lanes = new ArrayList<>();
        for (int c = 0; c < CONNECTIONS; c++) {
          for (int s = 0; s < STREAMS; s++) {
            lanes.add(grpcLane(grpc.get(c), where, flooding));
          }
        }
        for (int i = 0; i < CNI_CALLS; i++) {
          lanes.add(cniLane(cni, where, flooding));
        }
        // during: a normal client gets through, retrying "try again later" as told
        Thread.sleep(Math.min(1000, SECONDS * 250L));
        long duringStart = System.nanoTime();
        long busyBefore = grpcBusy.get() + cniBusy.get();
        int duringAttempts = normalCall(normal, "during", Duration.ofSeconds(30)); // the flood lasts as long
        long duringMillis = (System.nanoTime() - duringStart) / 1_000_000;
        long busyDuring = grpcBusy.get() + cniBusy.get() - busyBefore;
        long floodEnd = start + TimeUnit.SECONDS.toNanos(SECONDS);
        long left = floodEnd - System.nanoTime();
        if (left > 0) {
          TimeUnit.NANOSECONDS.sleep(left);
        }
        flooding.set(false);
        Future.all(lanes).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        long floodMillis = (System.nanoTime() - start) / 1_000_000;
        sampler.join();
        int afterAttempts = normalCall(normal, "after", Duration.ofSeconds(10));
        assertEquals(1, afterAttempts, "after the flood the first attempt succeeds");
        int oversized = oversized(vertx, where, cni, 10);
        assertEquals(1, normalCall(normal, "after oversized messages", Duration.ofSeconds(10)));

        // nothing answered busy was applied: jipamd holds exactly what the flood was acknowledged
        List<Attachment> listed = normal.list(POOL).stream().map(a -> a.attachment()).distinct().sorted(
            java.util.Comparator.comparing(Attachment::containerId)).toList();
        assertEquals(held.stream().sorted(java.util.Comparator.comparing(Attachment::containerId)).toList(), listed,
            "what jipamd holds against what the flood was acknowledged");
        Pool cniPool = NetworkConfig.from(JsonReader.parse(CNI_CONFIG.getBytes(StandardCharsets.UTF_8))).ipam().pool();
        assertEquals(new java.util.TreeSet<>(cniHeld), normal.list(cniPool).stream().map(a -> a.attachment().containerId())
            .filter(id -> id.startsWith("cni-")).collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new)),
            "what jipamd holds for the CNI flood against what it was acknowledged");
        for (Attachment a : held) {
          normal.release(POOL, a);
        }
        for (String id : cniHeld) {
          cniDel(cni, where, id).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        long heapAfter = jmx.heapAfterGc();
        long rssAfter = rss(jipamd.pid());
        String busyMetric = metric(jipamd, "outcome=\"busy\"");
        long busyCounted = busyMetric.lines()
            .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        System.out.println("JipamdFloodIT " + floodMillis + " ms of flood, workers " + WORKERS + " queue " + QUEUE
            + ", in flight " + CONNECTIONS * STREAMS + " gRPC + " + CNI_CALLS + " CNI; gRPC ok " + grpcOk
            + " busy " + grpcBusy + ", CNI ok " + cniOk + " busy (code 11) " + cniBusy + "; normal call during the flood: "
            + duringAttempts + " attempts, " + duringMillis + " ms, while the flood got " + busyDuring
            + " busy answers; after: first attempt; oversized refused "
            + oversized + "; heap after GC " + mib(heapBefore) + " -> " + mib(heapAfter) + " MiB (" + MAX_HEAP
            + "), RSS " + mib(rssBefore) + " -> peak " + mib(rssPeak.get()) + " -> " + mib(rssAfter)
            + " MiB; jipamd counted busy " + busyCounted + "; violations " + violations.size());
        assertEquals(List.of(), violations);
        assertTrue(busyDuring > 0, "the flood was not past the queue while the normal call ran");
        assertTrue(grpcBusy.get() > 0, "no gRPC call was answered busy: the flood did not pass the queue");
        assertTrue(cniBusy.get() > 0, "no CNI call was answered 11: the flood did not pass the queue");
        assertTrue(grpcOk.get() > 0 && cniOk.get() > 0, "jipamd served nothing of the flood");
        assertTrue(busyMetric.contains("method=\"Allocate\"") && busyMetric.contains("method=\"cni\""), busyMetric);
        assertEquals(grpcBusy.get() + cniBusy.get() + normalBusy.get(), busyCounted,
            "calls jipamd counted busy against busy answers seen\n" + busyMetric);
        assertTrue(heapAfter - heapBefore < HEAP_GROWTH_BOUND, "heap after GC grew from " + heapBefore + " to " + heapAfter);
        assertTrue(rssPeak.get() < RSS_BOUND, "RSS peaked at " + rssPeak.get());
        assertEquals(List.of(), normal.list(POOL), "after releasing everything");
        grpc.forEach(GrpcClient::close);
        cni.close();
      } finally {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      int exit = jipamd.stop();
      assertTrue(exit == 0 || exit == 143, "exit " + exit + ":\n" + jipamd.output());
    }
  }

  /** Allocate, then release what was allocated, again and again while flooding; completes when done. */
  private Future<Void> grpcLane(GrpcClient client, SocketAddress where, AtomicBoolean flooding) {
    Promise<Void> done = Promise.promise();
    nextGrpc(client, where, flooding, done);
    return done.future();
  }

  private void nextGrpc(GrpcClient client, SocketAddress where, AtomicBoolean flooding, Promise<Void> done) {
    if (!flooding.get()) {
      done.complete();
      return;
    }
    Attachment a = new Attachment("f-" + ids.incrementAndGet(), "eth0");
    AllocateRequest request = AllocateRequest.newBuilder().setPool(WireMapping.pool(POOL))
        .setAttachment(WireMapping.attachment(a)).build();
    call(client, where, IpamGrpcClient.Allocate, request).compose(answer -> {
      if (answer.kind() == Kind.OK) {
        AllocateResponse r = (AllocateResponse) answer.message();
        if (!(WireMapping.outcome(r) instanceof AllocationOutcome.Allocated)) {
          violations.add("flood allocate of " + a + ": " + WireMapping.outcome(r));
          return Future.succeededFuture();
        }
        held.add(a);
        ReleaseRequest release = ReleaseRequest.newBuilder().setPool(WireMapping.pool(POOL))
            .setAttachment(WireMapping.attachment(a)).build();
        return call(client, where, IpamGrpcClient.Release, release).map(r2 -> {
          if (r2.kind() == Kind.OK) {
            held.remove(a);
          }
          return null;
        });
      }
      return Future.succeededFuture();
    }).onComplete(ar -> {
      if (ar.failed()) {
        violations.add("flood call failed in the test: " + ar.cause());
      }
      nextGrpc(client, where, flooding, done);
    });
  }

  record Answer(Kind kind, Object message) {}

  /** One unary call: OK with its message, BUSY (RESOURCE_EXHAUSTED with TRY_AGAIN_LATER), or a violation. */
  private <Req, Resp> Future<Answer> call(GrpcClient client, SocketAddress where, ServiceMethod<Resp, Req> method,
      Req request) {
    return client.request(where, method).compose(req -> {
      req.timeout(20, TimeUnit.SECONDS);
      return req.send(request);
    }).compose(resp -> resp.last().transform(last -> {
      if (resp.status() == GrpcStatus.OK && last.succeeded()) {
        grpcOk.incrementAndGet();
        return Future.succeededFuture(new Answer(Kind.OK, last.result()));
      }
      MultiMap metadata = resp.trailers() != null && resp.trailers().contains(GrpcErrors.DETAILS_TRAILER)
          ? resp.trailers() : resp.headers();
      if (resp.status() == GrpcStatus.RESOURCE_EXHAUSTED) {
        IpamException e = GrpcErrors.exception(resp.status(), resp.statusMessage(), metadata, method.methodName());
        if (e.code() == ErrorCode.TRY_AGAIN_LATER && e.code().cniCode() == 11) {
          grpcBusy.incrementAndGet();
          return Future.succeededFuture(new Answer(Kind.BUSY, null));
        }
        violations.add(method.methodName() + ": RESOURCE_EXHAUSTED with code " + e.code());
      } else {
        violations.add(method.methodName() + ": status " + resp.status() + " " + resp.statusMessage() + " " + last.cause());
      }
      return Future.succeededFuture(new Answer(Kind.OTHER, null));
    }), e -> {
      violations.add(method.methodName() + ": no answer: " + e);
      return Future.succeededFuture(new Answer(Kind.OTHER, null));
    });
  }

  /** CNI ADD, then DEL of what was added, again and again while flooding. */
  private Future<Void> cniLane(HttpClient cni, SocketAddress where, AtomicBoolean flooding) {
    Promise<Void> done = Promise.promise();
    nextCni(cni, where, flooding, done);
    return done.future();
  }

  private void nextCni(HttpClient cni, SocketAddress where, AtomicBoolean flooding, Promise<Void> done) {
    if (!flooding.get()) {
      done.complete();
      return;
    }
    String id = "cni-" + ids.incrementAndGet();
    cniAdd(cni, where, id).compose(added -> {
      if (added.kind() != Kind.OK) {
        return Future.succeededFuture();
      }
      cniHeld.add(id);
      return cniDel(cni, where, id).map(deleted -> {
        if (deleted.kind() == Kind.OK) {
          cniHeld.remove(id);
        }
        return null;
      });
    }).onComplete(ar -> {
      if (ar.failed()) {
        violations.add("CNI call failed: " + ar.cause());
      }
      nextCni(cni, where, flooding, done);
    });
  }

  private Future<Answer> cniAdd(HttpClient cni, SocketAddress where, String id) {
    return cniCall(cni, where, "CNI_COMMAND=ADD\nCNI_CONTAINERID=" + id + "\nCNI_NETNS=/run/netns/x\nCNI_IFNAME=eth0\n"
        + "CNI_PATH=/opt/cni/bin\n\n" + CNI_CONFIG, "ADD " + id);
  }

  private Future<Answer> cniDel(HttpClient cni, SocketAddress where, String id) {
    return cniCall(cni, where, "CNI_COMMAND=DEL\nCNI_CONTAINERID=" + id + "\nCNI_IFNAME=eth0\nCNI_PATH=/opt/cni/bin\n\n"
        + CNI_CONFIG, "DEL " + id);
  }

  /** The plugin's call: exit 0 is OK, exit 1 with CNI code 11 is BUSY, anything else a violation. */
  private Future<Answer> cniCall(HttpClient cni, SocketAddress where, String body, String what) {
    return cni.request(new RequestOptions().setServer(where).setMethod(HttpMethod.POST).setURI(CniEndpoint.PATH)
            .setHost("jipamd").setTimeout(20_000))
        .compose(req -> req.send(Buffer.buffer(body)).compose(resp -> resp.body().map(b -> {
          String exit = resp.getHeader("Jipam-Exit");
          if ("0".equals(exit)) {
            cniOk.incrementAndGet();
            return new Answer(Kind.OK, b.toString());
          }
          Object code = "1".equals(exit) && b.length() > 0 ? new JsonObject(b).getValue("code") : null;
          if (Integer.valueOf(11).equals(code)) {
            cniBusy.incrementAndGet();
            return new Answer(Kind.BUSY, null);
          }
          violations.add("CNI " + what + ": exit " + exit + " " + b);
          return new Answer(Kind.OTHER, null);
        })))
        .recover(e -> {
          violations.add("CNI " + what + ": no answer: " + e);
          return Future.succeededFuture(new Answer(Kind.OTHER, null));
        });
  }

  /** A normal client's allocate and release, retrying TRY_AGAIN_LATER within the bound; returns the attempts. */
  private int normalCall(RemoteStore normal, String label, Duration bound) throws InterruptedException {
    long end = System.nanoTime() + bound.toNanos();
    Attachment a = new Attachment("normal-" + label.replace(' ', '-'), "eth0");
    for (int attempt = 1; ; attempt++) {
      try {
        assertInstanceOf(AllocationOutcome.Allocated.class, normal.allocate(POOL, AllocationRequest.of(a)), label);
        normal.release(POOL, a);
        return attempt;
      } catch (IpamException e) {
        if (e.code() != ErrorCode.TRY_AGAIN_LATER || System.nanoTime() > end) {
          throw new AssertionError("normal call " + label + ", attempt " + attempt + ": " + e.getMessage(), e);
        }
        if (e.getMessage().contains("is busy")) {
          normalBusy.incrementAndGet();
        }
        Thread.sleep(20);
      }
    }
  }

  /**
   * {@code times} gRPC Allocate requests past 4 MiB (a 5 MiB pod name) and CNI bodies past 1 MiB:
   * each refused. Returns how many were sent.
   */
  private int oversized(Vertx vertx, SocketAddress where, HttpClient cni, int times) throws Exception {
    GrpcClient client = GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(64L << 20),
        new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
    String big = "x".repeat(5 << 20);
    AllocateRequest huge = AllocateRequest.newBuilder().setPool(WireMapping.pool(POOL))
        .setAttachment(WireMapping.attachment(new Attachment("huge", "eth0")))
        .setPod(PodRef.newBuilder().setNamespace("ns").setName(big)).build();
    for (int i = 0; i < times; i++) {
      String outcome = client.request(where, IpamGrpcClient.Allocate).compose(req -> {
        req.timeout(20, TimeUnit.SECONDS);
        return req.send(huge);
      }).compose(resp -> resp.last().transform(ar -> Future.succeededFuture(String.valueOf(resp.status()))))
          .recover(e -> Future.succeededFuture("reset: " + e))
          .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      if (outcome.equals("OK")) {
        violations.add("a gRPC request of " + huge.getSerializedSize() + " bytes was served");
      }
      String body = "CNI_COMMAND=ADD\nCNI_CONTAINERID=huge\nCNI_NETNS=/x\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n"
          + CNI_CONFIG.replace("\"type\":\"bridge\"", "\"type\":\"bridge\",\"pad\":\"" + big + "\"");
      String reply = cni.request(new RequestOptions().setServer(where).setMethod(HttpMethod.POST)
              .setURI(CniEndpoint.PATH).setHost("jipamd").setTimeout(20_000))
          .compose(req -> req.send(Buffer.buffer(body)).compose(resp -> resp.body().map(b ->
              resp.getHeader("Jipam-Exit") + " " + b)))
          .recover(e -> Future.succeededFuture("reset: " + e))
          .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      if (!reply.startsWith("1 ") || !Integer.valueOf(6).equals(new JsonObject(reply.substring(2)).getValue("code"))) {
        violations.add("a CNI body of " + body.length() + " bytes: " + abbreviate(reply));
      }
    }
    client.close();
    return times * 2;
  }

  private static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  /** The lines of jipamd's /metrics holding {@code needle}, joined. */
  private static String metric(JipamdProcess jipamd, String needle) throws Exception {
    String log = jipamd.output();
    int at = log.indexOf("metrics on http://");
    String url = log.substring(at + "metrics on ".length(), log.indexOf('\n', at)).trim();
    var http = java.net.http.HttpClient.newHttpClient();
    String text = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    return String.join("\n", text.lines().filter(l -> l.startsWith("jipamd_calls_total") && l.contains(needle)).toList());
  }

  private static long rss(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IOException("no VmRSS in /proc/" + pid + "/status");
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }

  /** The child JVM's memory over JMX (attach API, local management agent). */
  static final class Jmx implements AutoCloseable {
    private final VirtualMachine vm;
    private final JMXConnector connector;
    private final MemoryMXBean memory;

    private Jmx(VirtualMachine vm, JMXConnector connector, MemoryMXBean memory) {
      this.vm = vm;
      this.connector = connector;
      this.memory = memory;
    }

    static Jmx attach(long pid) throws Exception {
      VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
      String url = vm.startLocalManagementAgent();
      JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(url));
      MemoryMXBean memory = ManagementFactory.newPlatformMXBeanProxy(connector.getMBeanServerConnection(),
          ManagementFactory.MEMORY_MXBEAN_NAME, MemoryMXBean.class);
      return new Jmx(vm, connector, memory);
    }

    /** Heap in use after a full collection. */
    long heapAfterGc() {
      memory.gc();
      return memory.getHeapMemoryUsage().getUsed();
    }

    /** Quietly: the process may be gone. */
    @Override
    public void close() {
      try {
        connector.close();
      } catch (IOException e) {
        // jipamd stopped first
      }
      try {
        vm.detach();
      } catch (IOException e) {
        // same
      }
    }
  }
}
