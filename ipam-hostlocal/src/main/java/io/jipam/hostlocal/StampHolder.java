package io.jipam.hostlocal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;

/**
 * Which long-lived store of a data dir holds its pools' stamps ({@link PoolSession}, "A held
 * stamp"): the one with an exclusive lock on {@code <dataDir>/.jipam/holder}, taken at its first
 * change and kept until it closes. Any other (a second jipamd on the same data dir, a second store
 * of one JVM) finds it locked and writes its stamps as every other process does.
 *
 * <h2>Why</h2>
 * Two holders never see each other: neither writes a stamp, and a change that leaves both watched
 * directories as they were (a reservation of an address in use: only the claims file changes) or
 * that the directories' clock does not show passed unseen; one jipamd served claims the other had
 * changed, and wrote its stale claim count back at close. With one holder, every other writer leaves
 * a stamp the holder reads as a foreign change.
 *
 * <p>The lock's file is checked again at every call ({@link #lost}: its identity at the path, one
 * {@code lstat}): the file removed (by hand, or with the data dir) or replaced under a running
 * jipamd stops it holding for good, so a jipamd started meanwhile, which locks the new file, holds
 * alone. Thread-safe.
 */
final class StampHolder implements AutoCloseable {
  static final String FILE = "holder";
  private static final Set<OpenOption> OPEN = Set.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE,
      LinkOption.NOFOLLOW_LINKS);
  private static final java.nio.file.attribute.FileAttribute<Set<java.nio.file.attribute.PosixFilePermission>> MODE =
      java.nio.file.attribute.PosixFilePermissions.asFileAttribute(Set.of(
          java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE));

  private final Path file;
  private boolean tried;
  private boolean holds;
  /** It held, and its lock's file is no longer the path's: it never holds again. */
  private boolean lost;
  private FileChannel channel;
  private FileLock lock;
  private Object key;

  StampHolder(Path dataDir) {
    this.file = dataDir.resolve(PoolDir.JIPAM_DIR).resolve(FILE);
  }

  /**
   * Whether this store holds the data dir's stamps: the lock is tried once, when first asked (the
   * data dir's {@code .jipam} folder exists by then: asked at a call's first change), and kept.
   */
  synchronized boolean holds() {
    if (!tried) {
      tried = true;
      holds = acquire();
    }
    return holds;
  }

  /**
   * Whether this store held the stamps and no longer may: its lock is not on the file at the path
   * (removed, or replaced). It then stops holding for good (the lock is let go), and this stays
   * true. False when it holds still, and when it never held.
   */
  synchronized boolean lost() {
    if (lost) {
      return true;
    }
    if (!holds) {
      return false;
    }
    try {
      if (key.equals(Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey())) {
        return false;
      }
    } catch (IOException e) {
      // removed (the data dir deleted): no longer the holder
    }
    letGo();
    lost = true;
    return true;
  }

  private boolean acquire() {
    try {
      Object before = keyAtPath();
      channel = FileChannel.open(file, OPEN, MODE); // 0600 from its creation, as every file of the data dir
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null; // another store of this JVM holds it
      }
      // held only when the lock is on the file at the path (the path named it before and after the
      // open; the open file keeps its inode number from being reused)
      key = keyAtPath();
      if (lock != null && key != null && (before == null || before.equals(key))) {
        return true;
      }
    } catch (IOException e) {
      System.err.println("jipam: " + file + " cannot be locked (" + e.getMessage() + "): this store writes its"
          + " pools' stamps as every process does");
    }
    letGo();
    return false;
  }

  private Object keyAtPath() throws IOException {
    return PoolDir.regularFileKey(file);
  }

  private void letGo() {
    holds = false;
    if (channel != null) {
      try {
        channel.close(); // the lock goes with it
      } catch (IOException e) {
        // nothing written through it
      }
      channel = null;
      lock = null;
    }
  }

  @Override
  public synchronized void close() {
    letGo();
  }
}
