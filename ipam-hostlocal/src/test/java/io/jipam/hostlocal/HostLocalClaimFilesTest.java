package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.core.testing.TestClock;
import io.jipam.core.testing.TestPools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The claims on disk ({@link ClaimFiles}): what a crash between the claims file and the markers
 * leaves is repaired by the next call's rebuild, the markers' content is what host-local can
 * neither hand out nor delete, and the stamp's claim count keeps claim-free pools on the
 * one-shot path. Each case damages the files by hand as a killed call would (the stamp dropped
 * first, as every changing call does), then checks the next call and {@link HostLocalInvariants}.
 */
class HostLocalClaimFilesTest {
  @TempDir Path dataDir;
  final TestClock clock = new TestClock();
  static final Pool POOL = TestPools.pool("cf", AllocationOrder.LOWEST_FREE, "198.18.0.0/29").withPolicy(
      new AddressPolicy(new StickyRule(List.of(PodPattern.parse("db/*")), Duration.ofSeconds(900), 100), Duration.ZERO));
  static final IpAddress A = IpAddress.parse("198.18.0.5");

  IpamStore open() {
    return HostLocalStores.open(dataDir, FileSync.NONE, clock);
  }

  PoolDir dir() {
    return new PoolDir(dataDir, POOL.name(), false);
  }

  static Claims claims(IpamStore s) {
    return s.capability(Claims.class).orElseThrow();
  }

  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }

  @Test
  void reserve_freeAddress_writesClaimsFileMarkerAndStampCount() throws Exception {
    try (IpamStore s = open()) {
      assertInstanceOf(ReserveOutcome.Reserved.class, claims(s).reserve(POOL, A, new PodRef("db", "x"), false));
    }
    assertArrayEquals(AddressFileText.CLAIM_MARK, Files.readAllBytes(dir().addressFile(A)));
    assertEquals(List.of(Claim.reservation(A, new PodRef("db", "x"))), ClaimFiles.read(dir()));
    assertEquals(1, Stamp.read(dir()).claims);
    try (IpamStore s = open()) {
      assertEquals(A, claims(s).unreserve(POOL, A).orElseThrow().address());
    }
    assertFalse(Files.exists(dir().addressFile(A)), "the marker goes with the claim");
    assertFalse(Files.exists(dir().claimsFile), "no claims, no file");
    assertEquals(0, Stamp.read(dir()).claims);
  }

  @Test
  void rebuild_claimWithoutMarker_marksTheAddressAgain() throws Exception {
    try (IpamStore s = open()) {
      claims(s).reserve(POOL, A, new PodRef("db", "x"), false);
    }
    Stamp.drop(dir()); // a call killed after writing the claims file, before the marker
    Files.delete(dir().addressFile(A));
    try (IpamStore s = open()) {
      assertEquals(1, claims(s).claims(POOL).size());
      for (int i = 0; i < 4; i++) {
        AllocationOutcome o = s.allocate(POOL, new AllocationRequest(new Attachment("o" + i, "eth0"), List.of(),
            new PodRef("other", "p" + i)));
        assertFalse(assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations().get(0).address()
            .equals(A), "the reserved address handed to another pod");
      }
    }
    assertArrayEquals(AddressFileText.CLAIM_MARK, Files.readAllBytes(dir().addressFile(A)));
  }

  @Test
  void rebuild_markerWithoutClaim_freesTheAddress() throws Exception {
    try (IpamStore s = open()) {
      claims(s).reserve(POOL, A, new PodRef("db", "x"), false);
    }
    Stamp.drop(dir()); // a call killed after rewriting the claims file, before removing the marker
    Files.delete(dir().claimsFile);
    try (IpamStore s = open()) {
      assertEquals(List.of(), claims(s).claims(POOL));
      AllocationOutcome o = s.allocate(POOL, new AllocationRequest(new Attachment("o1", "eth0"), List.of(A), null));
      assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString);
    }
  }

  @Test
  void rebuild_holdOfAnAddressAFileHolds_dropsTheHold() throws Exception {
    try (IpamStore s = open()) {
      s.allocate(POOL, new AllocationRequest(new Attachment("c1", "eth0"), List.of(A), new PodRef("db", "web-0")));
      s.release(POOL, new Attachment("c1", "eth0"));
      assertEquals(Claim.Kind.HOLD, claims(s).claims(POOL).get(0).kind());
    }
    Stamp.drop(dir()); // host-local (or a hand) put a holder's file where the marker was
    Files.write(dir().addressFile(A), "hl1\r\neth0".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    try (IpamStore s = open()) {
      assertEquals(List.of(), claims(s).claims(POOL), "the allocation is newer than the hold");
      assertEquals(new Attachment("hl1", "eth0"), s.list(POOL).get(0).attachment());
    }
  }

  @Test
  void parseHolder_marker_isNoContainersAttachment() {
    assertEquals(AddressFileText.CLAIMED, AddressFileText.parseHolder(AddressFileText.CLAIM_MARK));
    String text = new String(AddressFileText.CLAIM_MARK, java.nio.charset.StandardCharsets.US_ASCII);
    assertTrue(text.substring(text.indexOf("\r\n") + 2).contains("/"), "an ifname cannot hold '/': " + text);
  }

  @Test
  void begin_noPolicyNoClaims_onlyThenTheOneShotPath() throws Exception {
    Pool plain = TestPools.pool("plain", AllocationOrder.ROUND_ROBIN, "198.18.0.0/29");
    try (IpamStore s = new HostLocalStore(dataDir, null, HostLocalStore.Mode.FAST, clock)) {
      s.allocate(plain, AllocationRequest.of(new Attachment("c1", "eth0")));
      s.allocate(plain, AllocationRequest.of(new Attachment("c2", "eth0")));
    }
    PoolDir d = new PoolDir(dataDir, "plain", false);
    assertEquals(0, Stamp.read(d).claims);
    assertFalse(Files.exists(d.claimsFile));
    try (PoolSession h = PoolSession.open(d, new StateCache(HostLocalStore.Mode.FAST), plain)) {
      assertTrue(h.begin(plain, PoolSession.Read.AS_STAMPED), "a plain pool without claims takes the one-shot path");
    }
    try (IpamStore s = open()) {
      claims(s).reserve(plain, A, new PodRef("db", "x"), false);
    }
    assertEquals(1, Stamp.read(d).claims);
    try (PoolSession h = PoolSession.open(d, new StateCache(HostLocalStore.Mode.FAST), plain)) {
      assertFalse(h.begin(plain, PoolSession.Read.AS_STAMPED), "a pool with claims takes the whole-state path");
    }
    try (PoolSession h = PoolSession.open(dir(), new StateCache(HostLocalStore.Mode.FAST), POOL)) {
      assertFalse(h.begin(POOL, PoolSession.Read.AS_STAMPED), "a pool with a policy takes the whole-state path");
    }
  }
}
