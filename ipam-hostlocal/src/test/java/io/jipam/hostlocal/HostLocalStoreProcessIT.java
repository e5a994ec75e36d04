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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several JVMs on one data directory: killed with SIGKILL mid-loop, or churning concurrently.
 * Children are {@link StoreChild}; each prints every event and flushes before the next.
 */
class HostLocalStoreProcessIT {
  @TempDir Path dataDir;
  @TempDir Path logDir;
  final List<Process> children = new ArrayList<>();

  @AfterEach
  void killChildren() throws InterruptedException {
    StoreChild.killAll(children);
  }

  /**
   * A child JVM whose stdout goes to a file ({@link StoreChild#launch}: a pipe lost a killed
   * child's final "R" line here).
   */
  final class Child {
    final Process process;
    final Path log;

    Child(String mode, String prefix, int ops, long seed, HostLocalStore.Mode storeMode) throws IOException {
      log = logDir.resolve(prefix + ".log");
      process = StoreChild.launch(mode, dataDir, prefix, ops, seed, storeMode, log);
      children.add(process);
    }

    boolean started() throws IOException {
      return Files.exists(log) && Files.size(log) > 0;
    }

    /** Complete lines only: a line cut by the kill has no newline, so it was never reported. */
    List<String> lines() throws IOException {
      String text = Files.readString(log, StandardCharsets.UTF_8);
      int end = text.lastIndexOf('\n');
      return end < 0 ? List.of() : List.of(text.substring(0, end).split("\n"));
    }

    List<String> finish(long timeoutSeconds) throws InterruptedException, IOException {
      assertTrue(process.waitFor(timeoutSeconds, TimeUnit.SECONDS), "child timed out");
      return lines();
    }

    List<String> kill() throws InterruptedException, IOException {
      process.destroyForcibly(); // SIGKILL
      process.waitFor(10, TimeUnit.SECONDS);
      return lines();
    }
  }

  static Map<Attachment, List<String>> byAttachment(List<Allocation> all) {
    Map<Attachment, List<String>> out = new HashMap<>();
    for (Allocation a : all) {
      out.computeIfAbsent(a.attachment(), k -> new ArrayList<>()).add(a.address().toString());
    }
    return out;
  }

  @Test
  void allocate_childKilledAtRandomMoments_noAddressTwiceNoReportedAllocationLost() throws Exception {
    Pool pool = StoreChild.pool("crash");
    Random random = new Random(42);
    // what children reported held and did not start releasing: attachment -> addresses
    Map<Attachment, List<String>> reported = new LinkedHashMap<>();
    int totalAllocations = 0;
    for (int round = 0; round < 8; round++) {
      // even rounds take the one-shot fast path on every call, odd ones the cached whole state
      Child child = new Child("crash", "k" + round, 1_000_000, round,
          round % 2 == 0 ? HostLocalStore.Mode.FAST : HostLocalStore.Mode.AUTO);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!child.started() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      Thread.sleep(50 + random.nextInt(700));
      List<String> lines = child.kill();
      System.out.println("crash round " + round + ": killed after " + lines.size() + " events");
      for (String line : lines) {
        String[] f = line.split(" ");
        if (f[0].equals("A")) {
          reported.put(new Attachment(f[2], "eth0"), List.of(f).subList(3, f.length));
          totalAllocations++;
        } else if (f[0].equals("R")) {
          reported.remove(new Attachment(f[2], "eth0"));
        }
      }
      try (IpamStore store = HostLocalStores.open(dataDir)) {
        List<Allocation> all = store.list(pool);
        Map<Attachment, List<String>> held = byAttachment(all);
        for (Map.Entry<Attachment, List<String>> e : reported.entrySet()) {
          if (!e.getValue().equals(held.get(e.getKey()))) {
            StringBuilder why = new StringBuilder();
            for (String a : e.getValue()) {
              Path f = dataDir.resolve("crash").resolve(a);
              why.append(a).append(Files.exists(f) ? " exists: " + Files.readString(f).replace("\r\n", "/") : " missing").append("; ");
            }
            String index = Files.exists(dataDir.resolve(".jipam/crash/index"))
                ? Files.readString(dataDir.resolve(".jipam/crash/index"), StandardCharsets.ISO_8859_1) : "(no index)";
            int from = Math.max(0, index.length() - 1500);
            why.append("\nlast events: ").append(lines.subList(Math.max(0, lines.size() - 4), lines.size()))
                .append("\nindex tail:\n").append(index.substring(from));
            assertEquals(e.getValue(), held.get(e.getKey()), "round " + round + ": " + e.getKey() + " lost: " + why);
          }
          assertEquals(e.getValue(), store.find(pool, e.getKey()).stream().map(a -> a.address().toString()).toList());
        }
        for (Map.Entry<Attachment, List<String>> e : held.entrySet()) {
          assertTrue(e.getValue().size() <= 2 && (e.getValue().size() < 2
              || !e.getValue().get(0).contains(":") && e.getValue().get(1).contains(":")),
              "one address per range set: " + e);
        }
        // the index agrees with a rebuild from the address files
        Files.deleteIfExists(dataDir.resolve(".jipam/crash/index"));
        try (IpamStore rebuilt = HostLocalStores.open(dataDir)) {
          assertEquals(held, byAttachment(rebuilt.list(pool)), "round " + round);
        }
        AllocationOutcome o = store.allocate(pool, AllocationRequest.of(new Attachment("after" + round, "eth0")));
        List<Allocation> got = assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations();
        for (Allocation a : got) {
          assertTrue(all.stream().noneMatch(x -> x.address().equals(a.address())), a + " handed out twice");
        }
        store.release(pool, new Attachment("after" + round, "eth0"));
      }
    }
    assertTrue(totalAllocations > 20, "children got work done before being killed: " + totalAllocations);
  }

  @Test
  void allocate_eightProcessesChurning_noAddressHeldTwiceNoLeak() throws Exception {
    Pool pool = StoreChild.pool("churn");
    int processes = 8;
    int rounds = 60;
    List<Child> running = new ArrayList<>();
    for (int i = 0; i < processes; i++) {
      running.add(new Child("churn", "p" + i, rounds, i,
          i % 2 == 0 ? HostLocalStore.Mode.FAST : HostLocalStore.Mode.AUTO));
    }
    assertEquals(List.of(), heldTwice(running, processes * rounds, Set.of()));
    try (IpamStore store = HostLocalStores.open(dataDir)) {
      assertEquals(List.of(), store.list(pool), "no leak");
    }
    Set<String> left = new HashSet<>();
    try (var s = Files.list(dataDir.resolve("churn"))) {
      s.forEach(p -> left.add(p.getFileName().toString()));
    }
    assertEquals(Set.of("lock", "last_reserved_ip.0"), left);
  }

  /**
   * Reads every child's events (each must end DONE with every allocation released) and returns
   * the addresses held twice at once across processes, and those handed out from {@code never}.
   */
  private static List<String> heldTwice(List<Child> running, int expectedAllocations, Set<String> never)
      throws Exception {
    // address -> holding intervals [allocate returned, release called], across every process
    Map<String, List<long[]>> intervals = new TreeMap<>();
    Map<String, String> addressOf = new HashMap<>();
    Map<String, Long> since = new HashMap<>();
    List<String> violations = new ArrayList<>();
    int allocations = 0;
    for (Child c : running) {
      List<String> lines = c.finish(150);
      assertEquals(0, c.process.exitValue(), "child failed: " + lines);
      assertEquals("DONE", lines.get(lines.size() - 1));
      for (String line : lines) {
        String[] f = line.split(" ");
        if (f[0].equals("A")) {
          addressOf.put(f[2], f[3]);
          since.put(f[2], Long.parseLong(f[1]));
          allocations++;
          if (never.contains(f[3])) {
            violations.add(f[3] + " handed to " + f[2]);
          }
        } else if (f[0].equals("R")) {
          intervals.computeIfAbsent(addressOf.get(f[2]), k -> new ArrayList<>())
              .add(new long[] {since.remove(f[2]), Long.parseLong(f[1])});
        } else if (f[0].equals("X")) {
          throw new AssertionError("unexpected outcome: " + line);
        }
      }
      assertTrue(since.isEmpty(), "every allocation released: " + since);
    }
    assertEquals(expectedAllocations, allocations);
    for (Map.Entry<String, List<long[]>> e : intervals.entrySet()) {
      List<long[]> list = e.getValue();
      list.sort((a, b) -> Long.compare(a[0], b[0]));
      for (int i = 1; i < list.size(); i++) {
        if (list.get(i)[0] < list.get(i - 1)[1]) {
          violations.add(e.getKey() + " held twice at once");
        }
      }
    }
    return violations;
  }

  /**
   * Reservations across processes: two addresses reserved by this process (one for a pod, one
   * for a namespace) are never handed out by four churning plugin-like processes on a pool with a
   * sticky rule and a cool-down, and afterwards still go to their pods.
   */
  @Test
  void allocate_reservationsWithFourProcessesChurning_neverHandedToOthers() throws Exception {
    Pool pool = StoreChild.pool("claims");
    io.jipam.core.store.PodRef keeper = new io.jipam.core.store.PodRef("db", "keeper-0");
    io.jipam.core.net.IpAddress forPod = io.jipam.core.net.IpAddress.parse("198.18.0.10");
    io.jipam.core.net.IpAddress forNamespace = io.jipam.core.net.IpAddress.parse("198.18.0.11");
    try (IpamStore store = HostLocalStores.open(dataDir)) {
      io.jipam.core.store.capability.Claims claims =
          store.capability(io.jipam.core.store.capability.Claims.class).orElseThrow();
      assertInstanceOf(io.jipam.core.store.capability.ReserveOutcome.Reserved.class,
          claims.reserve(pool, forPod, keeper, false));
      assertInstanceOf(io.jipam.core.store.capability.ReserveOutcome.Reserved.class,
          claims.reserve(pool, forNamespace, new io.jipam.core.store.PodRef("db", ""), false));
    }
    int processes = 4;
    int rounds = 40;
    List<Child> running = new ArrayList<>();
    for (int i = 0; i < processes; i++) {
      running.add(new Child("claims", "q" + i, rounds, i,
          i % 2 == 0 ? HostLocalStore.Mode.FAST : HostLocalStore.Mode.AUTO));
    }
    assertEquals(List.of(), heldTwice(running, processes * rounds, Set.of(forPod.toString(), forNamespace.toString())));
    try (IpamStore store = HostLocalStores.open(dataDir)) {
      io.jipam.core.store.capability.Claims claims =
          store.capability(io.jipam.core.store.capability.Claims.class).orElseThrow();
      assertEquals(List.of(), store.list(pool), "no leak");
      long reservations = claims.claims(pool).stream()
          .filter(c -> c.kind() == io.jipam.core.store.Claim.Kind.RESERVATION).count();
      assertEquals(2, reservations, "both reservations kept: " + claims.claims(pool));
      AllocationOutcome got = store.allocate(pool, new AllocationRequest(new Attachment("keeper", "eth0"), List.of(), keeper));
      assertEquals(forPod, assertInstanceOf(AllocationOutcome.Allocated.class, got, got::toString)
          .allocations().get(0).address());
    }
    HostLocalInvariants.check(dataDir);
  }
}
