package io.jipam.hostlocal;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
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
 * The index ends with a stamp: the network directory's file key (device and inode) and mtime as
 * read after jipam's last change to the directory, and the content of every {@code
 * last_reserved_ip.N} as jipam left it. Every call compares it with a fresh {@code stat} of the
 * directory and the cursor files; any difference means someone else changed the directory, and
 * the state is rebuilt from the address files (one directory walk; pods carried over where the
 * address and holder did not change). This catches: any entry created, deleted or renamed (they
 * change the directory's mtime; a deleted and re-created directory changes the inode), and every
 * host-local ADD (it rewrites a cursor file). The index lives outside the network directory, so
 * writing it does not move the directory's mtime. A cached whole state is also checked against
 * the index file's inode and size, which every jipam write changes (appends grow it, snapshots
 * replace it): changes by other jipam processes or stores are seen whatever the clock's
 * granularity.
 *
 * <p>Limits. Kernels before 6.13 stamp mtimes from a coarse clock (one jiffy, 4 ms at HZ=250), so
 * a change within the same tick as jipam's last one keeps the mtime. jipam therefore waits, after
 * releasing the locks and before returning, until a freshly written probe file gets an mtime later
 * than the recorded one: a change made after the call returned gets a later mtime. What remains
 * unseen by the stamp: a change by a host-local running concurrently with jipam (not supported,
 * see Locking), and a directory mtime reset by hand. Their effects are bounded: an unseen file
 * makes jipam's exclusive create fail, and a fast-path ADD probing onto a file the index does not
 * record rebuilds; find and release re-read every address file they return or delete and rebuild
 * on any disagreement, so they never report or delete another attachment's address; an unseen
 * deletion can only keep an address looking held (never handed out twice) until a rebuild.
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
 * Nothing walks the directory unless the index is stale. A call reads the directory's stamp, the
 * cursor files, and (unless a long-lived store has the state cached) the index file as one
 * string. Then:
 * <ul>
 *   <li>CHECK ({@link #find}) and DEL ({@link #release}): the attachment's lines are found by a
 *       text search over the index (no per-record parsing); its address files are re-read (and
 *       deleted); DEL appends {@code d} lines and a stamp to the index.
 *   <li>ADD ({@link #allocate}): the attachment's existing addresses are found the same way; if
 *       none, a {@link PoolState} that starts empty chooses the address (so ranges, gateway,
 *       exclusions and the round-robin order are core's), and the address files act as its
 *       bitmap: an address whose file exists is loaded as taken and the choice is made again (a
 *       stat per taken address after the cursor, as host-local probes; beyond 64 probes, or for
 *       the lowest-free order, the whole index is parsed instead). One file is created per
 *       range set, one cursor renamed, one line appended.
 *   <li>list, usage and GC parse the whole index into a {@link PoolState}; a long-lived store
 *       (one that has served the pool before) does the same once and then keeps that state while
 *       the stamp holds, so its later calls read no index at all.
 * </ul>
 * The index file is O(allocations) bytes, read whole and searched, never parsed whole on the
 * ADD, DEL and CHECK paths; appends are compacted into a new snapshot by the next full load once
 * the file has doubled.
 *
 * <p>Thread-safe: all methods may be called from any thread.
 */
final class HostLocalStore implements IpamStore {
  /** How a store chooses between the text-search fast path and the whole parsed state. */
  enum Mode {
    /** Fast path on the first call for a pool, cached whole state afterwards (the default). */
    AUTO,
    /** Always the fast path where it applies, never a cached state (a one-shot process's view). */
    FAST,
    /** Always the whole state. */
    FULL
  }

  /** JVM-wide in-process locks, one per network directory. */
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();
  private static final int ATTEMPTS = 4;
  private static final int MAX_PROBES = 64;
  private static final List<Allocation> NONE = List.of();

  private final Path dataDir;
  private final boolean sync;
  private final Mode mode;
  /** Per network name, the whole state as of a stamp. Each entry guarded by that pool's locks. */
  private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();
  /** Pools this store has served at least once (AUTO mode: they get a cached state). */
  private final Set<String> served = ConcurrentHashMap.newKeySet();

  HostLocalStore(Path dataDir, boolean sync) {
    this(dataDir, sync, Mode.AUTO);
  }

  HostLocalStore(Path dataDir, boolean sync, Mode mode) {
    this.dataDir = dataDir.toAbsolutePath().normalize();
    this.sync = sync;
    this.mode = mode;
  }

  /** The whole state a store last saw or left, with the stamp and cursors it belongs to. */
  private static final class Cached {
    final PoolState state;
    final PoolDir.DirStamp stamp;
    final String[] cursors;
    final long base;
    /** {@link PoolDir#indexVersion} after this state was written: other jipam writers change it. */
    final String indexVersion;

    Cached(PoolState state, PoolDir.DirStamp stamp, String[] cursors, long base, String indexVersion) {
      this.state = state;
      this.stamp = stamp;
      this.cursors = cursors;
      this.base = base;
      this.indexVersion = indexVersion;
    }
  }

  /** One call's hold on a pool: both locks, and what was read under them. */
  private static final class Held {
    final PoolDir dir;
    final ReentrantLock jvmLock;
    FileChannel channel;
    /** The directory's stamp when the call (or its latest attempt) began. */
    PoolDir.DirStamp now;
    /** The cursor files' content; updated as the call writes them. */
    String[] cursors;
    /** A cached whole state whose stamp still holds, or null. */
    Cached cached;
    /** The index as read (when no cached state), or null. */
    IndexFile.Raw raw;
    /** Whether {@link #raw} is valid now: its stamp is the directory's. */
    boolean rawValid;
    /** The snapshot length the index's appends count from. */
    long base;
    /** Whether the next write must be a whole snapshot (rebuilt, or too many appends). */
    boolean snapshotNeeded;
    /** The directory mtime the clock must pass before the call returns; MIN_VALUE for none. */
    long settleAfter = Long.MIN_VALUE;

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
      boolean rebuild = false;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        boolean fast = begin(h, pool, rebuild);
        AllocationOutcome outcome = fast ? allocateFast(h, pool, request, created)
            : allocateFull(h, pool, request, created, rebuild);
        if (outcome != null) {
          return outcome;
        }
        rebuild = true; // the index missed a change: rebuild from the address files and retry
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      rollback(h, created);
      throw PoolDir.ioFailure("allocating in", h.dir.dir, e);
    } catch (RuntimeException e) {
      rollback(h, created);
      throw e;
    } finally {
      unlock(h);
    }
  }

  /** ADD without parsing the index; null to retry with a rebuild. */
  private AllocationOutcome allocateFast(Held h, Pool pool, AllocationRequest request,
      List<Allocation> created) throws IOException {
    Attachment att = request.attachment();
    List<Allocation> held = heldPerIndex(h, pool, att);
    if (!held.isEmpty()) {
      if (!verified(h, held)) {
        return null;
      }
      if (request.requested().isEmpty() && coversEverySet(held, pool)) {
        finish(h, null, false, NONE, NONE);
        return new AllocationOutcome.Allocated(held, true);
      }
      return allocateFull(h, pool, request, created, false); // partly held: let the whole state decide
    }
    if (pool.order() != AllocationOrder.ROUND_ROBIN) {
      return allocateFull(h, pool, request, created, false); // lowest-free would probe from the start
    }
    int sets = pool.rangeSets().size();
    PoolState st = new PoolState(pool);
    setCursors(st, h.cursors);
    IpAddress[] saved = new IpAddress[sets];
    for (int probe = 0; probe < MAX_PROBES; probe++) {
      for (int i = 0; i < sets; i++) {
        saved[i] = st.cursor(i);
      }
      AllocationOutcome outcome = st.allocate(request);
      if (!(outcome instanceof AllocationOutcome.Allocated got)) {
        finish(h, null, false, NONE, NONE); // Taken (holder read from its file), Unavailable, Exhausted
        return outcome;
      }
      if (got.existing()) {
        return null; // cannot happen: the attachment held nothing here
      }
      IpAddress clash = null;
      for (Allocation a : got.allocations()) {
        if (!h.dir.createAddressFile(a.address(), a.attachment())) {
          clash = a.address();
          break;
        }
        created.add(a);
      }
      if (clash == null) {
        writeCursors(h, got.allocations());
        created.clear();
        finish(h, null, true, got.allocations(), NONE);
        return outcome;
      }
      rollback(h, created);
      st.release(att);
      for (int i = 0; i < sets; i++) {
        st.setCursor(i, saved[i]);
      }
      Attachment holder = h.dir.readHolder(clash);
      if (holder == null) {
        continue; // gone meanwhile (a concurrent host-local DEL): choose again
      }
      if (holder.equals(att) || !IndexFile.holds(h.raw, clash)) {
        return null; // a file the index does not know: it missed a change, rebuild
      }
      st.load(clash, holder, PodRef.UNKNOWN);
    }
    return allocateFull(h, pool, request, created, false); // crowded after the cursor
  }

  /** ADD on the whole state; null to retry with a rebuild. */
  private AllocationOutcome allocateFull(Held h, Pool pool, AllocationRequest request,
      List<Allocation> created, boolean rebuild) throws IOException {
    PoolState st = full(h, pool, rebuild);
    Attachment att = request.attachment();
    List<Allocation> before = st.find(att);
    if (before.isEmpty()) {
      List<Allocation> legacy = legacyHeld(st, att);
      if (!legacy.isEmpty()) {
        if (!verified(h, legacy)) {
          return null;
        }
        finish(h, st, false, NONE, NONE);
        return new AllocationOutcome.Allocated(legacy, true);
      }
    } else if (!verified(h, before)) {
      return null;
    }
    AllocationOutcome outcome = st.allocate(request);
    if (!(outcome instanceof AllocationOutcome.Allocated got) || got.existing()) {
      finish(h, st, false, NONE, NONE);
      return outcome;
    }
    List<Allocation> fresh = new ArrayList<>(2);
    for (Allocation a : got.allocations()) {
      if (before.contains(a)) {
        continue;
      }
      if (!h.dir.createAddressFile(a.address(), a.attachment())) {
        rollback(h, created);
        return null; // a file the index did not know about
      }
      created.add(a);
      fresh.add(a);
    }
    writeCursors(h, fresh);
    created.clear();
    finish(h, st, true, fresh, NONE);
    return outcome;
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    Held h = lock(pool);
    try {
      boolean rebuild = false;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++, rebuild = true) {
        boolean fast = begin(h, pool, rebuild);
        PoolState st = fast ? null : full(h, pool, rebuild);
        List<Allocation> held = fast ? heldPerIndex(h, pool, attachment) : st.find(attachment);
        if (held.isEmpty() && !fast) {
          held = legacyHeld(st, attachment);
        }
        if (held.isEmpty()) {
          finish(h, st, false, NONE, NONE);
          return NONE;
        }
        if (!verified(h, held)) {
          continue;
        }
        if (st != null) {
          st.release(held.get(0).attachment());
        }
        for (Allocation a : held) {
          h.dir.deleteAddressFile(a.address());
        }
        finish(h, st, true, NONE, held);
        return held;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("releasing in", h.dir.dir, e);
    } finally {
      unlock(h);
    }
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    Held h = lock(pool);
    try {
      boolean rebuild = false;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++, rebuild = true) {
        boolean fast = begin(h, pool, rebuild);
        PoolState st = fast ? null : full(h, pool, rebuild);
        List<Allocation> held = fast ? heldPerIndex(h, pool, attachment) : st.find(attachment);
        if (held.isEmpty() && !fast) {
          held = legacyHeld(st, attachment);
        }
        if (!verified(h, held)) {
          continue;
        }
        finish(h, st, false, NONE, NONE);
        return held;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } finally {
      unlock(h);
    }
  }

  @Override
  public List<Allocation> list(Pool pool) {
    Held h = lock(pool);
    try {
      begin(h, pool, false);
      PoolState st = full(h, pool, false);
      List<Allocation> all = st.list();
      finish(h, st, false, NONE, NONE);
      return all;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } finally {
      unlock(h);
    }
  }

  @Override
  public PoolUsage usage(Pool pool) {
    Held h = lock(pool);
    try {
      begin(h, pool, false);
      PoolState st = full(h, pool, false);
      PoolUsage usage = st.usage();
      finish(h, st, false, NONE, NONE);
      return usage;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
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
      boolean rebuild = false;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++, rebuild = true) {
        begin(h, pool, rebuild);
        PoolState st = full(h, pool, rebuild);
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
        finish(h, st, !released.isEmpty(), NONE, released);
        return released;
      }
      throw contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("collecting garbage in", h.dir.dir, e);
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

  private void unlock(Held h) {
    try {
      if (h.channel != null) {
        h.channel.close(); // releases the file lock
      }
    } catch (IOException e) {
      // closing a lock file cannot lose data; the lock goes with the descriptor
    } finally {
      served.add(h.dir.network);
      h.jvmLock.unlock();
    }
    if (h.settleAfter != Long.MIN_VALUE) {
      settle(h.dir, h.settleAfter); // after unlocking: it delays this caller, not other callers
    }
  }

  private static IpamException contended(Pool pool) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "the files of network " + pool.name()
        + " keep changing behind jipam's back (is host-local running on the same directory?)");
  }

  // ---------------------------------------------------------------- loading and persisting

  /**
   * Starts (an attempt of) a call under the locks: reads the directory's stamp and the cursor
   * files, takes a cached whole state whose stamp still holds, else reads the index. Returns
   * whether the call may take the fast path. The cache entry is removed while the call may
   * change its state; {@link #finish} puts one back.
   */
  private boolean begin(Held h, Pool pool, boolean rebuild) throws IOException {
    PoolDir d = h.dir;
    h.now = d.stat();
    int sets = pool.rangeSets().size();
    String[] cursors = new String[sets];
    for (int i = 0; i < sets; i++) {
      cursors[i] = d.readCursor(i);
    }
    h.cursors = cursors;
    h.snapshotNeeded = false;
    Cached c = cache.remove(d.network);
    h.cached = c != null && !rebuild && c.stamp.equals(h.now) && cursorsMatch(c.cursors, cursors)
        && c.indexVersion.equals(d.indexVersion()) ? c : null;
    h.raw = null;
    h.rawValid = false;
    if (h.cached != null) {
      h.base = h.cached.base;
      return false;
    }
    h.raw = IndexFile.read(d);
    h.rawValid = h.raw != null && h.raw.stamp.equals(h.now) && cursorsMatch(h.raw.cursors, cursors);
    h.base = h.rawValid ? h.raw.base : 0;
    boolean longLived = mode == Mode.FULL || mode == Mode.AUTO && served.contains(d.network);
    return !rebuild && h.rawValid && !h.raw.oversized() && !longLived;
  }

  /**
   * The pool's whole state: the cached one, the parsed index when valid, else (and always when
   * {@code rebuild}) rebuilt from the address files.
   */
  private PoolState full(Held h, Pool pool, boolean rebuild) throws IOException {
    PoolState st = null;
    if (!rebuild && h.cached != null) {
      PoolState c = h.cached.state;
      st = c.pool().equals(pool) ? c : reload(pool, c.allocations());
    } else if (!rebuild && h.rawValid) {
      try {
        st = reload(pool, IndexFile.parseAll(h.raw));
        h.snapshotNeeded = h.raw.oversized();
      } catch (RuntimeException e) {
        st = null; // a corrupt line: rebuild
      }
    }
    if (st == null) {
      Collection<Allocation> pods = List.of();
      if (h.raw != null) {
        try {
          pods = IndexFile.parseAll(h.raw);
        } catch (RuntimeException e) {
          pods = List.of();
        }
      } else if (h.cached != null) {
        pods = h.cached.state.allocations();
      }
      st = scan(pool, h.dir, pods);
      h.snapshotNeeded = true;
    }
    setCursors(st, h.cursors);
    return st;
  }

  private static void setCursors(PoolState st, String[] cursors) {
    for (int i = 0; i < cursors.length; i++) {
      st.setCursor(i, cursors[i].isEmpty() ? null : IpAddress.tryParse(cursors[i]));
    }
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
   * Ends a call that went well. When the directory changed or the index must be rewritten:
   * records the new stamp, waits for the clock (see {@link #settle}), and appends the call's
   * changes to the index or writes a snapshot. Caches a whole state; a fast-path call (no
   * {@code st}) leaves no cache. The files are the truth: when the index cannot be written it is
   * deleted, and the call still succeeds.
   */
  private void finish(Held h, PoolState st, boolean dirChanged, List<Allocation> added,
      List<Allocation> removed) throws IOException {
    PoolDir d = h.dir;
    PoolDir.DirStamp stamp = h.now;
    long base = h.base;
    if (dirChanged || h.snapshotNeeded) {
      if (dirChanged) {
        d.syncDir();
      }
      stamp = d.stat();
      h.settleAfter = stamp.mtimeNanos();
      try {
        if (st != null && (h.snapshotNeeded || !Files.exists(d.index))) {
          base = IndexFile.writeSnapshot(d, stamp, h.cursors, st.allocations());
        } else {
          IndexFile.append(d, added, removed, stamp, base, h.cursors);
        }
      } catch (IpamException e) {
        IndexFile.discard(d);
        st = null;
      }
    }
    if (st != null && mode != Mode.FAST) {
      cache.put(d.network, new Cached(st, stamp, h.cursors.clone(), base, d.indexVersion()));
    }
  }

  /**
   * Waits until the filesystem clock has moved past the directory's mtime, so that any later
   * change to the directory gets a different mtime: up to one clock tick (the kernel stamps
   * mtimes from a coarse clock, 4 ms at HZ=250; about 1.6 ms on average measured here). Runs after
   * the locks are released, so it delays the caller but no other process. Gives up when the mtime is far off (a clock that
   * jumped): the stamp is then only as good as the mtime.
   */
  private static void settle(PoolDir d, long dirMtime) {
    for (int i = 0; i < 40; i++) {
      long clock;
      try {
        clock = d.touchClock();
      } catch (IOException e) {
        return; // the probe is an optimisation of the stamp's precision, never a reason to fail
      }
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

  private static void writeCursors(Held h, List<Allocation> fresh) throws IOException {
    for (Allocation a : fresh) {
      h.dir.writeCursor(a.rangeSetIndex(), a.address());
      h.cursors[a.rangeSetIndex()] = a.address().toString();
    }
  }

  /** Fast path: what the (valid) index says the attachment holds, or an old file for its ID. */
  private static List<Allocation> heldPerIndex(Held h, Pool pool, Attachment att) {
    return IndexFile.find(h.raw, pool, att, PoolDir.LEGACY_IFNAME);
  }

  private static boolean coversEverySet(List<Allocation> held, Pool pool) {
    int sets = pool.rangeSets().size();
    if (held.size() != sets) {
      return false;
    }
    for (int i = 0; i < sets; i++) {
      if (held.get(i).rangeSetIndex() != i) {
        return false;
      }
    }
    return true;
  }

  /** What an old-format file (container ID only) gives the attachment's container, or nothing. */
  private static List<Allocation> legacyHeld(PoolState st, Attachment att) {
    if (PoolDir.LEGACY_IFNAME.equals(att.ifname())) {
      return NONE;
    }
    return st.find(new Attachment(att.containerId(), PoolDir.LEGACY_IFNAME));
  }

  /**
   * Whether every allocation's address file still names its holder. When not, the index missed
   * a change, and the caller retries with a rebuild.
   */
  private static boolean verified(Held h, List<Allocation> allocations) throws IOException {
    for (Allocation a : allocations) {
      Attachment onDisk = h.dir.readHolder(a.address());
      if (onDisk == null || !onDisk.equals(a.attachment())) {
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
