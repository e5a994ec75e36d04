package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The on-disk layout, index staleness, crash remnants and name safety, without host-local. Runs
 * with the default store; {@link HostLocalStoreFilesFastTest} runs it again with every call on the
 * one-shot fast path.
 */
class HostLocalStoreFilesTest {
  IpamStore newStore() {
    return HostLocalStores.open(dataDir);
  }

  @TempDir Path root;
  Path dataDir;
  Path netDir;
  IpamStore store;

  static final Pool POOL = pool("net", AllocationOrder.LOWEST_FREE, "198.18.0.0/24", "fd00:7::/64");

  static Pool pool(String name, AllocationOrder order, String... subnets) {
    return TestPools.pool(name, order, subnets);
  }

  @BeforeEach
  void open() {
    dataDir = root.resolve("data");
    netDir = dataDir.resolve("net");
    store = newStore();
  }

  @AfterEach
  void close() {
    store.close();
  }

  static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }

  static IpAddress ip(String s) {
    return IpAddress.parse(s);
  }

  List<Allocation> allocated(String id, String... wanted) {
    List<IpAddress> req = new ArrayList<>();
    for (String w : wanted) {
      req.add(ip(w));
    }
    AllocationOutcome o = store.allocate(POOL, new AllocationRequest(att(id), req, new PodRef("ns", id)));
    return assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations();
  }

  /** Writes an address file as host-local does, then puts the directory's mtime back. */
  void writeBehindBack(String address, String content, boolean hideFromMtime) throws Exception {
    FileTime before = Files.getLastModifiedTime(netDir);
    Files.write(netDir.resolve(address), content.getBytes(StandardCharsets.UTF_8));
    if (hideFromMtime) {
      Files.setLastModifiedTime(netDir, before);
    }
  }

  @Test
  void allocate_firstCall_writesHostLocalLayout() throws Exception {
    allocated("c1");
    assertEquals("c1\r\neth0", Files.readString(netDir.resolve("198.18.0.2")));
    assertEquals("c1\r\neth0", Files.readString(netDir.resolve("fd00:7::2")));
    assertEquals("198.18.0.2", Files.readString(netDir.resolve("last_reserved_ip.0")));
    assertEquals("fd00:7::2", Files.readString(netDir.resolve("last_reserved_ip.1")));
    assertTrue(Files.exists(netDir.resolve("lock")));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(netDir.resolve("198.18.0.2"))));
    assertTrue(Files.exists(dataDir.resolve(".jipam/net/index")));
    try (Stream<Path> s = Files.list(netDir)) {
      assertEquals(Set.of("198.18.0.2", "fd00:7::2", "last_reserved_ip.0", "last_reserved_ip.1", "lock"),
          Set.copyOf(s.map(p -> p.getFileName().toString()).toList()), "no jipam file among host-local's");
    }
  }

  @Test
  void find_fileAddedBehindBack_isSeenByLongLivedStore() throws Exception {
    allocated("c1");
    writeBehindBack("198.18.0.50", "other\r\neth0", false);
    assertEquals(List.of(ip("198.18.0.50")), store.find(POOL, att("other")).stream().map(Allocation::address).toList());
    AllocationOutcome o = store.allocate(POOL, new AllocationRequest(att("c2"), List.of(ip("198.18.0.50")), null));
    assertEquals(att("other"), assertInstanceOf(AllocationOutcome.Taken.class, o).holder());
  }

  @Test
  void find_fileDeletedBehindBack_isSeenByLongLivedAndFreshStore() throws Exception {
    allocated("c1");
    allocated("c2");
    Files.delete(netDir.resolve("198.18.0.2"));
    Files.delete(netDir.resolve("fd00:7::2"));
    assertEquals(List.of(), store.find(POOL, att("c1")));
    assertEquals(2, store.list(POOL).size());
    try (IpamStore fresh = newStore()) {
      assertEquals(List.of(), fresh.find(POOL, att("c1")));
      assertEquals(new PodRef("ns", "c2"), fresh.find(POOL, att("c2")).get(0).pod());
    }
  }

  @Test
  void allocate_fileAddedButMtimeUnchanged_neverHandsItOutTwice() throws Exception {
    allocated("c1"); // .2
    writeBehindBack("198.18.0.3", "other\r\neth0", true); // the stamp cannot see it
    for (IpamStore s : List.of(store, newStore())) {
      List<Allocation> got = s == store ? allocated("c2")
          : ((AllocationOutcome.Allocated) s.allocate(POOL, AllocationRequest.of(att("c3")))).allocations();
      assertNotEquals(ip("198.18.0.3"), got.get(0).address());
      assertEquals("other\r\neth0", Files.readString(netDir.resolve("198.18.0.3")));
    }
    assertEquals(1, store.find(POOL, att("other")).size(), "the clash made jipam rebuild its index");
  }

  @Test
  void release_fileReassignedButMtimeUnchanged_leavesOthersFile() throws Exception {
    allocated("c1", "198.18.0.9");
    writeBehindBack("198.18.0.9", "other\r\neth0", true);
    assertEquals(List.of(), store.release(POOL, att("c1")).stream().filter(a -> a.address().equals(ip("198.18.0.9"))).toList());
    assertEquals("other\r\neth0", Files.readString(netDir.resolve("198.18.0.9")));
    assertEquals(att("other"), store.find(POOL, att("other")).get(0).attachment());
  }

  @Test
  void allocate_cursorChangedBehindBack_continuesFromIt() throws Exception {
    Pool rr = pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
    store.allocate(rr, AllocationRequest.of(att("c1"))); // .2
    Files.writeString(netDir.resolve("last_reserved_ip.0"), "198.18.0.100");
    List<Allocation> got = ((AllocationOutcome.Allocated) store.allocate(rr, AllocationRequest.of(att("c2")))).allocations();
    assertEquals(ip("198.18.0.101"), got.get(0).address());
  }

  @Test
  void find_oldFormatFileWithContainerIdOnly_belongsToAnyIfnameOfThatContainer() throws Exception {
    Files.createDirectories(netDir);
    Files.writeString(netDir.resolve("198.18.0.20"), "legacy\n");
    Files.writeString(netDir.resolve("fd00:7::20"), "legacy");
    assertEquals(List.of(ip("198.18.0.20"), ip("fd00:7::20")),
        store.find(POOL, new Attachment("legacy", "net1")).stream().map(Allocation::address).toList());
    AllocationOutcome again = store.allocate(POOL, AllocationRequest.of(att("legacy")));
    assertTrue(assertInstanceOf(AllocationOutcome.Allocated.class, again).existing());
    assertEquals(List.of(), store.retainOnly(POOL, Set.of(att("legacy"))), "a live container keeps its old files");
    assertEquals(2, store.release(POOL, att("legacy")).size());
    assertFalse(Files.exists(netDir.resolve("198.18.0.20")));
  }

  @Test
  void list_unreadableOrEmptyAddressFile_keepsAddressHeld() throws Exception {
    Files.createDirectories(netDir);
    Files.writeString(netDir.resolve("198.18.0.2"), "");
    Files.writeString(netDir.resolve("198.18.0.3"), "bad id!\r\neth0");
    Files.writeString(netDir.resolve("198.18.0.04"), "x\r\neth0"); // not canonical: not an address file
    List<Allocation> got = allocated("c1");
    assertEquals(ip("198.18.0.4"), got.get(0).address());
    assertEquals(3, store.usage(POOL).allocated().get(0));
  }

  @Test
  void load_indexMissingOrTruncated_rebuildsFromAddressFiles() throws Exception {
    allocated("c1");
    allocated("c2");
    Path index = dataDir.resolve(".jipam/net/index");
    byte[] full = Files.readAllBytes(index);
    Files.write(index, java.util.Arrays.copyOf(full, full.length / 2));
    try (IpamStore fresh = newStore()) {
      assertEquals(4, fresh.list(POOL).size());
      assertEquals(att("c2"), fresh.find(POOL, att("c2")).get(0).attachment());
    }
    Files.delete(index);
    try (IpamStore fresh = newStore()) {
      assertEquals(4, fresh.list(POOL).size());
      assertEquals(new PodRef("ns", "c2"), fresh.find(POOL, att("c2")).get(0).pod(), "pods live in the records too");
    }
  }

  @Test
  void load_tempFilesLeftByCrash_ignoredAndRemoved() throws Exception {
    allocated("c1");
    Files.writeString(netDir.resolve(".jipam-addr"), "c9\r\neth0");
    Files.writeString(netDir.resolve(".jipam-cursor"), "198.18.0.77"); // an older jipam's cursor temp
    Path oldStampTemp = dataDir.resolve(".jipam/net/stamp.tmp"); // an older jipam's stamp temp
    Files.writeString(oldStampTemp, "v4\t9");
    Files.delete(dataDir.resolve(".jipam/net/stamp")); // the crash left no stamp: the next call rebuilds
    try (IpamStore fresh = newStore()) {
      assertEquals(2, fresh.list(POOL).size());
      assertEquals(List.of(), fresh.find(POOL, att("c9")));
    }
    assertFalse(Files.exists(netDir.resolve(".jipam-addr")));
    assertFalse(Files.exists(netDir.resolve(".jipam-cursor")));
    assertFalse(Files.exists(oldStampTemp));
  }

  /**
   * A temp file a crash left under the name a call writes its next one to (a file, a symlink out of
   * the data dir, a dangling symlink), or the same in place of the stamp or of a cursor (both
   * written in place): the call removes it, never writes through it, and succeeds, on this store
   * and on the write-through store (which reads no directory while its stamp holds).
   */
  @Test
  void allocate_tempNameTakenByLeftover_leftoverRemovedNothingFollowed() throws Exception {
    Path outside = Files.writeString(root.resolve("outside"), "untouched");
    allocated("c0");
    Path stamp = dataDir.resolve(".jipam/net/stamp");
    Path cursor = netDir.resolve("last_reserved_ip.0");
    List<Path> temps = List.of(stamp, cursor, netDir.resolve(".jipam-addr"));
    int n = 0;
    try (IpamStore writeThrough = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      for (IpamStore s : List.of(store, writeThrough)) {
        for (String kind : List.of("file", "symlink", "dangling")) {
          for (Path temp : temps) {
            Files.deleteIfExists(temp); // the stamp is there
            switch (kind) {
              case "file" -> Files.writeString(temp, "left by a crash");
              case "symlink" -> Files.createSymbolicLink(temp, outside);
              default -> Files.createSymbolicLink(temp, root.resolve("nowhere"));
            }
            String id = "c" + ++n;
            List<Allocation> got = allocatedIn(s, id);
            assertEquals(2, got.size(), kind + " " + temp);
            if (temp.equals(stamp) && s == writeThrough) {
              // jipamd's store holds the stamp while it is open (PoolSession): no stamp for anyone
              // (a dangling link may stay until its close writes the stamp), never written through
              assertFalse(Files.isRegularFile(temp, java.nio.file.LinkOption.NOFOLLOW_LINKS), kind + " " + temp);
            } else if (temp.equals(stamp)) {
              assertTrue(Files.isRegularFile(temp, java.nio.file.LinkOption.NOFOLLOW_LINKS), kind + " " + temp);
              assertTrue(Files.readString(temp).startsWith("v4\t"), kind + " " + temp);
            } else if (temp.equals(cursor)) {
              assertTrue(Files.isRegularFile(temp, java.nio.file.LinkOption.NOFOLLOW_LINKS), kind + " " + temp);
              assertEquals(got.get(0).address().toString(), Files.readString(temp), kind + " " + temp);
            } else {
              assertFalse(Files.exists(temp, java.nio.file.LinkOption.NOFOLLOW_LINKS), kind + " " + temp);
            }
            assertEquals("untouched", Files.readString(outside), kind + " " + temp);
            assertFalse(Files.exists(root.resolve("nowhere")), kind + " " + temp);
            assertEquals(id + "\r\neth0", Files.readString(netDir.resolve(got.get(0).address().toString())));
            assertEquals(got, s.release(POOL, att(id)));
          }
        }
      }
    }
    assertTrue(Files.readString(stamp).startsWith("v4\t"), "the write-through store's close writes its stamp back");
    try (IpamStore fresh = newStore()) {
      assertEquals(List.of(att("c0"), att("c0")), fresh.list(POOL).stream().map(Allocation::attachment).toList());
    }
  }

  @Test
  void pool_networkNameEscapingDataDir_refusedAndNothingWritten() throws Exception {
    for (String bad : List.of("../x", "..", ".", "a/b", "/etc", ".jipam", "")) {
      IpamException e = assertThrows(IpamException.class, () -> {
        Pool p = pool(bad, AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
        store.allocate(p, AllocationRequest.of(att("c1")));
      }, bad);
      assertEquals(ErrorCode.INVALID_CONFIG, e.code(), bad);
      assertEquals(7, e.code().cniCode());
      IpamException direct = assertThrows(IpamException.class, () -> new PoolDir(dataDir, bad, false), bad);
      assertEquals(ErrorCode.INVALID_CONFIG, direct.code());
    }
    for (String badId : List.of("../x", "a/../../b", "-x", "a\r\nb")) {
      IpamException e = assertThrows(IpamException.class, () -> store.allocate(POOL, AllocationRequest.of(att(badId))));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    }
    assertFalse(Files.exists(dataDir), "nothing written");
    try (Stream<Path> s = Files.list(root)) {
      assertEquals(List.of(), s.toList());
    }
  }

  @Test
  void parseHolder_bothHostLocalFormats_parsed() {
    assertEquals(att("abc"), AddressFileText.parseHolder("abc\r\neth0".getBytes(StandardCharsets.UTF_8)));
    assertEquals(att("abc"), AddressFileText.parseHolder("abc\r\neth0\n".getBytes(StandardCharsets.UTF_8)));
    assertEquals(new Attachment("abc", AddressFileText.LEGACY_IFNAME), AddressFileText.parseHolder("abc".getBytes(StandardCharsets.UTF_8)));
    assertEquals(AddressFileText.UNREADABLE, AddressFileText.parseHolder(new byte[0]));
  }

  @Test
  void indexEscape_podWithSeparators_roundTrips() throws Exception {
    PodRef pod = new PodRef("n\ts%", "p\r\nq");
    store.allocate(POOL, new AllocationRequest(att("c1"), List.of(), pod));
    try (IpamStore fresh = newStore()) {
      assertEquals(pod, fresh.find(POOL, att("c1")).get(0).pod());
    }
  }

  @Test
  void allocate_lowestFreeBehindManyTaken_fallsBackToIndexAndPicksLowest() {
    Pool low = pool("low", AllocationOrder.LOWEST_FREE, "198.18.0.0/22");
    for (int i = 0; i < 600; i++) {
      store.allocate(low, AllocationRequest.of(att("c" + i)));
    }
    store.release(low, att("c100")); // 198.18.0.102
    try (IpamStore s = newStore()) {
      AllocationOutcome o = s.allocate(low, AllocationRequest.of(att("n1")));
      assertEquals(ip("198.18.0.102"), assertInstanceOf(AllocationOutcome.Allocated.class, o).allocations().get(0).address());
      o = s.allocate(low, AllocationRequest.of(att("n2"))); 
      assertEquals(ip("198.18.2.90"), assertInstanceOf(AllocationOutcome.Allocated.class, o).allocations().get(0).address());
      assertEquals(601, s.list(low).size());
    }
  }

  @Test
  void index_manyAppends_compactedIntoSnapshot() throws Exception {
    long saved = IndexFile.slack;
    IndexFile.slack = 0;
    try {
      Path index = dataDir.resolve(".jipam/net/index");
      for (int i = 0; i < 40; i++) {
        try (IpamStore s = newStore()) { // a one-shot process per call
          allocatedIn(s, "keep" + i);
          allocatedIn(s, "tmp" + i);
          s.release(POOL, att("tmp" + i));
        }
        long lines = Files.exists(index) ? Files.readAllLines(index).size() : 0; // one-shot: dropped when due
        assertTrue(lines <= 2 * (2 * (i + 1) + 2) + 12, "index stays compact: " + lines + " lines after " + i);
      }
      try (IpamStore s = newStore()) {
        assertEquals(80, s.list(POOL).size());
        assertEquals(new PodRef("ns", "keep7"), s.find(POOL, att("keep7")).get(0).pod());
      }
    } finally {
      IndexFile.slack = saved;
    }
  }

  /** Records every force: which path, and whether it is the directory (metadata). */
  static final class CountingForcer extends PoolDir.Forcer {
    final List<String> forced = new ArrayList<>();

    @Override
    void force(Path path, java.nio.channels.FileChannel channel, boolean metaData) throws java.io.IOException {
      forced.add(path.getFileName() + (metaData ? " (dir)" : ""));
      super.force(path, channel, metaData);
    }
  }

  /**
   * With fsync, every address file is forced before it is linked into place, every cursor once
   * written in place, and the network directory before the call returns; the stamp never is. The forces are counted, so a store
   * that ignored fsync would fail here (issue 7, defect 12).
   */
  @Test
  void open_withFsync_forcesAddressFilesCursorsAndDirectory() throws Exception {
    CountingForcer counting = new CountingForcer();
    try (IpamStore s = new HostLocalStore(dataDir, counting, HostLocalStore.Mode.AUTO)) {
      List<Allocation> got = allocatedIn(s, "c1");
      assertEquals("c1\r\neth0", Files.readString(netDir.resolve(got.get(0).address().toString())));
      // address files are forced under their temp name, cursors in place, then the directory
      assertEquals(2, counting.forced.stream().filter(".jipam-addr"::equals).count(), counting.forced::toString);
      assertEquals(1, counting.forced.stream().filter("last_reserved_ip.0"::equals).count(), counting.forced::toString);
      assertEquals(1, counting.forced.stream().filter("last_reserved_ip.1"::equals).count(), counting.forced::toString);
      assertTrue(counting.forced.contains("net (dir)"), counting.forced::toString);
      assertFalse(counting.forced.contains("stamp"), "the stamp need not survive a power loss: " + counting.forced);
      assertTrue(counting.forced.lastIndexOf("net (dir)") > counting.forced.lastIndexOf("last_reserved_ip.1"),
          "the directory is forced after the files are in place: " + counting.forced);
      counting.forced.clear();
      assertEquals(got, s.release(POOL, att("c1")));
      assertTrue(counting.forced.contains("net (dir)"), "the deletions are forced: " + counting.forced);
      assertEquals(List.of(), s.list(POOL));
    }
  }

  static List<Allocation> allocatedIn(IpamStore s, String id) {
    AllocationOutcome o = s.allocate(POOL, new AllocationRequest(att(id), List.of(), new PodRef("ns", id)));
    return assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations();
  }

  @Test
  void list_otherJipamStoreChangedWithinSameMtime_seenByCachedStore() throws Exception {
    allocated("c1");
    allocated("c2");
    assertEquals(4, store.list(POOL).size()); // the default store now holds a cached whole state
    FileTime before = Files.getLastModifiedTime(netDir);
    try (IpamStore other = newStore()) {
      other.release(POOL, att("c1"));
    }
    Files.setLastModifiedTime(netDir, before); // as if in the same clock tick
    assertEquals(List.of(att("c2"), att("c2")), store.list(POOL).stream().map(Allocation::attachment).toList());
  }

  Path record(String id) {
    return dataDir.resolve(".jipam/net/att/" + id + "@eth0");
  }

  /** Restores the records directory's mtime, so that the stamp cannot see what a test did. */
  void hideRecordChange(FileTime before) throws Exception {
    Files.setLastModifiedTime(dataDir.resolve(".jipam/net/att"), before);
  }

  @Test
  void record_crashAfterRecordBeforeAddressFile_supersetIgnored() throws Exception {
    allocated("c1"); // .2
    // what a process killed between writing c2's record and creating its address files leaves
    FileTime before = Files.getLastModifiedTime(dataDir.resolve(".jipam/net/att"));
    Files.writeString(record("c2"), "c2\teth0\n198.18.0.3\tns\tc2\nfd00:7::3\tns\tc2\n");
    hideRecordChange(before); // even when the stamp cannot tell
    try (IpamStore s = newStore()) {
      assertEquals(List.of(), s.find(POOL, att("c2")));
      assertEquals(List.of(), s.release(POOL, att("c2")));
      List<Allocation> got = allocatedIn(s, "c3");
      assertEquals(ip("198.18.0.3"), got.get(0).address(), "a record alone does not take an address");
      assertEquals(List.of(), s.find(POOL, att("c2")), "c2's stale entry now names c3's file");
      assertEquals(got, s.find(POOL, att("c3")));
      assertEquals(4, s.list(POOL).size());
    }
    // and when the stamp does see it (the usual case: the killed call never wrote its stamp)
    Files.writeString(record("c4"), "c4\teth0\n198.18.0.9\tns\tc4\n");
    try (IpamStore s = newStore()) {
      assertEquals(List.of(), s.find(POOL, att("c4")));
      assertFalse(Files.exists(record("c4")), "the rebuild dropped a record that holds nothing");
    }
  }

  @Test
  void record_missingCorruptOrStale_stillCorrect() throws Exception {
    allocated("c1");
    allocated("c2");
    allocated("c3");
    FileTime before = Files.getLastModifiedTime(dataDir.resolve(".jipam/net/att"));
    Files.delete(record("c1")); // missing: seen by the records directory's mtime
    Files.writeString(record("c2"), "garbage"); // corrupt: seen when read
    hideRecordChange(before);
    try (IpamStore s = newStore()) {
      assertEquals(List.of(ip("198.18.0.3"), ip("fd00:7::3")), s.find(POOL, att("c2")).stream().map(Allocation::address).toList());
    }
    Files.delete(record("c1"));
    try (IpamStore s = newStore()) {
      AllocationOutcome again = s.allocate(POOL, AllocationRequest.of(att("c1")));
      assertTrue(assertInstanceOf(AllocationOutcome.Allocated.class, again).existing(), "no second address for c1");
      assertEquals(ip("198.18.0.2"), s.find(POOL, att("c1")).get(0).address());
    }
    // stale: the record names another attachment's (re-assigned) file, mtimes hidden
    Files.writeString(record("c3"), "c3\teth0\n198.18.0.3\tns\tc3\n198.18.0.4\tns\tc3\nfd00:7::4\tns\tc3\n");
    hideRecordChange(before);
    try (IpamStore s = newStore()) {
      assertEquals(List.of(ip("198.18.0.4"), ip("fd00:7::4")), s.find(POOL, att("c3")).stream().map(Allocation::address).toList());
      assertEquals(2, s.release(POOL, att("c3")).size());
      assertEquals("c2\r\neth0", Files.readString(netDir.resolve("198.18.0.3")), "never deletes another's file");
      assertEquals(4, s.list(POOL).size());
    }
  }

  @Test
  void record_originsKept_readBackByAFreshStore() throws Exception {
    allocated("c1");
    allocated("c2", "198.18.0.77");
    assertEquals("c1\teth0\n198.18.0.2\tns\tc1\tfree\nfd00:7::2\tns\tc1\tfree\n", Files.readString(record("c1")));
    try (IpamStore s = newStore()) {
      assertEquals(List.of(AllocationOrigin.FREE, AllocationOrigin.FREE),
          s.find(POOL, att("c1")).stream().map(Allocation::origin).toList());
      assertEquals(List.of(AllocationOrigin.REQUESTED, AllocationOrigin.FREE),
          s.find(POOL, att("c2")).stream().map(Allocation::origin).toList());
      assertEquals(List.of(AllocationOrigin.FREE, AllocationOrigin.REQUESTED, AllocationOrigin.FREE,
          AllocationOrigin.FREE), s.list(POOL).stream().map(Allocation::origin).toList(), "list reads the index");
    }
    Files.delete(dataDir.resolve(".jipam/net/stamp"));
    try (IpamStore s = newStore()) {
      assertEquals(AllocationOrigin.REQUESTED, s.find(POOL, att("c2")).get(0).origin(), "a rebuild reads the records");
    }
  }

  @Test
  void record_originThisVersionDoesNotKnow_readsAsNotRecordedKeepingAddressesAndPod() throws Exception {
    allocated("c1");
    allocated("c2");
    store.close();
    // a later version's label (as long as "free", so the index keeps its length) in c1's record and the index
    Path jipamDir = dataDir.resolve(".jipam/net");
    Files.writeString(record("c1"), Files.readString(record("c1")).replace("\tfree\n", "\tpool\n"));
    Path index = jipamDir.resolve("index");
    Files.writeString(index, Files.readString(index).replace("\tns\tc1\tfree\n", "\tns\tc1\tpool\n"));
    for (boolean rebuild : new boolean[] {false, true}) {
      if (rebuild) {
        Files.delete(jipamDir.resolve("stamp")); // the records are read again
      }
      try (IpamStore s = newStore()) {
        assertEquals(List.of(new Allocation(ip("198.18.0.2"), 0, att("c1"), new PodRef("ns", "c1")),
            new Allocation(ip("fd00:7::2"), 1, att("c1"), new PodRef("ns", "c1"))), s.find(POOL, att("c1")),
            "rebuild " + rebuild + ": addresses and pod kept, the origin not recorded");
        assertEquals(List.of(AllocationOrigin.FREE, AllocationOrigin.FREE),
            s.find(POOL, att("c2")).stream().map(Allocation::origin).toList(), "rebuild " + rebuild);
        assertEquals(4, s.list(POOL).size(), "rebuild " + rebuild);
      }
    }
    store = newStore();
  }

  /**
   * A data dir as jipam wrote it before origins were kept: records of three fields a line, an
   * index of format 4, a stamp of version 3. Made from one written now, since only those differ.
   */
  void rewriteAsVersion3() throws Exception {
    Path jipamDir = dataDir.resolve(".jipam/net");
    try (Stream<Path> records = Files.list(jipamDir.resolve("att"))) {
      for (Path r : records.toList()) {
        Files.writeString(r, Files.readString(r).replaceAll("\t[a-z]+\n", "\n"));
      }
    }
    Path index = jipamDir.resolve("index");
    Files.writeString(index, Files.readString(index).replace("jipam-hostlocal-index 5", "jipam-hostlocal-index 4")
        .replaceAll("\t-\n", "\n").replaceAll("\t[a-z]+\n", "\n").replaceAll("\tv4\t", "\tv3\t"));
    Path stamp = jipamDir.resolve("stamp");
    Files.writeString(stamp, Files.readString(stamp).replaceFirst("^v4\t", "v3\t"));
  }

  @Test
  void load_version3DataDirWithoutOrigins_readsAllocationsWithNoOrigin() throws Exception {
    allocated("c1");
    allocated("c2");
    store.close();
    rewriteAsVersion3();
    assertEquals("c1\teth0\n198.18.0.2\tns\tc1\nfd00:7::2\tns\tc1\n", Files.readString(record("c1")));
    store = newStore();
    assertEquals(List.of(new Allocation(ip("198.18.0.2"), 0, att("c1"), new PodRef("ns", "c1")),
        new Allocation(ip("fd00:7::2"), 1, att("c1"), new PodRef("ns", "c1"))), store.find(POOL, att("c1")),
        "pods kept, origins not recorded");
    AllocationOutcome.Allocated again = assertInstanceOf(AllocationOutcome.Allocated.class,
        store.allocate(POOL, new AllocationRequest(att("c1"), List.of(), new PodRef("ns", "c1"))));
    assertTrue(again.existing());
    assertEquals(null, again.allocations().get(0).origin(), "a repeated ADD records no origin after the fact");
    allocated("c3");
    // by address: c1, c2 and c3 in each range set
    assertEquals(java.util.Arrays.asList(null, null, AllocationOrigin.FREE, null, null, AllocationOrigin.FREE),
        store.list(POOL).stream().map(Allocation::origin).toList());
    assertTrue(Files.readString(dataDir.resolve(".jipam/net/stamp")).startsWith("v4\t"), "the stamp is upgraded");
    try (IpamStore s = newStore()) {
      assertEquals(java.util.Arrays.asList(null, null, AllocationOrigin.FREE, null, null, AllocationOrigin.FREE),
          s.list(POOL).stream().map(Allocation::origin).toList());
      assertEquals(List.of(AllocationOrigin.FREE, AllocationOrigin.FREE),
          s.find(POOL, att("c3")).stream().map(Allocation::origin).toList());
      assertEquals(new PodRef("ns", "c2"), s.find(POOL, att("c2")).get(0).pod());
    }
  }

  @Test
  void stamp_missingOrCorrupt_rebuildsAndKeepsEverything() throws Exception {
    allocated("c1");
    Path stamp = dataDir.resolve(".jipam/net/stamp");
    Files.delete(stamp);
    try (IpamStore s = newStore()) {
      assertEquals(new PodRef("ns", "c1"), s.find(POOL, att("c1")).get(0).pod());
    }
    assertTrue(Files.exists(stamp));
    Files.writeString(stamp, "1\tx");
    try (IpamStore s = newStore()) {
      assertEquals(2, allocatedIn(s, "c2").size());
      assertEquals(4, s.list(POOL).size());
    }
  }

  /** The stamp is written in place: a write cut short by a crash leaves no stamp, and the store rebuilds. */
  @Test
  void stamp_cutShortByCrash_isNoStampAndStoreRebuilds() throws Exception {
    allocated("c1");
    Path stamp = dataDir.resolve(".jipam/net/stamp");
    PoolDir d = new PoolDir(dataDir, "net", false);
    String whole = Files.readString(stamp);
    assertNotNull(Stamp.read(d), whole);
    for (String cut : List.of("", whole.substring(0, whole.length() / 2), whole.substring(0, whole.length() - 1))) {
      Files.writeString(stamp, cut);
      assertNull(Stamp.read(d), cut);
    }
    try (IpamStore s = newStore()) {
      assertEquals(2, allocatedIn(s, "c2").size());
      assertEquals(4, s.list(POOL).size());
    }
    assertNotNull(Stamp.read(d), "rewritten");
  }

  @Test
  void record_hostLocalFiles_getRecordsOnRebuild() throws Exception {
    allocated("c1");
    writeBehindBack("198.18.0.40", "hl\r\neth0", false);
    writeBehindBack("fd00:7::40", "hl\r\neth0", false);
    try (IpamStore s = newStore()) {
      assertEquals(2, s.find(POOL, att("hl")).size());
    }
    assertTrue(Files.exists(record("hl")));
    try (IpamStore s = newStore()) {
      assertEquals(2, s.release(POOL, att("hl")).size());
    }
    assertFalse(Files.exists(record("hl")));
    assertFalse(Files.exists(netDir.resolve("198.18.0.40")));
  }

  /**
   * A repeated ADD of one attachment after the network's ranges changed (a runtime's retry across a
   * config change) gets an address in the new ranges, and the record keeps the old one, still the
   * attachment's on disk: a DEL then releases both (the record listed only the new one, and the old
   * address file stayed for good).
   */
  @Test
  void allocate_sameAttachmentAfterTheRangesChanged_recordKeepsTheOldAddressDelReleasesBoth() throws Exception {
    rangesChanged(store, dataDir);
  }

  /** {@link #allocate_sameAttachmentAfterTheRangesChanged_recordKeepsTheOldAddressDelReleasesBoth} on a store of {@code dataDir}. */
  static void rangesChanged(IpamStore store, Path dataDir) throws Exception {
    java.util.function.Function<String, Pool> from = start -> new Pool("moved", List.of(new io.jipam.core.net.RangeSet(
        List.of(io.jipam.core.net.IpRange.withDefaults(io.jipam.core.net.Cidr.parse("198.18.0.0/24"), ip(start), null, null,
            null)))), AllocationOrder.ROUND_ROBIN);
    Pool before = from.apply("198.18.0.50");
    Pool after = from.apply("198.18.0.100");
    AllocationOutcome first = store.allocate(before, AllocationRequest.of(att("c1")));
    assertEquals(ip("198.18.0.50"), ((AllocationOutcome.Allocated) first).allocations().get(0).address(), first.toString());
    AllocationOutcome second = store.allocate(after, AllocationRequest.of(att("c1")));
    assertTrue(second instanceof AllocationOutcome.Allocated, second.toString());
    Path dir = dataDir.resolve("moved");
    assertTrue(Files.exists(dir.resolve("198.18.0.50")), "the old address is still the attachment's");
    store.release(after, att("c1"));
    List<String> left = new ArrayList<>();
    try (var files = Files.list(dir)) {
      files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("198.")).forEach(left::add);
    }
    assertEquals(List.of(), left, "every address of the attachment released");
  }
}
