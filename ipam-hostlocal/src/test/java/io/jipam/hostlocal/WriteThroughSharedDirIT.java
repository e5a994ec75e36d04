package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd's file store and plugins in direct mode on one data dir at the same time: child JVMs
 * running the plugin's one-shot path ({@link StoreChild}, {@link HostLocalStore.Mode#FAST}) churn
 * the same small pool as threads of this JVM on a {@link WriteThroughStore}. No address is ever
 * held by two attachments at once (intervals from allocate returned to release called, across
 * processes, on the shared monotonic clock), nothing leaks, and the files satisfy the store's
 * invariants afterwards.
 */
@Timeout(180)
class WriteThroughSharedDirIT {
  @TempDir Path dataDir;
  @TempDir Path logDir;
  final List<Process> children = new ArrayList<>();

  @AfterEach
  void killChildren() throws InterruptedException {
    StoreChild.killAll(children);
  }

  private Path startChild(String prefix, int rounds, long seed) throws IOException {
    Path log = logDir.resolve(prefix + ".log");
    children.add(StoreChild.launch("churn", dataDir, prefix, rounds, seed, HostLocalStore.Mode.FAST, log));
    return log;
  }

  @Test
  void churn_pluginProcessesAndWriteThroughStoreOnOneDir_noAddressHeldTwiceNoLeak() throws Exception {
    Pool pool = StoreChild.pool("churn"); // a /26: 61 addresses for 3 processes and 4 threads
    int processes = 3;
    int childRounds = 40;
    int threads = 4;
    int threadRounds = 100;
    List<Path> logs = new ArrayList<>();
    for (int i = 0; i < processes; i++) {
      logs.add(startChild("p" + i, childRounds, i));
    }
    // address -> holding intervals [allocate returned, release called], across every process
    Map<String, List<long[]>> intervals = new TreeMap<>();
    int threadPairs = 0;
    long[] threadSpan = {Long.MAX_VALUE, Long.MIN_VALUE};
    long[] childSpan = {Long.MAX_VALUE, Long.MIN_VALUE};
    try (IpamStore store = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      ExecutorService pool4 = Executors.newFixedThreadPool(threads);
      List<Future<List<String[]>>> mine = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        mine.add(pool4.submit(() -> {
          List<String[]> held = new ArrayList<>();
          // at least threadRounds, and on until every child is done, so that the two really interleave
          for (int n = 0; n < threadRounds || (n < 20_000 && children.stream().anyMatch(Process::isAlive)); n++) {
            Attachment a = new Attachment("w" + id + "-" + n, "eth0");
            AllocationOutcome o = store.allocate(pool, AllocationRequest.of(a));
            long since = System.nanoTime();
            Allocation got = assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations().get(0);
            long until = System.nanoTime();
            List<Allocation> released = store.release(pool, a);
            assertEquals(List.of(got), released, "released what it held");
            held.add(new String[] {got.address().toString(), Long.toString(since), Long.toString(until)});
          }
          return held;
        }));
      }
      for (Future<List<String[]>> f : mine) {
        List<String[]> pairs = f.get(120, TimeUnit.SECONDS);
        threadPairs += pairs.size();
        for (String[] h : pairs) {
          threadSpan[0] = Math.min(threadSpan[0], Long.parseLong(h[1]));
          threadSpan[1] = Math.max(threadSpan[1], Long.parseLong(h[2]));
          intervals.computeIfAbsent(h[0], k -> new ArrayList<>()).add(new long[] {Long.parseLong(h[1]), Long.parseLong(h[2])});
        }
      }
      pool4.shutdown();
      for (int i = 0; i < processes; i++) {
        Process p = children.get(i);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child timed out");
        List<String> lines = List.of(Files.readString(logs.get(i), StandardCharsets.UTF_8).split("\n"));
        assertEquals(0, p.exitValue(), "child failed: " + lines);
        assertEquals("DONE", lines.get(lines.size() - 1));
        Map<String, String> addressOf = new HashMap<>();
        Map<String, Long> since = new HashMap<>();
        for (String line : lines) {
          String[] f = line.split(" ");
          if (f[0].equals("A") || f[0].equals("R")) {
            childSpan[0] = Math.min(childSpan[0], Long.parseLong(f[1]));
            childSpan[1] = Math.max(childSpan[1], Long.parseLong(f[1]));
          }
          if (f[0].equals("A")) {
            addressOf.put(f[2], f[3]);
            since.put(f[2], Long.parseLong(f[1]));
          } else if (f[0].equals("R")) {
            intervals.computeIfAbsent(addressOf.get(f[2]), k -> new ArrayList<>())
                .add(new long[] {since.remove(f[2]), Long.parseLong(f[1])});
          } else if (f[0].equals("X")) {
            throw new AssertionError("unexpected outcome: " + line);
          }
        }
        assertTrue(since.isEmpty(), "every allocation released: " + since);
      }
      List<String> violations = new ArrayList<>();
      int total = 0;
      for (Map.Entry<String, List<long[]>> e : intervals.entrySet()) {
        List<long[]> list = e.getValue();
        total += list.size();
        list.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < list.size(); i++) {
          if (list.get(i)[0] < list.get(i - 1)[1]) {
            violations.add(e.getKey() + " held twice at once");
          }
        }
      }
      assertEquals(List.of(), violations);
      assertTrue(childSpan[0] < threadSpan[1] && threadSpan[0] < childSpan[1],
          "the plugin processes and the store's threads worked at the same time");
      assertEquals(threadPairs + processes * childRounds, total, "every pair counted once");
      assertTrue(threadPairs >= threads * threadRounds, "threads churned: " + threadPairs);
      assertEquals(List.of(), store.list(pool), "no leak, as the write-through store sees it");
      long[] batches = ((WriteThroughStore) store).batchCounts(pool.name());
      System.out.printf("write-through store: %d calls in %d batches%n", batches[1], batches[0]);
    }
    try (IpamStore files = HostLocalStores.open(dataDir)) {
      assertEquals(List.of(), files.list(pool), "no leak, as the plugin's store sees it");
    }
    HostLocalInvariants.check(dataDir);
  }
}
