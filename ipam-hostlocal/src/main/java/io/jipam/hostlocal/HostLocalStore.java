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
 * <h2>Records, stamp, staleness</h2>
 * One-shot ADD, DEL and CHECK read only O(1) files: the attachment's record ({@code
 * .jipam/NET/att/CID@IFNAME}, a superset of its addresses with pods, written before the address
 * files and after their deletion, each entry verified against its file) and the stamp file
 * (generation, both directories' identity and mtime, cursor contents). A stamp that does not match
 * (a foreign change) or is missing (deleted before a call's first change, so a killed call leaves
 * none) makes the call rebuild records, index and stamp from the address files. No settle wait:
 * see docs/hostlocal.md for what the stamp can miss and why that is bounded.
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
 * ADD, DEL and CHECK on the one-shot path: O(1) files whatever the number of allocations. list,
 * usage, GC and lowest-free ADD parse the index (or rebuild), O(n); a long-lived store caches that
 * state while the stamp holds.
 *
 * <p>Thread-safe: all methods may be called from any thread.
 */
final class HostLocalStore implements IpamStore {
  /** How a store chooses between the one-shot path and the whole parsed state. */
  enum Mode {
    /** One-shot path on the first call for a pool, cached whole state afterwards (the default). */
    AUTO,
    /** Always the one-shot path where it applies, never a cached state (a one-shot process's view). */
    FAST
  }

  /** JVM-wide in-process locks, one per network directory. */
  private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();
  private static final int ATTEMPTS = 4;
  private static final int MAX_PROBES = 64;
  private static final List<Allocation> NONE = List.of();

  private final Path dataDir;
  private final PoolDir.Forcer forcer;
  private final Mode mode;
  /** Per network name, the whole state as of a stamp. Each entry guarded by that pool's locks. */
  private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();
  /** Pools this store has served at least once (AUTO mode: they get a cached state). */
  private final Set<String> served = ConcurrentHashMap.newKeySet();

  HostLocalStore(Path dataDir, boolean sync) {
    this(dataDir, sync, Mode.AUTO);
  }

  HostLocalStore(Path dataDir, boolean sync, Mode mode) {
    this(dataDir, sync ? PoolDir.Forcer.FORCE : null, mode);
  }

  /** With {@code forcer} null: no fsync. */
  HostLocalStore(Path dataDir, PoolDir.Forcer forcer, Mode mode) {
    this.dataDir = dataDir.toAbsolutePath().normalize();
    this.forcer = forcer;
    this.mode = mode;
  }

  /** The whole state a store last saw or left, with the stamp text it belongs to. */
  private static final class Cached {
    final PoolState state;
    final String stamp;
    final long base;

    Cached(PoolState state, String stamp, long base) {
      this.state = state;
      this.stamp = stamp;
      this.base = base;
    }
  }

  /** One call's hold on a pool: both locks, and what was read under them. */
  private static final class Held {
    final PoolDir dir;
    final ReentrantLock jvmLock;
    FileChannel channel;
    /** The stamp file as read or last written by this call; null when missing. */
    Stamp recorded;
    /** Whether {@link #recorded} matches the directories and cursors now (no foreign change). */
    boolean fresh;
    /** The cursor files' content; updated as the call writes them. */
    String[] cursors;
    /** A cached whole state whose stamp still holds, or null. */
    Cached cached;
    /** Whether the index's last stamp is {@link #recorded} (so appending keeps it valid). */
    boolean indexValid;
    /** Whether one-shot calls may still append to the index. */
    boolean appendable;
    /** The snapshot length the index's appends count from. */
    long base;
    /** Whether the next write must be a whole snapshot (rebuilt, or too many appends). */
    boolean snapshotNeeded;
    /** Whether the stamp file was removed by this call (it changes files). */
    boolean dropped;

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
        rebuild = true; // the files disagree with jipam's records: rebuild and retry
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

  /** ADD on the attachment's record and the address files (O(1) files); null to rebuild. */
  private AllocationOutcome allocateFast(Held h, Pool pool, AllocationRequest request,
      List<Allocation> created) throws IOException {
    Attachment att = request.attachment();
    List<Allocation> held = heldPerRecords(h, pool, att);
    if (held == null) {
      return null;
    }
    if (!held.isEmpty()) {
      if (request.requested().isEmpty() && coversEverySet(held, pool)) {
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
    boolean wroteRecord = false;
    for (int probe = 0; probe < MAX_PROBES; probe++) {
      for (int i = 0; i < sets; i++) {
        saved[i] = st.cursor(i);
      }
      AllocationOutcome outcome = st.allocate(request);
      if (!(outcome instanceof AllocationOutcome.Allocated got)) {
        if (wroteRecord) {
          AttachmentRecord.write(h.dir, att, NONE); // it held nothing before this call: a failed ADD leaves nothing
        }
        if (h.dropped) {
          commit(h, null, NONE, NONE);
        }
        return outcome; // Taken (holder read from its file), Unavailable, Exhausted
      }
      if (got.existing()) {
        return null; // cannot happen: the attachment held nothing here
      }
      // a taken address is found without writing anything; link(2) below is what counts
      IpAddress clash = firstExisting(h, got.allocations());
      if (clash == null) {
        dropStamp(h);
        AttachmentRecord.write(h.dir, att, got.allocations()); // before the address files: a superset
        wroteRecord = true;
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
          commit(h, null, got.allocations(), NONE);
          return outcome;
        }
        rollback(h, created);
      }
      st.release(att);
      for (int i = 0; i < sets; i++) {
        st.setCursor(i, saved[i]);
      }
      Attachment holder = h.dir.readHolder(clash);
      if (holder == null) {
        continue; // gone meanwhile (a concurrent host-local DEL): choose again
      }
      if (holder.equals(att) || !recordLists(h, holder, clash)) {
        return null; // a file no record knows: a change the stamp missed, rebuild
      }
      st.load(clash, holder, PodRef.UNKNOWN);
    }
    if (wroteRecord) {
      AttachmentRecord.write(h.dir, att, NONE); // held nothing; the whole state decides from here
    }
    return allocateFull(h, pool, request, created, false); // crowded after the cursor
  }

  private static IpAddress firstExisting(Held h, List<Allocation> allocations) {
    for (Allocation a : allocations) {
      if (h.dir.addressFile(a.address()).toFile().exists()) {
        return a.address();
      }
    }
    return null;
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
      if (!before.contains(a)) {
        fresh.add(a);
      }
    }
    dropStamp(h);
    AttachmentRecord.write(h.dir, att, got.allocations()); // before the address files: a superset
    for (Allocation a : fresh) {
      if (!h.dir.createAddressFile(a.address(), a.attachment())) {
        rollback(h, created);
        return null; // a file the state did not know about
      }
      created.add(a);
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
      Lookup found = lookup(h, pool, attachment);
      PoolState st = found.state;
      List<Allocation> held = found.held;
      if (held.isEmpty()) {
        finish(h, st, false, NONE, NONE);
        return NONE;
      }
      Attachment holder = held.get(0).attachment();
      if (st != null) {
        st.release(holder);
      }
      dropStamp(h);
      for (Allocation a : held) {
        h.dir.deleteAddressFile(a.address());
      }
      AttachmentRecord.write(h.dir, holder, NONE); // after the address files: a crash leaves a superset
      finish(h, st, true, NONE, held);
      return held;
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
      Lookup found = lookup(h, pool, attachment);
      finish(h, found.state, false, NONE, NONE);
      return found.held;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } finally {
      unlock(h);
    }
  }

  /** What an attachment holds, and the loaded state it was read from (null on the fast path). */
  private static final class Lookup {
    final PoolState state;
    final List<Allocation> held;

    Lookup(PoolState state, List<Allocation> held) {
      this.state = state;
      this.held = held;
    }
  }

  /**
   * Finds what the attachment holds, under the pool's locks: from its record on the fast path
   * (verified there against the address files), else from the loaded state, old-format files
   * included, verified against the address files. Rebuilds and retries while they disagree.
   */
  private Lookup lookup(Held h, Pool pool, Attachment attachment) throws IOException {
    boolean rebuild = false;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++, rebuild = true) {
      boolean fast = begin(h, pool, rebuild);
      PoolState st = fast ? null : full(h, pool, rebuild);
      List<Allocation> held = fast ? heldPerRecords(h, pool, attachment) : st.find(attachment);
      if (held == null) {
        continue;
      }
      if (held.isEmpty() && !fast) {
        held = legacyHeld(st, attachment);
      }
      if (fast || verified(h, held)) {
        return new Lookup(st, held);
      }
    }
    throw contended(pool);
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
    keep.add(PoolDir.NOT_A_FILE); // a directory or FIFO named like an address: never deleted
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
        if (!released.isEmpty()) {
          dropStamp(h);
        }
        Set<Attachment> gone = new HashSet<>();
        for (Allocation a : released) {
          h.dir.deleteAddressFile(a.address());
          gone.add(a.attachment());
        }
        for (Attachment a : gone) {
          AttachmentRecord.write(h.dir, a, NONE);
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
    PoolDir d = new PoolDir(dataDir, pool.name(), forcer);
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
  }

  private static IpamException contended(Pool pool) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "the files of network " + pool.name()
        + " keep changing behind jipam's back (is host-local running on the same directory?)");
  }

  // ---------------------------------------------------------------- loading and persisting

  /**
   * Starts (an attempt of) a call under the locks: reads the stamp file, the directories' stat
   * and the cursor files, and decides whether the stamp holds. Returns whether the call takes
   * the one-shot path; that path needs the records complete, so when the stamp does not hold (or
   * {@code rebuild}) it rebuilds them here first. The cache entry is removed while the call may
   * change its state; {@link #finish} puts one back.
   */
  private boolean begin(Held h, Pool pool, boolean rebuild) throws IOException {
    PoolDir d = h.dir;
    Stamp now = Stamp.observe(d, pool.rangeSets().size());
    h.cursors = now.cursors;
    h.recorded = Stamp.read(d);
    h.fresh = h.recorded != null && h.recorded.sameFiles(now);
    h.snapshotNeeded = false;
    h.indexValid = false;
    h.appendable = false;
    h.base = 0;
    Cached c = cache.remove(d.network);
    h.cached = c != null && !rebuild && h.fresh && c.stamp.equals(h.recorded.text()) ? c : null;
    boolean longLived = mode == Mode.AUTO && served.contains(d.network);
    if (longLived) {
      return false;
    }
    if (rebuild || !h.fresh) {
      PoolState st = rebuildState(h, pool);
      h.snapshotNeeded = true;
      commit(h, st, NONE, NONE);
      return true;
    }
    IndexFile.Tail tail = IndexFile.tail(d);
    if (tail != null && tail.stamp.equals(h.recorded.text())) {
      h.indexValid = true;
      h.appendable = tail.appendable();
      h.base = tail.base;
    }
    return true;
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
      h.base = h.cached.base;
      h.indexValid = true;
      h.appendable = true;
    } else if (!rebuild && h.fresh) {
      IndexFile.Raw raw = IndexFile.read(h.dir);
      if (raw != null && raw.stamp.equals(h.recorded.text())) {
        try {
          st = reload(pool, IndexFile.parseAll(raw));
          h.snapshotNeeded = raw.oversized();
          h.base = raw.base;
          h.indexValid = true;
          h.appendable = true;
        } catch (RuntimeException e) {
          st = null; // a corrupt line: rebuild
        }
      }
    }
    if (st == null) {
      st = rebuildState(h, pool);
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

  private static PoolState reload(Pool pool, Collection<Allocation> allocations) {
    PoolState st = new PoolState(pool);
    for (Allocation a : allocations) {
      st.load(a.address(), a.attachment(), a.pod());
    }
    return st;
  }

  /**
   * Rebuilds the state from the address files: the one directory walk, only when the stamp does
   * not hold (a foreign change or a crash), the index is unusable, or the files disagreed with a
   * record. Removes temp files a killed jipam left. Makes every record list exactly what its
   * attachment holds (pods kept from the records) and deletes records of attachments holding
   * nothing. O(allocations) files.
   */
  private static PoolState rebuildState(Held h, Pool pool) throws IOException {
    PoolDir d = h.dir;
    dropStamp(h);
    Map<Attachment, List<IpAddress>> byHolder = new HashMap<>();
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
          holder = PoolDir.holderAt(p);
          if (holder == null) {
            continue;
          }
        } catch (IOException e) {
          holder = PoolDir.UNREADABLE; // the name exists, so the address is not free
        }
        List<IpAddress> list = byHolder.get(holder);
        if (list == null) {
          list = new ArrayList<>(2);
          byHolder.put(holder, list);
        }
        list.add(address);
      }
    }
    PoolState st = new PoolState(pool);
    Set<Path> recordFiles = new HashSet<>();
    for (Map.Entry<Attachment, List<IpAddress>> e : byHolder.entrySet()) {
      Attachment holder = e.getKey();
      AttachmentRecord r = AttachmentRecord.read(d, holder);
      boolean exact = r != null && r.addresses.length == e.getValue().size();
      List<Allocation> held = new ArrayList<>(e.getValue().size());
      for (IpAddress a : e.getValue()) {
        PodRef pod = r == null ? null : r.podOf(a);
        exact &= pod != null;
        st.load(a, holder, pod == null ? PodRef.UNKNOWN : pod);
      }
      held.addAll(st.find(holder));
      if (!exact) {
        AttachmentRecord.write(d, holder, held);
      }
      recordFiles.add(AttachmentRecord.file(d, holder));
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(d.attDir)) {
      for (Path p : entries) {
        if (!recordFiles.contains(p)) {
          Files.deleteIfExists(p); // holds nothing (or a temp file left by a crash)
        }
      }
    }
    return st;
  }

  /** Removes the stamp file once, before the call's first change (see {@link PoolDir#dropStamp}). */
  private static void dropStamp(Held h) throws IOException {
    if (!h.dropped) {
      Stamp.drop(h.dir);
      h.dropped = true;
    }
  }

  /**
   * Ends a call that went well: when it changed the directory or the index must be rewritten,
   * {@link #commit}s; else caches the whole state (if any) as of the stamp.
   */
  private void finish(Held h, PoolState st, boolean dirChanged, List<Allocation> added,
      List<Allocation> removed) throws IOException {
    if (dirChanged || h.snapshotNeeded || h.dropped) {
      commit(h, st, added, removed);
    } else if (st != null && mode != Mode.FAST && h.recorded != null) {
      cache.put(h.dir.network, new Cached(st, h.recorded.text(), h.base));
    }
  }

  /**
   * Records what the call left: a new stamp (next generation, the directories as they are now)
   * in the stamp file, then the index: a snapshot when {@code st} is the whole state and one is
   * due, else the call's changes appended when the index was valid, else nothing (it stays
   * stale until a whole load rebuilds it). The files are the truth: when the index cannot be
   * written it is deleted, and the call still succeeds.
   */
  private void commit(Held h, PoolState st, List<Allocation> added, List<Allocation> removed)
      throws IOException {
    PoolDir d = h.dir;
    d.syncDir();
    long gen = h.recorded == null ? 1 : h.recorded.gen + 1;
    Stamp stamp = Stamp.observe(d, gen, h.cursors);
    String text = stamp.text();
    dropStamp(h);
    boolean indexValid = false;
    try {
      if (st != null && (h.snapshotNeeded || !h.indexValid)) {
        h.base = IndexFile.writeSnapshot(d, text, st.allocations());
        indexValid = true;
      } else if (h.indexValid && h.appendable) {
        IndexFile.append(d, added, removed, text, h.base);
        indexValid = true;
      } else if (h.indexValid) {
        IndexFile.discard(d); // compaction due: left to the next whole load, which rebuilds
      }
    } catch (IpamException e) {
      IndexFile.discard(d);
    }
    Stamp.write(d, stamp);
    h.recorded = stamp;
    h.fresh = true;
    h.dropped = false;
    h.snapshotNeeded = false;
    h.indexValid = indexValid;
    if (indexValid && st != null && mode != Mode.FAST) {
      cache.put(d.network, new Cached(st, text, h.base));
    }
  }

  // ---------------------------------------------------------------- helpers

  private static void writeCursors(Held h, List<Allocation> fresh) throws IOException {
    for (Allocation a : fresh) {
      h.dir.writeCursor(a.rangeSetIndex(), a.address());
      h.cursors[a.rangeSetIndex()] = a.address().toString();
    }
  }

  /**
   * One-shot path: what the attachment holds according to its record, each entry checked against
   * its address file; when it holds nothing, what an old-format file gives its container (the
   * record of {@code (CONTAINERID, *)}). Null when the files disagree with the records in a way
   * only a missed change explains (a record unreadable, a file naming a holder whose record does
   * not list it): the caller rebuilds.
   */
  private static List<Allocation> heldPerRecords(Held h, Pool pool, Attachment att) throws IOException {
    List<Allocation> exact = perRecord(h, pool, att);
    if (exact == null || !exact.isEmpty() || PoolDir.LEGACY_IFNAME.equals(att.ifname())) {
      return exact;
    }
    return perRecord(h, pool, new Attachment(att.containerId(), PoolDir.LEGACY_IFNAME));
  }

  private static List<Allocation> perRecord(Held h, Pool pool, Attachment att) throws IOException {
    AttachmentRecord r = AttachmentRecord.read(h.dir, att);
    if (r == null) {
      return null;
    }
    List<Allocation> out = new ArrayList<>(r.addresses.length);
    for (int k = 0; k < r.addresses.length; k++) {
      IpAddress ip = r.addresses[k];
      Attachment onDisk = h.dir.readHolder(ip);
      if (onDisk == null) {
        continue; // released, or a crash before its file was created: the record is a superset
      }
      if (!onDisk.equals(att)) {
        if (!recordLists(h, onDisk, ip)) {
          return null; // another holder's file that no record knows: a missed change
        }
        continue; // handed out again since; this record is stale there
      }
      Allocation a = new Allocation(ip, pool.rangeSetIndexOf(ip), att, r.pods[k]);
      int i = out.size();
      while (i > 0 && out.get(i - 1).rangeSetIndex() > a.rangeSetIndex()) {
        i--;
      }
      out.add(i, a); // range set order, as PoolState keeps it
    }
    return out;
  }

  private static boolean recordLists(Held h, Attachment holder, IpAddress address) throws IOException {
    AttachmentRecord r = AttachmentRecord.read(h.dir, holder);
    return r != null && r.lists(address);
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
   * Whether every allocation's address file still names its holder. When not, the state missed
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
