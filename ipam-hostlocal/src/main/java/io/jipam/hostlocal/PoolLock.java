package io.jipam.hostlocal;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.LocalCalls;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The two locks a call holds on one pool, taken in this order and released in reverse: a
 * JVM-wide {@link ReentrantLock} per network directory (static, keyed by the absolute path),
 * because {@link FileChannel#lock} is per process and throws {@link OverlappingFileLockException}
 * when two threads of one JVM ask for it; then an exclusive {@link FileChannel#lock} on {@code
 * <dataDir>/<network>/lock}, which serialises jipam processes (see {@link HostLocalStore} for how
 * that relates to host-local's {@code flock}). A call run {@link LocalCalls#withoutWaiting} takes
 * neither lock when it is held, and throws {@link LocalCalls.WouldWait} instead. A file lock the
 * kernel refuses as a deadlock (EDEADLK: its check sees processes, not threads, see {@link
 * NetworkPoolDirs}) is asked for again until it is granted. Not thread-safe: one call's, closed by
 * it.
 */
final class PoolLock implements AutoCloseable {
  /** Lock requests the kernel refused as a deadlock and this class asked again (tests read it). */
  static final java.util.concurrent.atomic.AtomicLong DEADLOCKS_AVOIDED = new java.util.concurrent.atomic.AtomicLong();

  /** Whether a lock request failed with EDEADLK (the JDK gives its message, not its number). */
  static boolean deadlockAvoided(IOException e) {
    return e.getMessage() != null && e.getMessage().contains("Resource deadlock avoided");
  }

  /** JVM-wide in-process locks, one per network directory. */
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  private final ReentrantLock jvmLock;
  private FileChannel channel;
  private FileLock fileLock;
  /** Where {@link #channel} is kept open between calls (it is unlocked, not closed), or null. */
  private HeldLockFiles held;
  private PoolDir dir;

  private PoolLock(ReentrantLock jvmLock) {
    this.jvmLock = jvmLock;
  }

  /**
   * Takes both locks on the pool's directory, creating the directories and the lock file when
   * missing; blocks until it has them. The directories are not looked at first: opening the lock
   * file fails when the network directory is missing, and only then are they created (jipam's
   * records directory is created by the first {@link Stamp#observe} that misses it).
   *
   * @throws IpamException {@code IO_FAILURE} when the lock file cannot be opened or locked,
   *     {@code TRY_AGAIN_LATER} when interrupted
   */
  static PoolLock acquire(PoolDir d, Pool pool) {
    return acquire(d, pool, true);
  }

  /**
   * {@link #acquire(PoolDir, Pool)}; without {@code create}, a pool whose directory is missing is
   * not brought back: {@code IO_FAILURE} naming the lock file instead.
   */
  static PoolLock acquire(PoolDir d, Pool pool, boolean create) {
    return acquire(d, pool, create, null);
  }

  /**
   * {@link #acquire(PoolDir, Pool, boolean)}, through the lock file {@code held} keeps open when it
   * is still the file at its path (null: opened and closed by this call).
   */
  static PoolLock acquire(PoolDir d, Pool pool, boolean create, HeldLockFiles held) {
    return acquire(d, pool.name(), create, held);
  }

  /** {@link #acquire(PoolDir, Pool, boolean, HeldLockFiles)} of the pool named {@code pool}. */
  static PoolLock acquire(PoolDir d, String pool, boolean create, HeldLockFiles held) {
    ReentrantLock jvm = JVM_LOCKS.get(d.dir);
    if (jvm == null) {
      ReentrantLock fresh = new ReentrantLock();
      jvm = JVM_LOCKS.putIfAbsent(d.dir, fresh);
      if (jvm == null) {
        jvm = fresh;
      }
    }
    PoolLock h = new PoolLock(jvm);
    boolean noWait = LocalCalls.waitingRefused();
    if (!noWait) {
      jvm.lock();
    } else if (!jvm.tryLock()) {
      throw new LocalCalls.WouldWait("another call of this process holds " + d.dir);
    }
    try {
      if (held == null) {
        h.channel = d.openLock(create);
      } else {
        h.channel = held.open(d, create);
        if (held.keeps(d, h.channel)) {
          h.held = held;
          h.dir = d;
        }
      }
      for (int tries = 0; ; tries++) {
        try {
          if (!noWait) {
            h.fileLock = h.channel.lock();
          } else if ((h.fileLock = h.channel.tryLock()) == null) {
            throw new LocalCalls.WouldWait("another process holds the lock of " + d.dir);
          }
          break;
        } catch (OverlappingFileLockException e) {
          // the same directory reached through another path (a symlink) in this JVM
          if (noWait) {
            throw new LocalCalls.WouldWait("this process holds the lock of " + d.dir + " through another path");
          }
          if (tries > 30_000) {
            throw PoolSession.contended(pool);
          }
          Thread.sleep(1);
        } catch (IOException e) {
          if (!deadlockAvoided(e)) {
            throw e;
          }
          // EDEADLK: the kernel sees a cycle of processes, not of threads. One thread of this
          // process holds a network's lock while another asks for a sub-pool's that a second
          // process holds, waiting for that network's lock: no thread waits for itself (locks are
          // taken sub-pool first, network second), so the holder finishes and the wait ends
          if (tries > 30_000) {
            throw PoolSession.contended(pool);
          }
          DEADLOCKS_AVOIDED.incrementAndGet();
          Thread.sleep(1);
        }
      }
      return h;
    } catch (IOException e) {
      h.drop();
      throw PoolDir.ioFailure("locking", d.dir.resolve(PoolDir.LOCK), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      h.close();
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting for " + d.dir, e);
    } catch (RuntimeException e) {
      h.close();
      throw e;
    }
  }

  /**
   * Releases both locks: the file lock goes with its descriptor, or, when the file is kept open
   * between calls, is released (and the file closed and forgotten if that fails).
   */
  @Override
  public void close() {
    try {
      if (held != null) {
        try {
          if (fileLock != null) {
            fileLock.release();
          }
        } catch (IOException | RuntimeException e) {
          held.forget(dir.dir); // closing drops the lock whatever state it is in
        }
      } else if (channel != null) {
        HeldLockFiles.closeQuietly(channel);
      }
    } finally {
      jvmLock.unlock();
    }
  }

  /** {@link #close} after the file lock failed: a kept file is closed and opened again next call. */
  private void drop() {
    if (held != null) {
      held.forget(dir.dir);
      held = null;
      channel = null;
    }
    close();
  }
}
