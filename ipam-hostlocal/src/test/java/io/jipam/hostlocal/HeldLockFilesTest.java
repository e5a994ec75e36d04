package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.capability.LocalCalls;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HeldLockFiles}: a pool's lock file is kept open between calls only while it is the file at
 * its path, and the store locks the path's file, unlocked between calls.
 */
class HeldLockFilesTest {
  @TempDir Path dataDir;

  private PoolDir dir(String network) {
    return new PoolDir(dataDir, network, false);
  }

  @Test
  void open_lockFileCreatedByTheCall_keptFromItsNextCallOn() throws IOException {
    try (HeldLockFiles held = new HeldLockFiles()) {
      PoolDir d = dir("net");
      FileChannel created = held.open(d, true);
      assertFalse(held.keeps(d, created), "created by this call: its identity was not seen before the open");
      created.close(); // the caller closes what is not kept
      FileChannel second = held.open(d, true);
      assertTrue(held.keeps(d, second));
      assertSame(second, held.open(d, true), "the same file at the path: the kept channel");
      assertEquals(1, held.size());
    }
  }

  /** A change to a pool's files between two calls. */
  private interface Change {
    void apply(PoolDir d) throws IOException;
  }

  /** The path's file changes between calls: each row is a way it can. */
  @Test
  void open_lockFileNoLongerThePathsFile_reopenedTheOldClosed() throws IOException {
    record Row(String name, Change change) {}
    Row[] rows = {
        new Row("removed and created again", d -> {
          Files.delete(d.dir.resolve(PoolDir.LOCK));
          Files.createFile(d.dir.resolve(PoolDir.LOCK));
        }),
        new Row("replaced by a rename", d -> {
          Path other = d.dir.resolve("other");
          Files.createFile(other);
          Files.move(other, d.dir.resolve(PoolDir.LOCK), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
              java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }),
        new Row("pool directory removed", d -> {
          try (Stream<Path> all = Files.walk(d.dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
              Files.delete(p);
            }
          }
        }),
    };
    for (Row row : rows) {
      try (HeldLockFiles held = new HeldLockFiles()) {
        PoolDir d = dir("net-" + row.name.replace(' ', '-'));
        held.open(d, true).close(); // created: not kept
        FileChannel kept = held.open(d, true);
        assertTrue(held.keeps(d, kept), row.name);
        row.change.apply(d);
        FileChannel now = held.open(d, true);
        assertNotSame(kept, now, row.name);
        assertFalse(kept.isOpen(), row.name + ": the old file's descriptor is closed");
        assertTrue(Files.isRegularFile(d.dir.resolve(PoolDir.LOCK)), row.name);
        if (!held.keeps(d, now)) {
          now.close(); // created by that call: kept from the next
          now = held.open(d, true);
        }
        assertTrue(held.keeps(d, now), row.name);
        // the kept channel is the path's file: a lock through it conflicts with one through the path
        try (FileLock lock = now.lock(); FileChannel viaPath = FileChannel.open(d.dir.resolve(PoolDir.LOCK),
            StandardOpenOption.WRITE)) {
          assertNotNull(lock);
          assertThrows(java.nio.channels.OverlappingFileLockException.class, viaPath::tryLock, row.name);
        }
      }
    }
  }

  @Test
  void open_folderReplacedByALink_refusedKeptFileNotUsed() throws IOException {
    try (HeldLockFiles held = new HeldLockFiles()) {
      PoolDir d = dir("net");
      held.open(d, true).close();
      held.open(d, true);
      Path elsewhere = Files.createDirectory(dataDir.resolveSibling(dataDir.getFileName() + "-elsewhere"));
      try {
        Files.move(d.dir, elsewhere.resolve("moved"));
        Files.createSymbolicLink(d.dir, elsewhere.resolve("moved"));
        IOException e = assertThrows(IOException.class, () -> held.open(d, true));
        assertTrue(e.getMessage().contains("is a symbolic link"), e.getMessage());
      } finally {
        Files.deleteIfExists(d.dir);
        try (Stream<Path> all = Files.walk(elsewhere)) {
          for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        }
      }
    }
  }

  @Test
  void open_morePoolsThanTheBound_atMostMaxKept() throws IOException {
    try (HeldLockFiles held = new HeldLockFiles()) {
      for (int i = 0; i < HeldLockFiles.MAX + 8; i++) {
        PoolDir d = dir("net" + i);
        held.open(d, true).close();
        FileChannel c = held.open(d, true);
        if (!held.keeps(d, c)) {
          c.close();
        }
      }
      assertEquals(HeldLockFiles.MAX, held.size());
    }
  }

  @Test
  void close_everyKeptFileClosed() throws IOException {
    HeldLockFiles held = new HeldLockFiles();
    PoolDir d = dir("net");
    held.open(d, true).close();
    FileChannel kept = held.open(d, true);
    held.close();
    assertFalse(kept.isOpen());
    assertEquals(0, held.size());
  }

  /**
   * jipamd's store keeps the lock file open between its calls, unlocked: between calls another
   * holder may take it; after the file was replaced the store locks the new one (held through
   * another channel here, the store's call cannot have it: without waiting it says so), never the
   * removed file no other process would lock.
   */
  @Test
  void calls_writeThroughStore_unlockedBetweenCallsAndThePathsFileLocked() throws Exception {
    try (IpamStore jipamd = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      Path lock = dataDir.resolve("net").resolve(PoolDir.LOCK);
      for (int i = 0; i < 3; i++) {
        add(jipamd, "c" + i);
        try (FileChannel other = FileChannel.open(lock, StandardOpenOption.WRITE); FileLock l = other.tryLock()) {
          assertNotNull(l, "not locked between calls");
        }
        Files.delete(lock);
        Files.createFile(lock);
        try (FileChannel other = FileChannel.open(lock, StandardOpenOption.WRITE); FileLock l = other.lock()) {
          int n = i;
          assertThrows(LocalCalls.WouldWait.class,
              () -> LocalCalls.withoutWaiting(() -> jipamd.allocate(HostLocalStoreFilesTest.POOL,
                  AllocationRequest.of(new Attachment("blocked" + n, "eth0")))),
              "the new lock file is held: the store must find it so");
        }
      }
      assertEquals(6, jipamd.list(HostLocalStoreFilesTest.POOL).size(), "three attachments, two addresses each");
    }
  }

  private static void add(IpamStore store, String id) {
    AllocationOutcome out = store.allocate(HostLocalStoreFilesTest.POOL, AllocationRequest.of(new Attachment(id, "eth0")));
    assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString);
  }
}
