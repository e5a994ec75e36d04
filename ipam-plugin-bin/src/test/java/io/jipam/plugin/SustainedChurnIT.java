package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.IpamException;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Issue 11's sustained many-process churn, each for a bounded time and then audited by an
 * independent process: the built {@code jipamctl check} through the built {@code jipamd} opened on
 * the same store (the pool is made known to jipamd by one plugin call in daemon mode).
 *
 * <ul>
 *   <li>file store: {@code processes} workers (64) each running real {@code dist/bin/jipam}
 *       processes, ADD then DEL of its oldest beyond one, on one data dir, for {@code seconds}
 *       (10); every acknowledged address is claimed in a model until its DEL starts (a second claim
 *       is a duplicate);
 *   <li>etcd store: {@code nodes} simulated nodes (16; one {@link EtcdStore} each with its own node
 *       name, 2 callers each) on a real etcd started here, for {@code etcdSeconds} (6), claims the
 *       same way.
 * </ul>
 *
 * <p>Then: {@code jipamctl check} is clean and counts exactly the allocations the model holds, the
 * addresses {@code jipamctl list} shows are exactly the model's (zero duplicates, zero leaks);
 * after the DEL of every live attachment the store is empty (file store: no address file left)
 * and {@code jipamctl check} counts zero. System properties {@code jipam.churn.processes}, {@code
 * .seconds}, {@code .nodes}, {@code .etcdSeconds} make longer runs.
 */
@Timeout(600)
@Isolated // 64 plugin processes churn at once: alone, not beside another IT class
class SustainedChurnIT {
  private static final int PROCESSES = Integer.getInteger("jipam.churn.processes", 64);
  private static final int SECONDS = Integer.getInteger("jipam.churn.seconds", 10);
  private static final int NODES = Integer.getInteger("jipam.churn.nodes", 16);
  private static final int ETCD_SECONDS = Integer.getInteger("jipam.churn.etcdSeconds", 6);
  private static final Path JIPAMCTL = CniExec.DIST.resolve("bin/jipamctl");

  @TempDir Path dir;

  private final ConcurrentHashMap<String, String> claims = new ConcurrentHashMap<>();
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  /** The attachments of the etcd churn's ADDs that failed. */
  private final ConcurrentLinkedQueue<String> tryAgainIds = new ConcurrentLinkedQueue<>();

  @Test
  void pluginProcesses_64OnOneDataDir_jipamctlCheckFindsNoDuplicateNoLeak() throws Exception {
    Path data = dir.resolve("data");
    String conf = ("{'cniVersion':'1.0.0','name':'churn-net','ipam':{'type':'jipam','dataDir':'" + data
        + "','ranges':[[{'subnet':'198.18.24.0/24'}],[{'subnet':'fd00:18:24::/120'}]]}}").replace('\'', '"');
    AtomicLong calls = new AtomicLong();
    long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
    long started = System.nanoTime();
    List<ArrayDeque<Held>> live = run(PROCESSES, worker -> {
      ArrayDeque<Held> mine = new ArrayDeque<>();
      for (int seq = 0; System.nanoTime() < stopAt; seq++) {
        String id = "w" + worker + "s" + seq;
        CniExec.Result add = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", id, "eth0", "/run/netns/" + id), conf);
        calls.incrementAndGet();
        if (add.exit() != 0) {
          violations.add(id + " ADD failed: " + add);
          continue;
        }
        mine.add(claim(id, addresses(add.stdout())));
        while (mine.size() > 1) {
          Held oldest = unclaim(mine.poll());
          CniExec.Result del = CniExec.run(CniExec.JIPAM, CniExec.env("DEL", oldest.id, "eth0", null), conf);
          calls.incrementAndGet();
          if (del.exit() != 0) {
            violations.add(oldest.id + " DEL failed: " + del);
          }
        }
      }
      return mine;
    });
    long churnMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    Set<String> expected = expected(live);
    assertEquals(List.of(), violations);

    Path socket = dir.resolve("jipamd.sock");
    JipamdProcess jipamd = CniExec.jipamd(dir, Map.of(), "--socket", socket.toString(), "--store", "file",
        "--data-dir", data.toString());
    try {
      String daemonConf = conf.replace("\"dataDir\"", "\"daemon\":{\"socket\":\"" + socket + "\",\"timeoutSeconds\":30},\"dataDir\"");
      audit(socket, daemonConf, "churn-net", expected);
      run(PROCESSES, worker -> {
        for (Held h : live.get(worker)) {
          CniExec.Result del = CniExec.run(CniExec.JIPAM, CniExec.env("DEL", h.id, "eth0", null), conf);
          assertEquals(0, del.exit(), del::toString);
        }
        return new ArrayDeque<>();
      });
      assertEquals(List.of(), files(data.resolve("churn-net")), "left in the data dir after every DEL");
      audit(socket, daemonConf, "churn-net", Set.of());
    } finally {
      jipamd.close();
    }
    System.out.println("sustained churn, file store: " + PROCESSES + " concurrent plugin processes, " + churnMillis
        + " ms, " + calls.get() + " plugin calls, " + expected.size() + " addresses held at the end, audited by jipamctl"
        + " check; violations " + violations.size());
    assertEquals(List.of(), violations);
  }

  @Test
  void etcdNodes_16Churning_jipamctlCheckFindsNoDuplicateNoLeak() throws Exception {
    String prefix = "/churn-" + UUID.randomUUID();
    List<EtcdStore> stores = new ArrayList<>();
    try (Etcd etcd = Etcd.single()) {
      String endpoint = etcd.endpoint();
      String conf = ("{'cniVersion':'1.0.0','name':'churn-etcd','ipam':{'type':'jipam',"
          + "'ranges':[[{'subnet':'198.18.32.0/20'}],[{'subnet':'fd00:18:32::/112'}]]}}").replace('\'', '"');
      Pool pool = NetworkConfig.from(JsonReader.parse(conf.getBytes())).ipam().pool();
      for (int n = 0; n < NODES; n++) {
        stores.add(EtcdStores.open(EtcdStoreConfig.of(List.of(endpoint), "node-" + n).withPrefix(prefix)));
      }
      for (EtcdStore store : stores) {
        awaitEtcd(store, pool); // warm-up: each store reads the pool (cold JVM, fresh etcd)
      }
      int callers = 2;
      AtomicLong calls = new AtomicLong();
      long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(ETCD_SECONDS);
      long started = System.nanoTime();
      AtomicLong tryAgain = new AtomicLong();
      List<ArrayDeque<Held>> live = run(NODES * callers, t -> {
        EtcdStore store = stores.get(t / callers);
        ArrayDeque<Held> mine = new ArrayDeque<>();
        // attachments whose ADD or DEL failed with 11: the runtime DELs them again, so does this
        ArrayDeque<String> due = new ArrayDeque<>();
        for (int seq = 0; System.nanoTime() < stopAt; seq++) {
          if (!due.isEmpty() && del(store, pool, due.peek(), calls, tryAgain)) {
            due.poll();
          }
          String id = "n" + (t / callers) + "c" + (t % callers) + "s" + seq;
          calls.incrementAndGet();
          AllocationOutcome out;
          try {
            out = store.allocate(pool, AllocationRequest.of(new Attachment(id, "eth0")));
          } catch (IpamException e) {
            countTryAgain(e, id, tryAgain);
            tryAgainIds.add(id);
            due.add(id);
            continue;
          }
          if (!(out instanceof AllocationOutcome.Allocated got)) {
            violations.add("ADD " + id + ": " + out);
            continue;
          }
          List<String> addresses = new ArrayList<>();
          for (Allocation x : got.allocations()) {
            addresses.add(x.address().toString());
          }
          mine.add(claim(id, addresses));
          while (mine.size() > 2) {
            Held oldest = unclaim(mine.poll());
            if (!del(store, pool, oldest.id, calls, tryAgain)) {
              due.add(oldest.id);
            }
          }
        }
        long patience = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!due.isEmpty() && System.nanoTime() < patience) {
          if (del(store, pool, due.peek(), calls, tryAgain)) {
            due.poll();
          }
        }
        if (!due.isEmpty()) {
          violations.add("DEL of " + due + " failed for a minute");
        }
        return mine;
      });
      long churnMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      Set<String> expected = expected(live);
      assertEquals(List.of(), violations);

      Path etcdConfig = dir.resolve("etcd.json");
      Files.writeString(etcdConfig, "{\"endpoints\":[\"" + endpoint + "\"],\"node\":\"auditor\",\"timeoutMillis\":20000,\"prefix\":\""
          + prefix + "\"}");
      Path socket = dir.resolve("jipamd.sock");
      JipamdProcess jipamd = CniExec.jipamd(dir, Map.of(), "--socket", socket.toString(), "--store", "etcd",
          "--etcd-config", etcdConfig.toString());
      try {
        String daemonConf = conf.replace("\"ranges\"", "\"daemon\":{\"socket\":\"" + socket + "\",\"timeoutSeconds\":30},\"ranges\"");
        audit(socket, daemonConf, "churn-etcd", expected);
        for (int t = 0; t < live.size(); t++) {
          for (Held h : live.get(t)) {
            stores.get(t / callers).release(pool, new Attachment(h.id, "eth0"));
          }
        }
        audit(socket, daemonConf, "churn-etcd", Set.of());
        assertEquals(List.of(), stores.get(0).list(pool));
      } finally {
        jipamd.close();
      }
      System.out.println("sustained churn, etcd store: " + NODES + " nodes x " + callers + " callers, " + churnMillis
          + " ms, " + calls.get() + " store calls (" + tryAgain.get() + " failed with 11 and were DELed again, "
          + tryAgainIds.size() + " of them ADDs, " + tryAgainIds.stream().filter(id -> id.endsWith("s0")).count() + " a caller's first), "
          + expected.size() + " addresses held at the end, audited by"
          + " jipamctl check; violations " + violations.size());
      assertEquals(List.of(), violations);
    } finally {
      stores.forEach(EtcdStore::close);
    }
  }

  /** A DEL through the store; true when it returned. */
  private boolean del(EtcdStore store, Pool pool, String id, AtomicLong calls, AtomicLong tryAgain) {
    calls.incrementAndGet();
    try {
      store.release(pool, new Attachment(id, "eth0"));
      return true;
    } catch (IpamException e) {
      countTryAgain(e, id, tryAgain);
      return false;
    }
  }

  /** Code 11 (etcd slow or unreachable within the store's bound) is counted; any other is a violation. */
  private void countTryAgain(IpamException e, String id, AtomicLong tryAgain) {
    if (e.code() == io.jipam.core.ErrorCode.TRY_AGAIN_LATER) {
      if (tryAgain.incrementAndGet() <= 3) {
        System.out.println("sustained churn, etcd store: " + id + " failed with 11: " + e.getMessage());
      }
    } else {
      violations.add(id + ": " + e);
    }
  }

  /** An acknowledged attachment and its addresses (CIDR-less text). */
  private record Held(String id, List<String> addresses) {}

  private Held claim(String id, List<String> addresses) {
    for (String a : addresses) {
      String before = claims.putIfAbsent(a, id);
      if (before != null) {
        violations.add(a + " acknowledged to " + id + " while held by " + before);
      }
    }
    if (addresses.size() != 2) {
      violations.add(id + " got " + addresses + ", not one address per range set");
    }
    return new Held(id, addresses);
  }

  private Held unclaim(Held h) {
    for (String a : h.addresses) {
      claims.remove(a, h.id);
    }
    return h;
  }

  private static Set<String> expected(List<ArrayDeque<Held>> live) {
    Set<String> out = new TreeSet<>();
    for (ArrayDeque<Held> mine : live) {
      for (Held h : mine) {
        for (String a : h.addresses) {
          out.add(a + " " + h.id);
        }
      }
    }
    return out;
  }

  /** A worker's loop, returning what it holds at the end. */
  private interface Worker {
    ArrayDeque<Held> run(int worker) throws Exception;
  }

  private static List<ArrayDeque<Held>> run(int workers, Worker worker) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    try {
      List<Future<ArrayDeque<Held>>> futures = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        int id = w;
        futures.add(pool.submit(() -> worker.run(id)));
      }
      List<ArrayDeque<Held>> out = new ArrayList<>();
      for (Future<ArrayDeque<Held>> f : futures) {
        out.add(f.get(SECONDS + ETCD_SECONDS + 300L, TimeUnit.SECONDS));
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * The independent audit: one plugin DEL of an attachment that never existed through jipamd (so
   * jipamd knows the pool), then {@code jipamctl check} (clean, counting {@code expected}) and
   * {@code jipamctl list} (exactly {@code expected}, "address containerId" each).
   */
  private void audit(Path socket, String daemonConf, String network, Set<String> expected) {
    // jipamd knows a pool from an ADD it served (a DEL or GC defines nothing): one through it, undone
    for (String command : List.of("ADD", "DEL")) {
      CniExec.Result probe = CniExec.run(CniExec.JIPAM, CniExec.env(command, "audit-probe", "eth0",
          command.equals("ADD") ? "/run/netns/audit-probe" : null), daemonConf);
      assertEquals(0, probe.exit(), probe::toString);
    }
    CniExec.Result check = jipamctl(socket, "--timeout", "30", "-o", "json", "check");
    assertEquals(0, check.exit(), check::toString);
    Map<?, ?> report = (Map<?, ?>) JsonReader.parse(check.stdout().getBytes());
    assertEquals(1L, report.get("pools"), check::toString);
    assertEquals((long) expected.size(), report.get("allocations"), check::toString);
    assertEquals(List.of(), report.get("findings"), check::toString);
    CniExec.Result list = jipamctl(socket, "--timeout", "30", "-o", "json", "list", "--pool", network);
    assertEquals(0, list.exit(), list::toString);
    Set<String> listed = new TreeSet<>();
    for (Object o : (List<?>) JsonReader.parse(list.stdout().getBytes())) {
      Map<?, ?> a = (Map<?, ?>) o;
      listed.add(a.get("address") + " " + a.get("containerId"));
    }
    assertEquals(expected, listed, "what jipamctl lists against what the churn holds");
  }

  private static CniExec.Result jipamctl(Path socket, String... args) {
    List<String> command = new ArrayList<>(List.of(JIPAMCTL.toString(), "-s", "unix:" + socket));
    command.addAll(List.of(args));
    try {
      Path out = Files.createTempFile("jipamctl", ".out");
      Path err = Files.createTempFile("jipamctl", ".err");
      try {
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "jipamctl did not finish in 120 s");
        return new CniExec.Result(p.exitValue(), Files.readString(out), Files.readString(err));
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Waits until the store answers (a cold JVM on a fresh etcd). */
  private static void awaitEtcd(EtcdStore store, Pool pool) {
    Await.until(() -> {
      store.find(pool, new Attachment("warm-up", "eth0"));
      return true;
    }, Duration.ofSeconds(30), "the store answering");
  }

  private static List<String> files(Path network) throws Exception {
    if (!Files.isDirectory(network)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(network)) {
      return files.map(p -> p.getFileName().toString())
          .filter(n -> !n.equals("lock") && !n.startsWith("last_reserved_ip") && !n.startsWith("."))
          .sorted().toList();
    }
  }

  @SuppressWarnings("unchecked")
  private static List<String> addresses(String stdout) {
    Map<String, Object> result = (Map<String, Object>) JsonReader.parse(stdout.getBytes());
    List<String> out = new ArrayList<>();
    for (Map<String, Object> ip : (List<Map<String, Object>>) result.get("ips")) {
      String a = (String) ip.get("address");
      out.add(a.substring(0, a.indexOf('/')));
    }
    return out;
  }
}
