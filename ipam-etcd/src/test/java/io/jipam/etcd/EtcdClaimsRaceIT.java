package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Etcd;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Claims under real concurrency: stores of two nodes (each its own etcd client and commit task)
 * racing on one tight pool of /28 blocks. An operator reserving addresses while both nodes
 * allocate: no ADD that began after a reservation returned gets that address, and a reserved
 * address ends up allocated only to its pod. Sticky pods coming back on either node while other
 * pods churn on both: each gets exactly the address its DEL left held for it. Bounded loops;
 * afterwards no address is allocated twice and {@link EtcdInvariants} hold. The same with two
 * child JVMs ({@link ClaimsChurn}) of two nodes each while this JVM reserves; and a child killed
 * (kill -9) in the middle of its churn leaves records that agree and holds its pods get back.
 */
@ExtendWith(EtcdExtension.class)
class EtcdClaimsRaceIT {
  private static final Duration RUN = Duration.ofMinutes(3);
  private final Etcd etcd;
  private final String prefix = "/jipam-test-" + UUID.randomUUID();
  private final List<EtcdStore> opened = new ArrayList<>();

  EtcdClaimsRaceIT(Etcd etcd) {
    this.etcd = etcd;
  }

  @AfterEach
  void closeAll() {
    opened.forEach(EtcdStore::close);
    EtcdInvariants.check(etcd.endpoints(), prefix);
  }

  private List<EtcdStore> nodes() {
    List<EtcdStore> out = new ArrayList<>();
    for (String node : List.of("node-a", "node-b")) {
      // 10 s rather than 3 s: the machines running this suite are shared and often loaded
      EtcdStore s = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix).withBlockSizes(28, 122)
          .withTimeout(Duration.ofSeconds(10)));
      opened.add(s);
      out.add(s);
    }
    return out;
  }

  private static AllocationRequest add(String container, PodRef pod) {
    return new AllocationRequest(new Attachment(container, "eth0"), List.of(), pod);
  }

  @Test
  void reserve_racingAddsOfTwoNodes_neverHandsAReservedAddressToAnotherPod() throws Exception {
    Pool pool = TestPools.pool("race-r", AllocationOrder.ROUND_ROBIN, "198.18.30.0/26");
    List<EtcdStore> stores = nodes();
    PodRef special = new PodRef("ns", "special");
    Set<IpAddress> reserved = ConcurrentHashMap.newKeySet();
    List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
    Concurrently.run(5, RUN, t -> {
      ThreadLocalRandom rnd = ThreadLocalRandom.current();
      if (t == 0) {
        for (int i = 0; i < 30; i++) {
          IpAddress x = IpAddress.parse("198.18.30." + (2 + rnd.nextInt(60)));
          ReserveOutcome out = stores.get(i % 2).reserve(pool, x, special, false);
          if (out instanceof ReserveOutcome.Reserved) {
            reserved.add(x);
          }
        }
        return;
      }
      List<Attachment> mine = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        EtcdStore s = stores.get(rnd.nextInt(2));
        if (mine.size() >= 3 || mine.size() > 0 && rnd.nextBoolean()) {
          s.release(pool, mine.remove(0));
          continue;
        }
        Set<IpAddress> before = Set.copyOf(reserved);
        String id = "t" + t + "-" + i;
        AllocationOutcome out = s.allocate(pool, add(id, new PodRef("ns", "q" + t + "-" + i)));
        if (out instanceof AllocationOutcome.Allocated a) {
          mine.add(new Attachment(id, "eth0"));
          IpAddress got = a.allocations().get(0).address();
          if (before.contains(got)) {
            violations.add(id + " got " + got + ", reserved for " + special + " before its ADD began");
          }
        }
      }
    });
    assertEquals(List.of(), violations);
    List<Claim> claims = stores.get(0).claims(pool);
    Map<IpAddress, Allocation> allocated = byAddress(stores.get(0).list(pool));
    for (Claim c : claims) {
      assertEquals(Claim.Kind.RESERVATION, c.kind());
      Allocation holder = allocated.get(c.address());
      assertTrue(holder == null || c.admits(holder.pod()), c + " allocated to " + holder);
    }
    assertEquals(reserved, Set.copyOf(claims.stream().map(Claim::address).toList()));
  }

  @Test
  void allocate_stickyPodsOnEitherNodeWhileOthersChurn_getTheirHeldAddresses() throws Exception {
    Pool pool = TestPools.pool("race-h", AllocationOrder.ROUND_ROBIN, "198.18.31.0/26").withPolicy(new AddressPolicy(
        new StickyRule(List.of(PodPattern.parse("db/*")), Duration.ofMinutes(10), 50), Duration.ZERO));
    List<EtcdStore> stores = nodes();
    List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
    Concurrently.run(8, RUN, t -> {
      ThreadLocalRandom rnd = ThreadLocalRandom.current();
      if (t < 4) {
        // a sticky pod restarted 12 times, on either node, with a new container each time
        PodRef pod = new PodRef("db", "s-" + t);
        IpAddress held = null;
        for (int i = 0; i < 12; i++) {
          String id = "s" + t + "-" + i;
          AllocationOutcome out = stores.get(rnd.nextInt(2)).allocate(pool, add(id, pod));
          if (!(out instanceof AllocationOutcome.Allocated a)) {
            violations.add(pod + ": " + out);
            return;
          }
          IpAddress got = a.allocations().get(0).address();
          if (held != null && (!got.equals(held) || a.origins().get(0) != AllocationOrigin.STICKY)) {
            violations.add(pod + " got " + got + " (" + a.origins() + "), its hold was " + held);
          }
          stores.get(rnd.nextInt(2)).release(pool, new Attachment(id, "eth0"));
          held = null;
          for (Claim c : stores.get(0).claims(pool)) {
            if (c.kind() == Claim.Kind.HOLD && c.pod().equals(pod)) {
              held = c.address();
            }
          }
          if (!got.equals(held)) {
            violations.add(pod + ": its DEL of " + got + " left no hold (" + held + ")");
          }
        }
        return;
      }
      List<Attachment> mine = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        EtcdStore s = stores.get(rnd.nextInt(2));
        if (mine.size() >= 4 || mine.size() > 0 && rnd.nextBoolean()) {
          s.release(pool, mine.remove(0));
        } else {
          String id = "o" + t + "-" + i;
          if (s.allocate(pool, add(id, new PodRef("ns", "o" + t + "-" + i))) instanceof AllocationOutcome.Allocated) {
            mine.add(new Attachment(id, "eth0"));
          }
        }
      }
    });
    assertEquals(List.of(), violations);
    byAddress(stores.get(1).list(pool));
  }

  @Test
  void claims_twoChildJvmsOfTwoNodesEachWhileReserving_keepHoldsAndReservations() throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<Process> children = new ArrayList<>();
    List<Future<List<String>>> outputs = new ArrayList<>();
    ExecutorService readers = Executors.newFixedThreadPool(2);
    Map<IpAddress, Long> reservedAt = new HashMap<>();
    PodRef special = new PodRef("ns", "special");
    try (EtcdStore operator = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "operator").withPrefix(prefix)
        .withBlockSizes(28, 122).withTimeout(Duration.ofSeconds(10)))) {
      for (int p = 0; p < 2; p++) {
        ProcessBuilder pb = new ProcessBuilder(javaBin, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp",
            System.getProperty("java.class.path"), ClaimsChurn.class.getName(), String.join(",", etcd.endpoints()),
            prefix, "p" + p);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process child = pb.start();
        children.add(child);
        outputs.add(readers.submit(() -> new String(child.getInputStream().readAllBytes(),
            StandardCharsets.UTF_8).lines().toList()));
      }
      // the operator reserves while the children run (bounded: 40 tries)
      ThreadLocalRandom rnd = ThreadLocalRandom.current();
      for (int i = 0; i < 40 && children.stream().anyMatch(Process::isAlive); i++) {
        IpAddress x = IpAddress.parse("198.18.40." + (2 + rnd.nextInt(124)));
        if (operator.reserve(ClaimsChurn.POOL, x, special, false) instanceof ReserveOutcome.Reserved) {
          reservedAt.putIfAbsent(x, Churn.micros());
        }
      }
      List<String> violations = new ArrayList<>();
      for (int p = 0; p < 2; p++) {
        assertTrue(children.get(p).waitFor(180, TimeUnit.SECONDS), "child " + p + " finished");
        List<String> lines = outputs.get(p).get();
        assertEquals("DONE 0", lines.isEmpty() ? "" : lines.get(lines.size() - 1),
            "child p" + p + ": " + lines.stream().filter(l -> l.startsWith("V ")).toList());
        for (String line : lines) {
          String[] f = line.split(" ");
          if (f[0].equals("A")) {
            Long at = reservedAt.get(IpAddress.parse(f[2]));
            if (at != null && at < Long.parseLong(f[1])) {
              violations.add(f[3] + " got " + f[2] + ", reserved for " + special + " before its ADD began");
            }
          }
        }
      }
      assertEquals(List.of(), violations);
      for (Claim c : operator.claims(ClaimsChurn.POOL)) {
        Allocation holder = byAddress(operator.list(ClaimsChurn.POOL)).get(c.address());
        assertTrue(c.kind() != Claim.Kind.RESERVATION || holder == null || c.admits(holder.pod()), c + " to " + holder);
      }
      assertTrue(reservedAt.size() > 0, "some reservations went in");
    } finally {
      children.forEach(Process::destroyForcibly);
      readers.shutdownNow();
    }
  }

  @Test
  void claims_childJvmKilledMidChurn_leaveRecordsConsistentAndHoldsUsable() throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(javaBin, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), ClaimsChurn.class.getName(), String.join(",", etcd.endpoints()),
        prefix, "pk");
    pb.redirectError(ProcessBuilder.Redirect.DISCARD).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Process child = pb.start();
    try (EtcdStore operator = EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), "operator").withPrefix(prefix)
        .withBlockSizes(28, 122).withTimeout(Duration.ofSeconds(10)))) {
      // wait (bounded) until the child has made holds and holds allocations, then kill -9 it
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (child.isAlive() && (operator.claims(ClaimsChurn.POOL).isEmpty() || operator.list(ClaimsChurn.POOL).isEmpty())) {
        assertTrue(System.nanoTime() < until, "the child made no hold within 120 s");
        Thread.onSpinWait();
      }
      assertTrue(child.isAlive(), "the child was still running when killed");
      child.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS));
      assertEquals(List.of(), operator.audit(ClaimsChurn.POOL));
      // every hold it left is its pod's, on whichever node comes next
      for (Claim c : operator.claims(ClaimsChurn.POOL)) {
        if (c.kind() == Claim.Kind.HOLD && operator.list(ClaimsChurn.POOL).stream().noneMatch(a -> a.pod().equals(c.pod()))) {
          AllocationOutcome got = operator.allocate(ClaimsChurn.POOL, add("after-" + c.pod().name(), c.pod()));
          assertEquals(c.address(), ((AllocationOutcome.Allocated) got).allocations().get(0).address(), c.toString());
        }
      }
    } finally {
      child.destroyForcibly();
    }
  }

  /** The allocations by address, failing on an address listed twice. */
  private static Map<IpAddress, Allocation> byAddress(List<Allocation> list) {
    Map<IpAddress, Allocation> out = new HashMap<>();
    for (Allocation a : list) {
      Allocation before = out.put(a.address(), a);
      assertTrue(before == null, () -> a.address() + " allocated to " + before.attachment() + " and " + a.attachment());
    }
    return out;
  }
}
