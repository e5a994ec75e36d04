package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Exec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interoperability with the real reference plugin, {@code /usr/lib/cni/host-local}, on one data
 * directory: each side sees, skips and releases what the other wrote. Skipped when the binary is
 * absent, unless the environment variable CI is set: then absent means failed.
 */
class HostLocalCompatIT {
  static final Path BINARY = Path.of("/usr/lib/cni/host-local");
  static final String NET = "compat";

  @TempDir Path dataDir;
  IpamStore store;

  @BeforeEach
  void open() {
    if (!Files.isExecutable(BINARY)) {
      if (System.getenv("CI") != null && !System.getenv("CI").isEmpty()) {
        fail(BINARY + " is missing and CI is set: install containernetworking-plugins");
      }
      Assumptions.abort(BINARY + " is missing");
    }
    store = newStore();
  }

  IpamStore newStore() {
    return HostLocalStores.open(dataDir);
  }

  @AfterEach
  void close() {
    if (store != null) {
      store.close();
    }
  }

  static Pool pool(String... subnets) {
    return TestPools.pool(NET, AllocationOrder.ROUND_ROBIN, subnets);
  }

  static final Pool DUAL = pool("198.18.0.0/24", "fd00:1::/64");

  record Result(int exit, String stdout) {}

  /** Runs host-local once against the temp data dir. */
  Result hostLocal(String command, String containerId, String ifname, String cniArgs, String... subnets)
      throws IOException, InterruptedException {
    StringBuilder ranges = new StringBuilder();
    for (String s : subnets) {
      ranges.append(ranges.length() == 0 ? "" : ",").append("[{\"subnet\":\"").append(s).append("\"}]");
    }
    String config = "{\"cniVersion\":\"0.4.0\",\"name\":\"" + NET + "\",\"ipam\":{\"type\":\"host-local\","
        + "\"ranges\":[" + ranges + "],\"dataDir\":\"" + dataDir + "\"}}";
    Map<String, String> env = new HashMap<>(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", containerId,
        "CNI_NETNS", "/var/run/netns/none", "CNI_IFNAME", ifname, "CNI_PATH", "/usr/lib/cni"));
    if (cniArgs != null) {
      env.put("CNI_ARGS", cniArgs);
    }
    Exec.Result r = Exec.cni(List.of(), BINARY, env, config.getBytes(StandardCharsets.UTF_8));
    return new Result(r.exit(), r.exit() == 0 ? r.stdout() : r.stdout() + r.stderr());
  }

  Result hostLocalOk(String command, String containerId, String... subnets) throws Exception {
    Result r = hostLocal(command, containerId, "eth0", null, subnets);
    assertEquals(0, r.exit(), r.stdout());
    return r;
  }

  static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }

  static List<String> addresses(List<Allocation> allocations) {
    List<String> out = new ArrayList<>();
    for (Allocation a : allocations) {
      out.add(a.address().toString());
    }
    return out;
  }

  List<Allocation> allocated(Pool pool, String id) {
    AllocationOutcome o = store.allocate(pool, new AllocationRequest(att(id), List.of(), new PodRef("ns", id)));
    return assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations();
  }

  @Test
  void find_afterHostLocalAdds_returnsTheirAllocations() throws Exception {
    hostLocalOk("ADD", "hl1", "198.18.0.0/24", "fd00:1::/64");
    hostLocalOk("ADD", "hl2", "198.18.0.0/24", "fd00:1::/64");
    assertEquals(List.of("198.18.0.2", "fd00:1::2"), addresses(store.find(DUAL, att("hl1"))));
    assertEquals(List.of("198.18.0.3", "fd00:1::3"), addresses(store.find(DUAL, att("hl2"))));
    assertEquals(4, store.list(DUAL).size());
  }

  @Test
  void allocate_afterHostLocalAdds_skipsTheirAddressesAndContinuesFromTheirCursor() throws Exception {
    hostLocalOk("ADD", "hl1", "198.18.0.0/24", "fd00:1::/64");
    hostLocalOk("ADD", "hl2", "198.18.0.0/24", "fd00:1::/64");
    hostLocalOk("ADD", "hl3", "198.18.0.0/24", "fd00:1::/64");
    hostLocalOk("DEL", "hl1", "198.18.0.0/24", "fd00:1::/64"); // .2 free again, cursor stays at .4
    assertEquals(List.of("198.18.0.5", "fd00:1::5"), addresses(allocated(DUAL, "j1")));
  }

  @Test
  void allocate_interleavedWithHostLocalInOneLongLivedStore_seesEveryChange() throws Exception {
    assertEquals(List.of("198.18.0.2", "fd00:1::2"), addresses(allocated(DUAL, "j1")));
    hostLocalOk("ADD", "hl1", "198.18.0.0/24", "fd00:1::/64");
    assertEquals(List.of("198.18.0.4", "fd00:1::4"), addresses(allocated(DUAL, "j2")));
    hostLocalOk("DEL", "j1", "198.18.0.0/24", "fd00:1::/64");
    assertEquals(List.of(), store.find(DUAL, att("j1")));
    assertEquals(List.of("198.18.0.3", "198.18.0.4", "fd00:1::3", "fd00:1::4"), addresses(store.list(DUAL)));
    assertEquals(new PodRef("ns", "j2"), store.find(DUAL, att("j2")).get(0).pod(), "pod survives a rebuild");
  }

  @Test
  void hostLocalAdd_afterJipamAllocate_skipsJipamAddressAndContinuesFromJipamCursor() throws Exception {
    allocated(DUAL, "j1");
    allocated(DUAL, "j2");
    store.release(DUAL, att("j1"));
    Result r = hostLocalOk("ADD", "hl1", "198.18.0.0/24", "fd00:1::/64");
    assertTrue(r.stdout().contains("\"198.18.0.4/24\""), r.stdout());
    assertTrue(r.stdout().contains("\"fd00:1::4/64\""), r.stdout());
    assertEquals(List.of("198.18.0.4", "fd00:1::4"), addresses(store.find(DUAL, att("hl1"))));
  }

  @Test
  void hostLocalAdd_requestingJipamAddress_isRefusedAsTaken() throws Exception {
    allocated(DUAL, "j1");
    Result r = hostLocal("ADD", "hl1", "eth0", "IgnoreUnknown=1;IP=198.18.0.2", "198.18.0.0/24");
    assertNotEquals(0, r.exit(), r.stdout());
    assertTrue(r.stdout().contains("198.18.0.2"), r.stdout());
  }

  @Test
  void hostLocalAdd_sameContainerAsJipam_isRefusedAsDuplicate() throws Exception {
    allocated(DUAL, "j1");
    Result r = hostLocal("ADD", "j1", "eth0", null, "198.18.0.0/24", "fd00:1::/64");
    assertNotEquals(0, r.exit(), r.stdout());
    assertTrue(r.stdout().contains("duplicate allocation"), r.stdout());
  }

  @Test
  void hostLocalDel_ofJipamAllocation_releasesItsFiles() throws Exception {
    allocated(DUAL, "j1");
    allocated(DUAL, "j2");
    hostLocalOk("DEL", "j1", "198.18.0.0/24", "fd00:1::/64");
    assertFalse(Files.exists(dataDir.resolve(NET).resolve("198.18.0.2")));
    assertFalse(Files.exists(dataDir.resolve(NET).resolve("fd00:1::2")));
    assertTrue(Files.exists(dataDir.resolve(NET).resolve("198.18.0.3")));
    IpamStore fresh = newStore();
    assertEquals(List.of(), fresh.find(DUAL, att("j1")));
    assertEquals(List.of("198.18.0.3", "fd00:1::3"), addresses(fresh.find(DUAL, att("j2"))));
  }

  @Test
  void release_ofHostLocalAllocation_deletesTheFilesHostLocalReads() throws Exception {
    hostLocalOk("ADD", "hl1", "198.18.0.0/24", "fd00:1::/64");
    assertEquals(List.of("198.18.0.2", "fd00:1::2"), addresses(store.release(DUAL, att("hl1"))));
    Result r = hostLocalOk("ADD", "hl1", "198.18.0.0/24", "fd00:1::/64"); // no duplicate any more
    assertTrue(r.stdout().contains("\"198.18.0.3/24\""), r.stdout());
  }

  @Test
  void fileNames_ipv6_matchWhatHostLocalWrites() throws Exception {
    Pool v6 = new Pool(NET, List.of(new RangeSet(List.of(IpRange.withDefaults(
        Cidr.parse("2001:db8::/64"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
    String[] wanted = {"2001:db8:0:0:1:0:0:1", "2001:db8::abcd:0:0:0", "2001:0db8::0:0:1:5"};
    for (int i = 0; i < wanted.length; i++) {
      hostLocal("ADD", "hl" + i, "eth0", "IgnoreUnknown=1;IP=" + wanted[i], "2001:db8::/64");
    }
    List<String> names = new ArrayList<>();
    try (var entries = Files.list(dataDir.resolve(NET))) {
      entries.forEach(p -> names.add(p.getFileName().toString()));
    }
    for (int i = 0; i < wanted.length; i++) {
      IpAddress a = IpAddress.parse(wanted[i]);
      assertTrue(names.contains(a.toString()), a + " not among " + names);
      AllocationOutcome o = store.allocate(v6, new AllocationRequest(att("j" + i), List.of(a), null));
      assertEquals(att("hl" + i), assertInstanceOf(AllocationOutcome.Taken.class, o, o::toString).holder());
    }
  }

  /**
   * Claims on a tight range (five addresses): a hold, a cool-down and a reservation are never
   * handed out by host-local on the same data dir, its DEL by the releasing containers' IDs
   * never removes them, and afterwards the sticky pod gets its address back from jipam.
   */
  @Test
  void hostLocalAdd_heldReservedAndCoolingAddresses_neverHandedOut() throws Exception {
    io.jipam.core.testing.TestClock clock = new io.jipam.core.testing.TestClock();
    Pool pool = pool("198.18.0.0/29").withPolicy(new io.jipam.core.store.AddressPolicy(
        new io.jipam.core.store.StickyRule(List.of(io.jipam.core.store.PodPattern.parse("db/*")),
            java.time.Duration.ofSeconds(900), 100), java.time.Duration.ofSeconds(600)));
    try (IpamStore claimsStore = HostLocalStores.open(dataDir, FileSync.NONE, clock)) {
      io.jipam.core.store.capability.Claims claims =
          claimsStore.capability(io.jipam.core.store.capability.Claims.class).orElseThrow();
      AllocationOutcome held = claimsStore.allocate(pool, new AllocationRequest(att("j1"), List.of(), new PodRef("db", "web-0")));
      AllocationOutcome cooled = claimsStore.allocate(pool, new AllocationRequest(att("j2"), List.of(), new PodRef("other", "a")));
      claimsStore.release(pool, att("j1"));
      claimsStore.release(pool, att("j2"));
      assertInstanceOf(io.jipam.core.store.capability.ReserveOutcome.Reserved.class,
          claims.reserve(pool, IpAddress.parse("198.18.0.4"), new PodRef("ops", ""), false));
      List<String> claimed = List.of(
          addresses(assertInstanceOf(AllocationOutcome.Allocated.class, held).allocations()).get(0),
          addresses(assertInstanceOf(AllocationOutcome.Allocated.class, cooled).allocations()).get(0), "198.18.0.4");
      assertEquals(List.of("198.18.0.2", "198.18.0.3", "198.18.0.4"), claimed);
      assertEquals(3, claims.claims(pool).size());

      List<String> handedOut = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        Result r = hostLocal("ADD", "hl" + i, "eth0", null, "198.18.0.0/29");
        for (String c : claimed) {
          assertFalse(r.stdout().contains("\"" + c + "/29\""), "host-local handed out claimed " + c + ": " + r.stdout());
        }
        if (r.exit() == 0) {
          handedOut.add(r.stdout());
        }
      }
      assertEquals(2, handedOut.size(), "host-local gets the two unclaimed addresses, then none: " + handedOut);
      for (String id : new String[] {"j1", "j2", "hl0", "hl1", "hl2", "hl3"}) {
        hostLocal("DEL", id, "eth0", null, "198.18.0.0/29");
      }
      for (String c : claimed) {
        assertTrue(Files.exists(dataDir.resolve(NET).resolve(c)), "host-local's DEL removed the claim of " + c);
      }
      AllocationOutcome back = claimsStore.allocate(pool, new AllocationRequest(att("j1-new"), List.of(),
          new PodRef("db", "web-0")));
      assertEquals(List.of("198.18.0.2"), addresses(assertInstanceOf(AllocationOutcome.Allocated.class, back).allocations()));
      assertEquals(List.of(io.jipam.core.store.AllocationOrigin.STICKY),
          ((AllocationOutcome.Allocated) back).origins());
      HostLocalInvariants.check(dataDir);
    }
  }
}
