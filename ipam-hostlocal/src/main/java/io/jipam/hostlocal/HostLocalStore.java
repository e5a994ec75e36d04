package io.jipam.hostlocal;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.PoolState;
import io.jipam.core.store.PoolUsage;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link IpamStore} in host-local's files: one file per address in {@code <dataDir>/<network>/},
 * which stay the truth, plus a rebuildable index that makes every call cost O(1) file operations
 * (see {@link PoolDir} for the layout table, {@link IndexFile} for the index format).
 *
 * <h2>Locking</h2>
 * Every call runs with two locks held, taken in this order and released in reverse:
 * <ol>
 *   <li>a JVM-wide {@link ReentrantLock} per network directory (static, keyed by the absolute
 *       path), because {@link FileChannel#lock} is per process and throws {@link
 *       OverlappingFileLockException} when two threads of one JVM ask for it;
 *   <li>an exclusive {@link FileChannel#lock} on {@code <dataDir>/<network>/lock}, which serialises
 *       jipam processes. On Linux this is a POSIX (fcntl) record lock; host-local takes {@code
 *       flock(2)} on the same file, and the two kinds do not exclude each other. So jipam and
 *       host-local running <em>at the same time</em> on one directory are not serialised. Even then
 *       no address is handed out twice, because both create address files exclusively (host-local
 *       with {@code O_CREAT|O_EXCL}, jipam with {@code link(2)}) and jipam treats an existing file
 *       as taken and re-reads the directory; jipam also re-reads an address file before deleting
 *       it. What concurrent mixed use can still do is make jipam's index miss a host-local change
 *       until the directory changes again (see staleness below). Switching a node from one plugin
 *       to the other (not running both at once) is fully supported.
 * </ol>
 * {@code @GuardedBy("both locks of the pool")}: the pool's files, {@link #cache} entry, and the
 * {@link PoolState} in it.
 *
 * <h2>Index staleness</h2>
 * The index records a stamp: the network directory's file key (device and inode) and mtime as read
 * after jipam's last change to the directory, and the content of every {@code last_reserved_ip.N}
 * as jipam left it. Creating, deleting or renaming an entry changes the directory's mtime, and
 * host-local rewrites a cursor file on every ADD, so a host-local ADD or DEL since jipam's last
 * write changes the stamp, and the index is then rebuilt from the address files (pods carried over
 * for allocations whose address and holder did not change). The index itself lives outside the
 * network directory, so writing it does not move the directory's mtime.
 *
 * <p>Limits: mtimes are stamped from a coarse clock (one jiffy, typically 4 ms) on kernels before
 * 6.13 (newer ones hand out distinct fine-grained stamps once an mtime has been read). So before
 * writing the index jipam waits, at most a few ms, until a freshly written file gets an mtime later
 * than the recorded one: any change after the call returns then gets a later mtime. A host-local
 * running concurrently with jipam (not supported, see above) can still slip a change in unseen, and
 * someone resetting the directory's mtime by hand defeats the check. Every consequence is
 * conservative: an unseen host-local file makes jipam's exclusive create fail, and jipam rebuilds;
 * an unseen deletion keeps an address looking held until a rebuild; find and release re-read the
 * address files they return and rebuild on any disagreement.
 *
 * <h2>Atomicity and crashes</h2>
 * An address file appears complete or not at all (content written to a temp file, then hard-linked
 * to its name). Cursor and index files are replaced by rename. A process killed at any instant
 * leaves at most: jipam temp files (removed by the next rebuild), an index that no longer matches
 * the directory (detected by the stamp, rebuilt), or, for a multi-set (dual-stack) ADD or a DEL cut
 * short, an attachment holding only some of its addresses, which the next DEL of that attachment
 * or GC releases. Never one address for two attachments.
 *
 * <h2>Durability</h2>
 * Without fsync (the default, as host-local): when a call returns, its files are in the kernel
 * and survive the process dying, not necessarily a power loss. With fsync: the address and
 * cursor files and the network directory are forced to disk before the call returns. The index is
 * never forced: after a power loss it is detected stale or truncated and rebuilt.
 *
 * <h2>Cost</h2>
 * ADD: lock, stat the directory, read the cursor files and the index, create one file per range
 * set, rename one cursor per range set, write the index. DEL and CHECK: the same with a read and a
 * delete per address. No directory walk unless the index is stale. The index is one file of
 * O(allocations) bytes; a long-lived store keeps the state in memory and skips reading it while
 * the stamp holds.
 *
 * <p>Thread-safe: all methods may be called from any thread.
 */
final class HostLocalStore implements IpamStore {
  /** JVM-wide in-process locks, one per network directory. */
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();
  private static final int ATTEMPTS = 4;

  private final Path dataDir;
  private final boolean sync;
  /** Per network name, the state as of a stamp. Each entry guarded by that pool's locks. */
  private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();

  HostLocalStore(Path dataDir, boolean sync) {
    this.dataDir = dataDir.toAbsolutePath().normalize();
    this.sync = sync;
  }

  /** The state a process last saw or left, and the stamp and cursors it belongs to. */
  private record Cached(PoolState state, PoolDir.DirStamp stamp, String[] cursors) {}

  /** One call's hold on a pool: both locks, and what was read under them. */
  private static final class Held {
    final PoolDir dir;
    final ReentrantLock jvmLock;
    FileChannel channel;
    PoolDir.DirStamp loadedStamp;
    String[] cursors;
    boolean indexDirty;

    Held(PoolDir dir, ReentrantLock jvmLock) {
      this.dir = dir;
      this.jvmLock = jvmLock;
    }
  }

  // ---------------------------------------------------------------- IpamStore

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    Held h = lock(pool);
    List<Allocation> created = new ArrayList<>(2);
    try {
      Attachment att = request.attachment();
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        PoolState st = load(h, pool, attempt > 0);
        List<Allocation> before = st.find(att);
        if (before.isEmpty()) {
          List<Allocation> legacy = legacyHeld(st, att);
          if (!legacy.isEmpty()) {
            if (!verified(h, legacy)) {
              continue;
            }
            finish(h, st, false);
            return new AllocationOutcome.Allocated(legacy, true);
          }
        } else if (!verified(h, before)) {
          continue;
        }
        AllocationOutcome outcome = st.allocate(request);
        if (!(outcome instanceof AllocationOutcome.Allocated got) || got.existing()) {
          finish(h, st, false);
          return outcome;
        }
        boolean clash = false;
        for (Allocation a : got.allocations()) {
          if (before.contains(a)) {
            continue;
          }
          if (!h.dir.createAddressFile(a.address(), a.attachment())) {
            clash = true; // a file jipam's index did not know about: rebuild and retry
            break;
          }
          created.add(a);
        }
        if (clash) {
          rollback(h, created);
          cache.remove(pool.name());
          continue;
        }
        for (Allocation a : got.allocations()) {
          if (!before.contains(a)) {
            h.dir.writeCursor(a.rangeSetIndex(), a.address());
            h.cursors[a.rangeSetIndex()] = a.address().toString();
          }
        }
        created.clear();
        finish(h, st, true);
        return outcome;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      rollback(h, created);
      cache.remove(pool.name());
      throw PoolDir.ioFailure("allocating in", h.dir.dir, e);
    } catch (RuntimeException e) {
      rollback(h, created);
      cache.remove(pool.name());
      throw e;
    } finally {
      unlock(h);
    }
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    Held h = lock(pool);
    try {
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        PoolState st = load(h, pool, attempt > 0);
        Attachment holder = attachment;
        List<Allocation> held = st.find(attachment);
        if (held.isEmpty()) {
          held = legacyHeld(st, attachment);
          holder = held.isEmpty() ? attachment : held.get(0).attachment();
        }
        if (held.isEmpty()) {
          finish(h, st, false);
          return List.of();
        }
        if (!verified(h, held)) {
          continue;
        }
        st.release(holder);
        for (Allocation a : held) {
          h.dir.deleteAddressFile(a.address());
        }
        finish(h, st, true);
        return held;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      cache.remove(pool.name());
      throw PoolDir.ioFailure("releasing in", h.dir.dir, e);
    } catch (RuntimeException e) {
      cache.remove(pool.name());
      throw e;
    } finally {
      unlock(h);
    }
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    Held h = lock(pool);
    try {
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        PoolState st = load(h, pool, attempt > 0);
        List<Allocation> held = st.find(attachment);
        if (held.isEmpty()) {
          held = legacyHeld(st, attachment);
        }
        if (!verified(h, held)) {
          continue;
        }
        finish(h, st, false);
        return held;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      cache.remove(pool.name());
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } catch (RuntimeException e) {
      cache.remove(pool.name());
      throw e;
    } finally {
      unlock(h);
    }
  }

  @Override
  public List<Allocation> list(Pool pool) {
    Held h = lock(pool);
    try {
      PoolState st = load(h, pool, false);
      List<Allocation> all = st.list();
      finish(h, st, false);
      return all;
    } catch (IOException | DirectoryIteratorException e) {
      cache.remove(pool.name());
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } catch (RuntimeException e) {
      cache.remove(pool.name());
      throw e;
    } finally {
      unlock(h);
    }
  }

  @Override
  public PoolUsage usage(Pool pool) {
    Held h = lock(pool);
    try {
      PoolState st = load(h, pool, false);
      PoolUsage usage = st.usage();
      finish(h, st, false);
      return usage;
    } catch (IOException | DirectoryIteratorException e) {
      cache.remove(pool.name());
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } catch (RuntimeException e) {
      cache.remove(pool.name());
      throw e;
    } finally {
      unlock(h);
    }
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    Set<Attachment> keep = new HashSet<>(valid);
    for (Attachment v : valid) {
      if (!PoolDir.LEGACY_IFNAME.equals(v.ifname())) {
        keep.add(new Attachment(v.containerId(), PoolDir.LEGACY_IFNAME)); // old files: any ifname
      }
    }
    Held h = lock(pool);
    try {
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        PoolState st = load(h, pool, attempt > 0);
        List<Allocation> doomed = new ArrayList<>();
        for (Allocation a : st.allocations()) {
          if (!keep.contains(a.attachment())) {
            doomed.add(a);
          }
        }
        if (!verified(h, doomed)) {
          continue;
        }
        List<Allocation> released = st.retainOnly(keep);
        for (Allocation a : released) {
          h.dir.deleteAddressFile(a.address());
        }
        finish(h, st, !released.isEmpty());
        return released;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      cache.remove(pool.name());
      throw PoolDir.ioFailure("collecting garbage in", h.dir.dir, e);
    } catch (RuntimeException e) {
      cache.remove(pool.name());
      throw e;
    } finally {
      unlock(h);
    }
  }

  @Override
  public void close() {
    cache.clear();
  }

  // ---------------------------------------------------------------- locking

  private Held lock(Pool pool) {
    PoolDir d = new PoolDir(dataDir, pool.name(), sync);
    ReentrantLock jvm = JVM_LOCKS.get(d.dir);
    if (jvm == null) {
      ReentrantLock fresh = new ReentrantLock();
      jvm = JVM_LOCKS.putIfAbsent(d.dir, fresh);
      if (jvm == null) {
        jvm = fresh;
      }
    }
    Held h = new Held(d, jvm);
    jvm.lock();
    try {
      d.createDirectories();
      h.channel = d.openLock();
      for (int tries = 0; ; tries++) {
        try {
          h.channel.lock();
          break;
        } catch (OverlappingFileLockException e) {
          // the same directory reached through another path (a symlink) in this JVM
          if (tries > 30_000) {
            throw contended(pool);
          }
          Thread.sleep(1);
        }
      }
      return h;
    } catch (IOException e) {
      unlock(h);
      throw PoolDir.ioFailure("locking", d.dir.resolve(PoolDir.LOCK), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      unlock(h);
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "interrupted waiting for " + d.dir, e);
    } catch (RuntimeException e) {
      unlock(h);
      throw e;
    }
  }

  private static void unlock(Held h) {
    try {
      if (h.channel != null) {
        h.channel.close(); // releases the file lock
      }
    } catch (IOException e) {
      // closing a lock file cannot lose data; the lock goes with the descriptor
    } finally {
      h.jvmLock.unlock();
    }
  }

  private static IpamException contended(Pool pool) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "the files of network " + pool.name()
        + " keep changing behind jipam's back (is host-local running on the same directory?)");
  }

  // ---------------------------------------------------------------- loading and persisting

  /**
   * The pool's state under the locks: the cached one or the index when the stamp still holds,
   * else rebuilt from the address files (always when {@code rebuild}). Cursors are re-read from
   * the cursor files every time. The returned state is removed from the cache while the call
   * may change it; {@link #finish} puts it back.
   */
  private PoolState load(Held h, Pool pool, boolean rebuild) throws IOException {
    PoolDir d = h.dir;
    PoolDir.DirStamp now = d.stat();
    int sets = pool.rangeSets().size();
    String[] cursors = new String[sets];
    for (int i = 0; i < sets; i++) {
      cursors[i] = d.readCursor(i);
    }
    h.loadedStamp = now;
    h.cursors = cursors;
    h.indexDirty = false;
    Cached c = cache.remove(pool.name());
    PoolState st;
    if (!rebuild && c != null && c.stamp().equals(now) && cursorsMatch(c.cursors(), cursors)) {
      st = c.state().pool().equals(pool) ? c.state() : reload(pool, c.state().allocations());
    } else {
      IndexFile.Snapshot snap = IndexFile.read(d);
      if (!rebuild && snap != null && snap.stamp().equals(now) && cursorsMatch(snap.cursors(), cursors)) {
        st = reload(pool, snap.allocations());
      } else {
        Collection<Allocation> pods = snap != null ? snap.allocations()
            : c != null ? c.state().allocations() : List.of();
        st = scan(pool, d, pods);
        h.indexDirty = true;
      }
    }
    for (int i = 0; i < sets; i++) {
      st.setCursor(i, cursors[i].isEmpty() ? null : IpAddress.tryParse(cursors[i]));
    }
    return st;
  }

  private static boolean cursorsMatch(String[] recorded, String[] now) {
    for (int i = 0; i < now.length; i++) {
      String r = i < recorded.length ? recorded[i] : "";
      if (!r.equals(now[i])) {
        return false;
      }
    }
    return true;
  }

  private static PoolState reload(Pool pool, Collection<Allocation> allocations) {
    PoolState st = new PoolState(pool);
    for (Allocation a : allocations) {
      st.load(a.address(), a.attachment(), a.pod());
    }
    return st;
  }

  /**
   * Rebuilds the state from the address files: the one directory walk, only when the index is
   * missing or stale. Removes temp files a killed jipam left. Pods are taken from {@code
   * previous} where the address is still held by the same attachment.
   */
  private static PoolState scan(Pool pool, PoolDir d, Collection<Allocation> previous) throws IOException {
    Map<IpAddress, Allocation> byAddress = new HashMap<>();
    for (Allocation a : previous) {
      byAddress.put(a.address(), a);
    }
    PoolState st = new PoolState(pool);
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(d.dir)) {
      for (Path p : entries) {
        String name = p.getFileName().toString();
        if (name.startsWith(PoolDir.TEMP_PREFIX)) {
          Files.deleteIfExists(p); // only jipam, under the lock, creates these: left by a crash
          continue;
        }
        IpAddress address = IpAddress.tryParse(name);
        if (address == null || !address.toString().equals(name)) {
          continue; // lock, last_reserved_ip.N, anything else: not an address file
        }
        Attachment holder;
        try {
          holder = PoolDir.parseHolder(Files.readAllBytes(p));
        } catch (NoSuchFileException e) {
          continue;
        } catch (IOException e) {
          holder = PoolDir.UNREADABLE; // the name exists, so the address is not free
        }
        Allocation old = byAddress.get(address);
        PodRef pod = old != null && old.attachment().equals(holder) ? old.pod() : PodRef.UNKNOWN;
        st.load(address, holder, pod);
      }
    }
    return st;
  }

  /**
   * Ends a call that went well: when the directory or the index changed, records the new stamp
   * and writes the index; caches the state.
   */
  private void finish(Held h, PoolState st, boolean dirChanged) throws IOException {
    PoolDir d = h.dir;
    PoolDir.DirStamp stamp = h.loadedStamp;
    if (dirChanged || h.indexDirty) {
      if (dirChanged) {
        d.syncDir();
      }
      stamp = d.stat();
      settle(d, stamp.mtimeNanos());
      IndexFile.write(d, stamp, h.cursors, st.allocations());
    }
    cache.put(d.network, new Cached(st, stamp, h.cursors.clone()));
  }

  /**
   * Waits until the filesystem clock has moved past the directory's mtime, so that any later
   * change to the directory gets a different mtime. Returns at once on kernels with fine-grained
   * timestamps; otherwise within one clock tick. Gives up when the mtime is far off (a clock that
   * jumped): the stamp is then only as good as the mtime.
   */
  private static void settle(PoolDir d, long dirMtime) throws IOException {
    for (int i = 0; i < 40; i++) {
      long clock = d.touchClock();
      if (clock > dirMtime || dirMtime - clock > 50_000_000L) {
        return;
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  /** What an old-format file (container ID only) gives the attachment's container, or nothing. */
  private static List<Allocation> legacyHeld(PoolState st, Attachment att) {
    if (PoolDir.LEGACY_IFNAME.equals(att.ifname())) {
      return List.of();
    }
    return st.find(new Attachment(att.containerId(), PoolDir.LEGACY_IFNAME));
  }

  /**
   * Whether every allocation's address file still names its holder. When not, the index missed
   * a change: the cached state is dropped and the caller retries with a rebuild.
   */
  private boolean verified(Held h, List<Allocation> allocations) throws IOException {
    for (Allocation a : allocations) {
      Attachment onDisk = h.dir.readHolder(a.address());
      if (onDisk == null || !onDisk.equals(a.attachment())) {
        cache.remove(h.dir.network);
        return false;
      }
    }
    return true;
  }

  /** Best effort: deletes the address files this call created before it failed. */
  private static void rollback(Held h, List<Allocation> created) {
    for (Allocation a : created) {
      try {
        h.dir.deleteAddressFile(a.address());
      } catch (IOException e) {
        // the rebuild after a failed call will see the file and count it held
      }
    }
    created.clear();
  }
}
