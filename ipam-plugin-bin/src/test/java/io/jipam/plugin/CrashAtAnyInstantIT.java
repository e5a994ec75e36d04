package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Crash at any instant, file store: 16 workers churn real {@code jipam} processes (ADD, DEL,
 * repeated ADD, GC) on one data dir and about half of the processes are SIGKILLed at a random
 * instant; each kill that lands is a trial, checked at once (see {@link CrashChurn}). After the
 * churn: a GC naming the live attachments leaves exactly their address files, the store opened in
 * this process lists exactly them, and DEL of each leaves nothing.
 *
 * <p>Trials: {@code -Djipam.crash.trials} (default 80 on a fresh data dir, a quarter of that on
 * one host-local wrote first), bounded by {@code -Djipam.crash.seconds} (default 100 and 40).
 */
@Isolated // 16 plugin processes killed at random instants: alone, not beside another IT class
class CrashAtAnyInstantIT {
  private static final int WORKERS = 16;
  private static final int TRIALS = Integer.getInteger("jipam.crash.trials", 80);
  private static final int SECONDS = Integer.getInteger("jipam.crash.seconds", 100);

  @TempDir Path tmp;

  @Test
  void churn_freshDataDir_killedCallsLeaveNoDuplicateNoLeak() throws Exception {
    CrashChurn churn = new CrashChurn(tmp.resolve("data"), "crash-net",
        "\"ranges\":[[{\"subnet\":\"198.18.40.0/25\"}],[{\"subnet\":\"fd00:18:40::/121\"}]]", WORKERS, TRIALS, SECONDS);
    run(churn, "fresh data dir");
  }

  @Test
  void churn_dataDirHostLocalWroteFirst_killedCallsLeaveNoDuplicateNoLeak() throws Exception {
    assumeTrue(Files.isExecutable(CniExec.HOST_LOCAL) || CniExec.underCi(), CniExec.HOST_LOCAL + " is missing");
    CrashChurn churn = new CrashChurn(tmp.resolve("data"), "crash-hl",
        "\"ranges\":[[{\"subnet\":\"198.18.41.0/25\"}],[{\"subnet\":\"fd00:18:41::/121\"}]]", WORKERS,
        Math.max(1, TRIALS / 4), Math.max(10, SECONDS * 2 / 5));
    // host-local allocates slot 0 of every worker and a few attachments no one will claim (GC's garbage)
    String hostLocalConf = churn.conf("").replace("\"type\":\"jipam\"", "\"type\":\"host-local\"")
        .replace("\"1.1.0\"", "\"1.0.0\"");
    List<String> hostLocalIds = new ArrayList<>();
    for (int w = 0; w < WORKERS; w++) {
      hostLocalIds.add(CrashChurn.id(w, 0));
    }
    for (int i = 0; i < 4; i++) {
      hostLocalIds.add("orphan-" + i);
    }
    for (String id : hostLocalIds) {
      CniExec.Result r = CniExec.run(CniExec.HOST_LOCAL, CniExec.env("ADD", id, CrashChurn.IFNAME, "/var/run/netns/x"),
          hostLocalConf);
      assertEquals(0, r.exit(), r.toString());
      List<String> got = CrashChurn.addresses(r.stdout());
      if (id.startsWith("w")) {
        churn.held[Integer.parseInt(id.substring(1, 3))][0] = got;
        for (String a : got) {
          churn.claims.put(a, id);
        }
      }
    }
    run(churn, "data dir host-local wrote first");
  }

  private void run(CrashChurn churn, String label) throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM), CniExec.JIPAM + " is missing: build with ./mvnw package");
    Path scratch = Files.createDirectories(tmp.resolve("scratch"));
    long start = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(churn.workers);
    List<Future<?>> futures = new ArrayList<>();
    for (int w = 0; w < churn.workers; w++) {
      int worker = w;
      futures.add(pool.submit(() -> churn.work(worker, scratch)));
    }
    for (Future<?> f : futures) {
      f.get();
    }
    pool.shutdown();
    long millis = (System.nanoTime() - start) / 1_000_000;
    System.out.println("CrashAtAnyInstantIT " + churn.figures(label, millis));
    assertEquals(List.of(), churn.violations, label);

    // the live attachments, as the test knows them from acknowledged calls
    Map<String, String> live = new TreeMap<>();
    for (int w = 0; w < churn.workers; w++) {
      for (int s = 0; s < CrashChurn.SLOTS; s++) {
        if (churn.held[w][s] != null) {
          for (String a : churn.held[w][s]) {
            live.put(a, CrashChurn.id(w, s));
          }
        }
      }
    }
    Set<String> liveIds = new TreeSet<>(live.values());
    CniExec.Result gc = CniExec.run(CniExec.JIPAM, CniExec.env("GC", null, null, null), churn.gcConf(liveIds));
    assertEquals(0, gc.exit(), gc.toString());
    Map<String, String> files = new TreeMap<>();
    churn.addressFiles().forEach((address, content) ->
        files.put(address, new String(content, StandardCharsets.UTF_8).replace("\r\n" + CrashChurn.IFNAME, "")));
    assertEquals(live, files, "address files after GC with the live attachments");

    Pool pool0 = NetworkConfig.from(JsonReader.parse(churn.conf("").getBytes(StandardCharsets.UTF_8))).ipam().pool();
    Map<String, String> listed = new TreeMap<>();
    try (IpamStore store = HostLocalStores.open(churn.dataDir)) {
      for (Allocation a : store.list(pool0)) {
        listed.put(a.address().toString(), a.attachment().containerId());
      }
    }
    assertEquals(live, listed, "what the store lists after the churn");

    for (String id : liveIds) {
      CniExec.Result del = CniExec.run(CniExec.JIPAM, CniExec.env("DEL", id, CrashChurn.IFNAME, null), churn.conf(""));
      assertEquals(0, del.exit(), del.toString());
    }
    assertEquals(Map.of(), churn.addressFiles(), "address files after DEL of every live attachment");
    try (Stream<Path> left = Files.list(churn.dataDir.resolve(churn.network))) {
      assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".jipam-")).toList(),
          "temp files a crash left");
    }
    assertTrue(churn.trials.get() >= Math.max(1, churn.targetTrials / 4),
        "too few kills landed for the test to mean anything: " + churn.trials.get());
  }
}
