package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.cni.JsonReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many plugin processes on one data dir: 32 workers, each running real {@code jipam} processes
 * (ADD, then DEL) in a loop, all at once. An address is claimed in the test's map between the
 * ADD's answer and the start of its DEL; a second claim while held is a duplicate. At the end no
 * address file may remain: a leftover is a leak.
 */
class ConcurrentProcessesIT {
  private static final int WORKERS = 32;
  private static final int ROUNDS = 3;

  @TempDir Path dataDir;

  @Test
  void addDel_32ConcurrentProcesses_noDuplicateNoLeak() throws Exception {
    String conf = ("{'cniVersion':'1.0.0','name':'conf-net','ipam':{'type':'jipam','dataDir':'"
        + dataDir + "','ranges':[[{'subnet':'198.18.20.0/26'}],[{'subnet':'fd00:18:20::/120'}]]}}")
        .replace('\'', '"');
    ConcurrentHashMap<String, String> holders = new ConcurrentHashMap<>();
    List<String> violations = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger adds = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(WORKERS);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> futures = new ArrayList<>();
    for (int w = 0; w < WORKERS; w++) {
      int worker = w;
      futures.add(pool.submit(() -> {
        start.await();
        for (int round = 0; round < ROUNDS; round++) {
          String id = "w" + worker + "r" + round;
          CniExec.Result add = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", id, "eth0", "/var/run/netns/" + id), conf);
          if (add.exit() != 0) {
            violations.add(id + " ADD failed: " + add);
            continue;
          }
          adds.incrementAndGet();
          List<String> addresses = addresses(add.stdout());
          for (String a : addresses) {
            String before = holders.putIfAbsent(a, id);
            if (before != null) {
              violations.add(a + " handed to " + id + " while held by " + before);
            }
          }
          for (String a : addresses) {
            holders.remove(a, id);
          }
          CniExec.Result del = CniExec.run(CniExec.JIPAM, CniExec.env("DEL", id, "eth0", null), conf);
          if (del.exit() != 0) {
            violations.add(id + " DEL failed: " + del);
          }
        }
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : futures) {
      f.get();
    }
    pool.shutdown();
    assertEquals(List.of(), violations);
    assertEquals(WORKERS * ROUNDS, adds.get());
    assertEquals(List.of(), HostLocalConformanceIT.addressFiles(dataDir), "leaked allocations");
    assertTrue(holders.isEmpty());
  }

  @SuppressWarnings("unchecked")
  private static List<String> addresses(String stdout) {
    Map<String, Object> result = (Map<String, Object>) JsonReader.parse(stdout.getBytes());
    List<String> out = new ArrayList<>();
    for (Map<String, Object> ip : (List<Map<String, Object>>) result.get("ips")) {
      out.add((String) ip.get("address"));
    }
    return out;
  }
}
