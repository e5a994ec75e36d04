package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Claim;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.ReserveOutcome;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** On-disk cases of {@link HostLocalStoreFilesTest} that hold for jipamd's file store too (state in memory, files written through). */
class WriteThroughStoreFilesTest {
  @TempDir Path dataDir;

  @Test
  void allocate_sameAttachmentAfterTheRangesChanged_recordKeepsTheOldAddressDelReleasesBoth() throws Exception {
    try (IpamStore store = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      HostLocalStoreFilesTest.rangesChanged(store, dataDir);
    }
  }

  private static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }

  private static List<Allocation> add(IpamStore store, String id) {
    AllocationOutcome out = store.allocate(HostLocalStoreFilesTest.POOL, AllocationRequest.of(att(id)));
    return assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString).allocations();
  }

  /**
   * While jipamd's store is open it holds the pool's stamp: its first change removes the stamp
   * file, and later calls neither write a stamp nor append to the index (the system calls a CNI
   * call saves). Another store on the data dir (the plugin in direct mode) finds no stamp, rebuilds
   * from the address files and sees every allocation; the holder then sees that one's change. At
   * close the stamp and an index snapshot are written back, and the next store reads the index.
   */
  @Test
  void calls_whileTheStoreHoldsTheStamp_noStampOrIndexWrittenOthersRebuildCloseWritesThemBack() throws Exception {
    PoolDir d = new PoolDir(dataDir, "net", false);
    IpamStore jipamd = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE);
    try {
      add(jipamd, "c0");
      assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "held from the first change on");
      long index = Files.exists(d.index) ? Files.size(d.index) : -1;
      for (int i = 1; i <= 8; i++) {
        add(jipamd, "c" + i);
        assertEquals(2, jipamd.release(HostLocalStoreFilesTest.POOL, att("c" + i)).size());
      }
      add(jipamd, "c9");
      assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "no stamp written while held");
      assertEquals(index, Files.exists(d.index) ? Files.size(d.index) : -1, "nothing appended to the index while held");
      try (IpamStore plugin = HostLocalStores.open(dataDir)) {
        assertEquals(List.of("c0", "c0", "c9", "c9"), plugin.list(HostLocalStoreFilesTest.POOL).stream()
            .map(a -> a.attachment().containerId()).sorted().toList(), "rebuilt from the address files");
        add(plugin, "p1");
        assertEquals(2, plugin.release(HostLocalStoreFilesTest.POOL, att("c0")).size());
      }
      assertTrue(Stamp.read(d) != null, "the plugin left a stamp");
      assertEquals(List.of("c9", "c9", "p1", "p1"), jipamd.list(HostLocalStoreFilesTest.POOL).stream()
          .map(a -> a.attachment().containerId()).sorted().toList(), "the holder sees the plugin's changes");
      add(jipamd, "c10");
      assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "held again after its next change");
    } finally {
      jipamd.close();
    }
    Stamp back = Stamp.read(d);
    assertNotNull(back, "close writes the stamp back");
    IndexFile.Tail tail = IndexFile.tail(d);
    assertNotNull(tail, "and an index snapshot");
    assertEquals(back.text(), tail.stamp, "the index belongs to that stamp: the next process reads it");
    try (IpamStore again = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      assertEquals(List.of("c10", "c10", "c9", "c9", "p1", "p1"), again.list(HostLocalStoreFilesTest.POOL).stream()
          .map(a -> a.attachment().containerId()).sorted().toList());
    }
  }

  /**
   * A stamp another process wrote while the store held the pool's is never taken for the store's
   * own, even when its text is the same: the other process's generations restart at 1 (it found no
   * stamp), so after a few claims-only changes (which leave both watched directories as they were)
   * its stamp matched the held one word for word, and the store served its stale claims: a
   * reservation moved to another pod was still the old pod's (helper review, session 28).
   */
  @Test
  void begin_foreignStampEqualToTheHeldOne_readAsAForeignChange() throws Exception {
    Pool pool = HostLocalStoreFilesTest.POOL;
    try (IpamStore jipamd = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      add(jipamd, "a1");
      IpAddress reserved = add(jipamd, "a2").get(0).address();
      try (IpamStore ctl = HostLocalStores.open(dataDir)) {
        assertInstanceOf(ReserveOutcome.Reserved.class,
            claims(ctl).reserve(pool, reserved, new PodRef("ns", "y"), true));
      }
      add(jipamd, "a3"); // reads the other's stamp; its held stamp is the next generation
      try (IpamStore ctl = HostLocalStores.open(dataDir)) { // no stamp: rebuilt, generations from 1 again
        assertTrue(claims(ctl).unreserve(pool, reserved).isPresent());
      }
      try (IpamStore ctl = HostLocalStores.open(dataDir)) {
        assertInstanceOf(ReserveOutcome.Reserved.class,
            claims(ctl).reserve(pool, reserved, new PodRef("ns", "z"), true));
      }
      List<Claim> seen = claims(jipamd).claims(pool);
      assertEquals(1, seen.size(), seen::toString);
      assertEquals(new PodRef("ns", "z"), seen.get(0).pod(), "the store must see the other process's reservation");
    }
  }

  /**
   * A reserved address's marker replaced by a holder's file in a way the directories' mtime does not
   * show (a change within one tick of a coarse file system clock; emulated by setting the mtime
   * back): the reserved pod's ADD must not write over that holder's file, on jipamd's store and the
   * plugin's. It renamed over it without looking, and two attachments had the address.
   */
  @Test
  void allocate_markerReplacedUnseen_holdersFileKeptNotWrittenOver() throws Exception {
    Pool pool = HostLocalStoreFilesTest.POOL;
    record Row(String name, boolean writeThrough) {}
    for (Row row : List.of(new Row("jipamd's store", true), new Row("the plugin's store", false))) {
      Path data = dataDir.resolve(row.writeThrough ? "wt" : "plugin");
      try (IpamStore store = row.writeThrough ? HostLocalStores.openWriteThrough(data, FileSync.NONE)
          : HostLocalStores.open(data)) {
        IpAddress reserved = add(store, "a1").get(0).address();
        store.release(pool, att("a1"));
        assertInstanceOf(ReserveOutcome.Reserved.class, claims(store).reserve(pool, reserved, new PodRef("ns", "y"), false));
        PoolDir d = new PoolDir(data, pool.name(), false);
        Path file = d.addressFile(reserved);
        assertEquals(AddressFileText.CLAIMED, PoolDir.holderAt(file), row.name);
        java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(d.dir);
        Path foreign = d.dir.resolve("foreign.tmp");
        Files.write(foreign, "intruder\r\neth0".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Files.move(foreign, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.setLastModifiedTime(d.dir, mtime); // the change the clock did not show
        AllocationOutcome out = store.allocate(pool, new AllocationRequest(att("y1"), List.of(), new PodRef("ns", "y")));
        assertEquals(new Attachment("intruder", "eth0"), PoolDir.holderAt(file), row.name + ": written over by " + out);
        if (out instanceof AllocationOutcome.Allocated got) {
          assertTrue(got.allocations().stream().noneMatch(a -> a.address().equals(reserved)), row.name + ": " + out);
        }
      }
    }
  }

  /**
   * Two long-lived stores on one data dir (two jipamds): one holds the stamps, the other writes them
   * as every process does, so each sees the other's changes, claims-only ones included. Both held,
   * and a reservation made through one was never seen by the other, which also wrote its stale
   * claim count back at close (helper review, session 28).
   */
  @Test
  void calls_twoStoresOnOneDataDir_onlyOneHoldsEachSeesTheOthersClaims() throws Exception {
    Pool pool = HostLocalStoreFilesTest.POOL;
    PoolDir d = new PoolDir(dataDir, pool.name(), false);
    try (IpamStore a = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE);
        IpamStore b = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      IpAddress used = add(a, "a1").get(0).address();
      assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "the first store holds");
      add(b, "b1");
      assertTrue(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "the second writes its stamp");
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(
          dataDir.resolve(PoolDir.JIPAM_DIR).resolve(StampHolder.FILE), LinkOption.NOFOLLOW_LINKS)), "the holder file's mode");
      add(a, "a2");
      assertInstanceOf(ReserveOutcome.Reserved.class, claims(b).reserve(pool, used, new PodRef("ns", "z"), true));
      List<Claim> seen = claims(a).claims(pool);
      assertEquals(1, seen.size(), "the holder sees the other's reservation: " + seen);
      assertEquals(new PodRef("ns", "z"), seen.get(0).pod());
      assertEquals(2, a.release(pool, att("a1")).size());
      assertEquals(AddressFileText.CLAIMED, PoolDir.holderAt(d.addressFile(used)), "the reservation's marker left at the DEL");
    }
    try (IpamStore plugin = HostLocalStores.open(dataDir)) {
      List<Claim> after = claims(plugin).claims(pool);
      assertEquals(1, after.size(), "closing wrote no stale claims back: " + after);
    }
  }

  /**
   * The data dir deleted and made again under a store that held its stamps: the store's lock is on
   * a removed file, so it stops holding (it writes its stamps), and a store opened on the new data
   * dir holds alone.
   */
  @Test
  void calls_dataDirMadeAgainUnderTheHolder_itStopsHoldingANewStoreHolds() throws Exception {
    Pool pool = HostLocalStoreFilesTest.POOL;
    PoolDir d = new PoolDir(dataDir, pool.name(), false);
    try (IpamStore first = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      add(first, "f1");
      try (var files = Files.walk(dataDir)) {
        for (Path p : files.sorted(java.util.Comparator.reverseOrder()).filter(p -> !p.equals(dataDir)).toList()) {
          Files.delete(p);
        }
      }
      add(first, "f2");
      assertTrue(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "no longer the holder: it writes its stamp");
      try (IpamStore second = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
        add(second, "s1");
        assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "the new store holds");
        add(first, "f3");
        assertEquals(List.of("f2", "f3", "s1"), second.list(pool).stream().map(a -> a.attachment().containerId())
            .distinct().sorted().toList(), "the holder sees the other's change");
      }
    }
  }

  /**
   * The holder's lock file removed by hand under the holder (a cleanup): the holder stops holding
   * at its next call, so a store started since, which locks the new file, holds alone and each sees
   * the other's claims. The holder only looked again when a call could not take the held path, and
   * two held: a reservation through one unknown to the other (helper review).
   */
  @Test
  void calls_holderFileRemovedUnderTheHolder_itStopsHoldingTheNewStoreHoldsAlone() throws Exception {
    Pool pool = HostLocalStoreFilesTest.POOL;
    PoolDir d = new PoolDir(dataDir, pool.name(), false);
    try (IpamStore first = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      IpAddress used = add(first, "f1").get(0).address();
      assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "held");
      Files.delete(dataDir.resolve(PoolDir.JIPAM_DIR).resolve(StampHolder.FILE));
      add(first, "f2");
      assertTrue(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "no longer the holder: it writes its stamp");
      try (IpamStore second = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
        add(second, "s1");
        assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "the new store holds");
        assertInstanceOf(ReserveOutcome.Reserved.class, claims(first).reserve(pool, used, new PodRef("ns", "v"), true));
        List<Claim> seen = claims(second).claims(pool);
        assertEquals(1, seen.size(), "the holder sees the other's reservation: " + seen);
      }
    }
  }

  private static Claims claims(IpamStore store) {
    return store.capability(Claims.class).orElseThrow();
  }

  /**
   * A data dir removed while the store holds its pools' stamps (a benchmark's or a test's temp dir
   * deleted before the jipamd on it stopped): the close writes nothing back and creates nothing.
   */
  @Test
  void close_dataDirRemovedWhileHeld_bringsNothingBack() throws Exception {
    Path data = dataDir.resolve("removed");
    IpamStore store = HostLocalStores.openWriteThrough(data, FileSync.NONE);
    add(store, "r1");
    try (var files = Files.walk(data)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    store.close();
    assertFalse(Files.exists(data), "the close created " + data + " again");
  }

  /** A store dropped without its close (jipamd killed) leaves no stamp: the next one rebuilds and loses nothing. */
  @Test
  void open_afterAHolderThatNeverClosed_rebuildsFromTheAddressFiles() throws Exception {
    IpamStore killed = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE);
    List<Allocation> held = add(killed, "k1");
    add(killed, "k2");
    killed.release(HostLocalStoreFilesTest.POOL, att("k2"));
    try (IpamStore next = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      assertEquals(held, next.find(HostLocalStoreFilesTest.POOL, att("k1")));
      assertEquals(List.of(), next.find(HostLocalStoreFilesTest.POOL, att("k2")));
      assertEquals(2, next.list(HostLocalStoreFilesTest.POOL).size());
    }
  }
}
