package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The file store's internal invariants, checked after a test (caffeine's habit): what jipam left
 * must be what its design says, not only what the calls returned. For every network directory:
 * no temp file is left; every address file's holder has a record that lists the address (records
 * are a superset); the stamp, when present, matches the directories and cursors as they are; and
 * an index whose last stamp is the stamp holds exactly the address files, each with the origin its
 * holder's record gives it. Claims: every claim
 * marker is the address file of a listed claim, every listed claim of an address no attachment
 * holds has its marker, only reservations sit on held addresses, and the stamp counts the claims.
 */
final class HostLocalInvariants {
  private HostLocalInvariants() {}

  static void check(Path dataDir) throws IOException {
    if (!Files.isDirectory(dataDir)) {
      return;
    }
    try (DirectoryStream<Path> networks = Files.newDirectoryStream(dataDir)) {
      for (Path net : networks) {
        String name = net.getFileName().toString();
        if (!name.equals(PoolDir.JIPAM_DIR) && Files.isDirectory(net)) {
          checkNetwork(dataDir, name);
        }
      }
    }
  }

  private static void checkNetwork(Path dataDir, String network) throws IOException {
    PoolDir d = new PoolDir(dataDir, network, false);
    Map<IpAddress, Attachment> files = new TreeMap<>();
    java.util.Set<IpAddress> markers = new java.util.TreeSet<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(d.dir)) {
      for (Path p : entries) {
        String name = p.getFileName().toString();
        assertFalse(name.startsWith(PoolDir.TEMP_PREFIX), "temp file left: " + p);
        IpAddress a = IpAddress.tryParse(name);
        if (a == null || !a.toString().equals(name) || !Files.isRegularFile(p)) {
          continue;
        }
        Attachment holder = AddressFileText.parseHolder(Files.readAllBytes(p));
        if (AddressFileText.CLAIMED.equals(holder)) {
          markers.add(a);
          continue;
        }
        files.put(a, holder);
        AttachmentRecord r = AttachmentRecord.read(d, holder);
        assertNotNull(r, "record of " + holder + " unreadable");
        assertTrue(r.lists(a), "record of " + holder + " does not list " + a + " (records must be a superset)");
      }
    }
    for (Path tmp : new Path[] {d.indexTemp, d.recordTemp}) {
      assertFalse(Files.exists(tmp), "temp file left: " + tmp);
    }
    java.util.List<io.jipam.core.store.Claim> claims = ClaimFiles.read(d);
    java.util.Set<IpAddress> claimed = new java.util.TreeSet<>();
    for (io.jipam.core.store.Claim c : claims) {
      claimed.add(c.address());
      if (files.containsKey(c.address())) {
        assertEquals(io.jipam.core.store.Claim.Kind.RESERVATION, c.kind(), c + " on an address " + files.get(c.address())
            + " holds");
      } else {
        assertTrue(markers.contains(c.address()), c + " has no marker: host-local could hand it out");
      }
    }
    assertTrue(claimed.containsAll(markers), "markers " + markers + " without a claim in " + claims);
    Stamp stamp = Stamp.read(d);
    if (stamp == null) {
      return;
    }
    assertEquals(claims.size(), stamp.claims, "the stamp's claim count");
    Stamp now = Stamp.observe(d, stamp.cursors.length);
    assertTrue(stamp.sameFiles(now), "the stamp " + stamp + " does not match the directories: " + now);
    IndexFile.Raw raw = IndexFile.read(d);
    if (raw != null && raw.stamp.equals(stamp.text())) {
      Map<IpAddress, Attachment> indexed = new TreeMap<>();
      for (Allocation a : IndexFile.parseAll(raw)) {
        indexed.put(a.address(), a.attachment());
        AttachmentRecord r = AttachmentRecord.read(d, a.attachment());
        if (r != null && r.lists(a.address())) {
          assertEquals(r.originOf(a.address()), a.origin(), "the index and " + a.attachment() + "'s record disagree on"
              + " why " + a.address() + " was given");
        }
      }
      assertEquals(files, indexed, "a valid index must hold exactly the address files");
    }
  }
}
