package io.jipam.hostlocal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The lock files of the pools a long-lived store serves ({@link WriteThroughStore}, jipamd), kept
 * open between calls: a call then locks and unlocks the open file instead of opening, checking and
 * closing it (three system calls and a channel's set-up and clean-up, about 0.03 ms of jipamd's
 * time per CNI call).
 *
 * <h2>Design</h2>
 * A kept file is used only while it is still the file at its path: every call looks at the path
 * first, as {@link PoolDir#openLock} always has (its folders not links, the lock file a regular
 * file or absent), and compares the file's identity ({@code (dev, ino)}) with the kept one's. A lock
 * file removed (the pool's directory deleted) or replaced is opened again and the old one closed;
 * without that check the store would lock a file no other process locks. A file is kept only when
 * the path named the same file before and after it was opened (the open file, held open, cannot
 * give its inode number to another), so a kept channel is always the file it was checked as: one
 * this call created is kept at its next call. At most {@link #MAX} pools' files are kept (file
 * descriptors are bounded); the others are opened and closed per call as before.
 *
 * <p>Thread safety: calls on one pool are serialised by its JVM-wide lock ({@link PoolLock}), which
 * is taken before its file is looked up here; the map itself is concurrent.
 */
final class HeldLockFiles implements AutoCloseable {
  /** The most pools whose lock files are kept open. */
  static final int MAX = 64;

  private record Kept(FileChannel channel, Object key) {}

  private final Map<Path, Kept> kept = new ConcurrentHashMap<>();

  /**
   * The lock file of {@code d} opened, the kept one when it is still the file at the path. The
   * caller locks and unlocks a kept one ({@link #keeps}) without closing it, and {@link #forget}s it
   * when a lock or unlock fails; it closes one not kept.
   *
   * @throws IOException as {@link PoolDir#openLock}
   */
  FileChannel open(PoolDir d, boolean create) throws IOException {
    Object before = d.checkLockPath();
    Kept k = kept.get(d.dir);
    if (k != null) {
      if (before != null && before.equals(k.key) && k.channel.isOpen()) {
        return k.channel;
      }
      forget(d.dir); // removed or replaced since (the file others lock is the one at the path), or closed
    }
    FileChannel channel = d.openCheckedLock(create);
    if (before != null && kept.size() < MAX) {
      try {
        if (before.equals(d.checkLockPath())) {
          kept.put(d.dir, new Kept(channel, before));
        }
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }
    return channel;
  }

  /** Whether {@code channel} is kept here (not to be closed after the call). */
  boolean keeps(PoolDir d, FileChannel channel) {
    Kept k = kept.get(d.dir);
    return k != null && k.channel == channel;
  }

  /** A kept file whose lock or unlock failed: closed (which drops any lock) and opened again next call. */
  void forget(Path dir) {
    Kept k = kept.remove(dir);
    if (k != null) {
      closeQuietly(k.channel);
    }
  }

  /** Closes every kept file: the store is closing. */
  @Override
  public void close() {
    for (Path dir : kept.keySet()) {
      forget(dir);
    }
  }

  /** How many files are kept open (tests). */
  int size() {
    return kept.size();
  }

  static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // closing a lock file cannot lose data; its lock goes with the descriptor
    }
  }
}
