package io.jipam.hostlocal;

import static io.jipam.hostlocal.PoolSession.Read.AS_STAMPED;
import static io.jipam.hostlocal.PoolSession.Read.REBUILD;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@link IpamStore} in host-local's files: one file per address in {@code <dataDir>/<network>/},
 * which stay the truth, plus a rebuildable index that makes every call cost O(1) file operations
 * (see {@link PoolDir} for the layout table, {@link IndexFile} for the index format).
 *
 * <h2>Who does what</h2>
 * This class is the façade and the whole-state path (ADD on the loaded state, lookups with old
 * format files, list, usage, GC). Each call runs in a {@link PoolSession} (both locks, via {@link
 * PoolLock}, and the begin / full / finish / commit steps); {@link FastPath} is the one-shot path
 * on records and address files; {@link Rebuild} rebuilds the state from the address files;
 * {@link StateCache} keeps whole states between calls; {@link PoolDir}, {@link AttachmentRecord},
 * {@link Stamp} and {@link IndexFile} are the files.
 *
 * <h2>Locking</h2>
 * Every call holds two locks ({@link PoolLock}): a JVM-wide lock per network directory, then an
 * exclusive {@link FileChannel#lock} on {@code <dataDir>/<network>/lock}, which serialises jipam
 * processes. On Linux this is a POSIX (fcntl) record lock; host-local takes {@code flock(2)} on
 * the same file, and the two kinds do not exclude each other. So jipam and host-local running
 * <em>at the same time</em> on one directory are not serialised. Even then no address is handed
 * out twice, because both create address files exclusively (host-local with {@code
 * O_CREAT|O_EXCL}, jipam with {@code link(2)}) and jipam treats an existing file as taken and
 * re-reads the directory; jipam also re-reads an address file before deleting it. What
 * concurrent mixed use can still do is make jipam's index miss a host-local change until the
 * directory changes again (see staleness below), and let either read the other's cursor half
 * written (both write it in place), which moves only where that call's search starts. Switching a node from one plugin to the other
 * (not running both at once) is fully supported. {@code @GuardedBy("both locks of the pool")}:
 * the pool's files, its {@link StateCache} entry, and the {@link PoolState} in it.
 *
 * <h2>Records, stamp, staleness</h2>
 * One-shot ADD, DEL and CHECK read only O(1) files: the attachment's record ({@code
 * .jipam/NET/att/CID@IFNAME}, a superset of its addresses with pods, written before the address
 * files and after their deletion, each entry verified against its file) and the stamp file
 * (generation, both directories' identity and mtime, cursor contents). A stamp that does not match
 * (a foreign change) or is missing or invalid (invalidated in place before a call's first change,
 * so a killed call leaves none) makes the call rebuild records, index and stamp from the address files. No settle wait:
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
 * <h2>Claims</h2>
 * Holds, reservations and cool-downs ({@link Claims}, the rules in {@link
 * io.jipam.core.store.AddressPolicy}) are kept by {@link ClaimFiles}: a claims file and a marker
 * address file per claimed, unallocated address, so host-local never hands one out. A pool with
 * a policy or claims always takes the whole-state path.
 *
 * <p>Length: about 470 lines, as one class on purpose: the claims calls are a few lines each on
 * top of the whole-state path this class already is.
 *
 * <p>Thread-safe: all methods may be called from any thread.
 */
final class HostLocalStore implements IpamStore, FileClaims, io.jipam.core.store.capability.KeptPools,
    io.jipam.core.store.capability.RetirePools {
  /** How a store chooses between the one-shot path and the whole parsed state. */
  enum Mode {
    /** One-shot path on the first call for a pool, cached whole state afterwards (the default). */
    AUTO,
    /** Always the one-shot path where it applies, never a cached state (a one-shot process's view). */
    FAST
  }

  private static final int ATTEMPTS = 4;
  private static final List<Allocation> NONE = List.of();

  private final Path dataDir;
  private final PoolDir.Forcer forcer;
  private final java.time.Clock clock;
  /** The whole states this store keeps between calls, and which networks it has served. */
  private final StateCache cache;
  /** The pools of each network, so no two of them hand out one address. */
  private final NetworkPoolDirs networkPools;

  HostLocalStore(Path dataDir, FileSync sync) {
    this(dataDir, sync, Mode.AUTO);
  }

  HostLocalStore(Path dataDir, FileSync sync, Mode mode) {
    this(dataDir, sync == FileSync.FSYNC ? PoolDir.Forcer.FORCE : null, mode);
  }

  /** With {@code forcer} null: no fsync. */
  HostLocalStore(Path dataDir, PoolDir.Forcer forcer, Mode mode) {
    this(dataDir, forcer, mode, null);
  }

  /** With {@code clock}: what holds and cool-downs start and end by (null: the system clock). */
  HostLocalStore(Path dataDir, PoolDir.Forcer forcer, Mode mode, java.time.Clock clock) {
    this.clock = clock;
    this.dataDir = dataDir.toAbsolutePath().normalize();
    this.forcer = forcer;
    this.cache = new StateCache(mode);
    this.networkPools = new NetworkPoolDirs(this.dataDir, clock);
  }

  private PoolDir dir(Pool pool) {
    return new PoolDir(dataDir, pool.name(), forcer, clock);
  }

  // ---------------------------------------------------------------- IpamStore

  /**
   * Besides what it implements: a {@link io.jipam.core.store.capability.Probe} of its data dir, and
   * the {@link io.jipam.core.store.capability.DataDirectory} that is.
   */
  @Override
  public <T> java.util.Optional<T> capability(Class<T> ability) {
    if (ability == io.jipam.core.store.capability.Probe.class) {
      return java.util.Optional.of(ability.cast(new DataDirProbe(dataDir)));
    }
    if (ability == io.jipam.core.store.capability.DataDirectory.class) {
      return java.util.Optional.of(ability.cast((io.jipam.core.store.capability.DataDirectory) () -> dataDir));
    }
    return IpamStore.super.capability(ability);
  }

  /** The network's other pool directories ({@link NetworkPoolDirs#kept}). */
  @Override
  public List<Pool> keptPools(String network, Set<String> named, Pool like) {
    return networkPools.kept(network, named, like);
  }

  /** Under the pool's and the network's locks ({@link PoolRetire}); the lock file stays. */
  @Override
  public io.jipam.core.store.capability.RetireOutcome retire(String pool) {
    io.jipam.core.store.capability.RetireOutcome out = PoolRetire.retire(dataDir, pool, forcer, clock, null);
    cache.clear();
    return out;
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    PoolSession h = PoolSession.open(dir(pool), cache, pool);
    List<Allocation> created = new ArrayList<>(2);
    try {
      lockNetwork(h, pool);
      PoolSession.Read read = AS_STAMPED;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        boolean fast = h.begin(pool, read);
        AllocationOutcome outcome = fast ? FastPath.allocate(this, h, pool, request, created)
            : allocateFull(h, pool, request, created, read);
        if (outcome != null) {
          return outcome;
        }
        read = REBUILD; // the files disagree with jipam's records: rebuild and retry
      }
      throw PoolSession.contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      h.rollback(created);
      throw PoolDir.ioFailure("allocating in", h.dir.dir, e);
    } catch (RuntimeException e) {
      h.rollback(created);
      throw e;
    } finally {
      h.close();
    }
  }

  /** ADD on the whole state; null to retry with a rebuild. */
  AllocationOutcome allocateFull(PoolSession h, Pool pool, AllocationRequest request,
      List<Allocation> created, PoolSession.Read read) throws IOException {
    PoolState st = h.full(pool, read);
    Attachment att = request.attachment();
    List<Allocation> before = st.find(att);
    if (before.isEmpty()) {
      List<Allocation> legacy = legacyHeld(st, att);
      if (!legacy.isEmpty()) {
        if (!h.verified(legacy)) {
          return null;
        }
        h.finishUnchanged(st);
        return AllocationOutcome.Allocated.held(legacy);
      }
    } else if (!h.verified(before)) {
      return null;
    }
    Set<IpAddress> marked = ClaimFiles.marked(st);
    AllocationOutcome outcome = st.allocate(request, h.others());
    if (!(outcome instanceof AllocationOutcome.Allocated got) || got.existing()) {
      if (!ClaimFiles.persist(h, st, marked, Set.of())) { // expired claims dropped
        return null;
      }
      h.finishUnchanged(st);
      return outcome;
    }
    List<Allocation> fresh = new ArrayList<>(2);
    for (Allocation a : got.allocations()) {
      if (!before.contains(a)) {
        fresh.add(a);
      }
    }
    h.dropStamp();
    // before the address files: a superset, keeping what the record lists outside the ranges now
    AttachmentRecord.write(h.dir, att, AttachmentRecord.afterAdd(got.allocations(), FastPath.outOfRange(h, pool, att)));
    try {
      for (Allocation a : fresh) {
        if (marked.contains(a.address()) ? !h.dir.replaceMarker(a.address(), AddressFileText.content(a.attachment()))
            : !h.dir.createAddressFile(a.address(), a.attachment())) {
          h.rollback(created);
          return null; // a file the state did not know about, or a marker someone replaced
        }
        created.add(a);
      }
    } catch (IOException | RuntimeException e) {
      h.undoAdd(e, created, att, before);
      throw e;
    }
    if (!ClaimFiles.persist(h, st, marked, Set.of())) {
      return null;
    }
    h.writeCursors(fresh);
    created.clear();
    h.finishChanged(st, fresh, NONE);
    return outcome;
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    PoolDir d = dir(pool);
    if (!d.exists()) {
      return NONE; // nothing held, and nothing to create for a read
    }
    PoolSession h = PoolSession.open(d, cache, pool);
    try {
      Lookup found = lookup(h, pool, attachment);
      PoolState st = found.state;
      List<Allocation> held = found.held;
      if (held.isEmpty()) {
        h.finishUnchanged(st);
        return NONE;
      }
      Attachment holder = held.get(0).attachment();
      Set<IpAddress> marked = st == null ? Set.of() : ClaimFiles.marked(st);
      if (st != null) {
        st.release(holder);
      }
      h.dropStamp();
      ClaimFiles.releaseFiles(h, st, marked, held);
      AttachmentRecord.write(h.dir, holder, NONE); // after the address files: a crash leaves a superset
      h.finishChanged(st, NONE, held);
      return held;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("releasing in", h.dir.dir, e);
    } finally {
      h.close();
    }
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    PoolDir d = dir(pool);
    if (!d.exists()) {
      return NONE; // nothing held, and nothing to create for a read
    }
    PoolSession h = PoolSession.open(d, cache, pool);
    try {
      Lookup found = lookup(h, pool, attachment);
      h.finishUnchanged(found.state);
      return found.held;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } finally {
      h.close();
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
  private Lookup lookup(PoolSession h, Pool pool, Attachment attachment) throws IOException {
    PoolSession.Read read = AS_STAMPED;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++, read = REBUILD) {
      boolean fast = h.begin(pool, read);
      PoolState st = fast ? null : h.full(pool, read);
      List<Allocation> held = fast ? FastPath.heldPerRecords(h, pool, attachment) : st.find(attachment);
      if (held == null) {
        continue;
      }
      if (held.isEmpty() && !fast) {
        held = legacyHeld(st, attachment);
      }
      if (fast || h.verified(held)) {
        return new Lookup(st, held);
      }
    }
    throw PoolSession.contended(pool);
  }

  @Override
  public List<Allocation> list(Pool pool) {
    PoolDir d = dir(pool);
    if (!d.exists()) {
      return NONE; // nothing held, and nothing to create for a read
    }
    PoolSession h = PoolSession.open(d, cache, pool);
    try {
      h.begin(pool, AS_STAMPED);
      PoolState st = h.full(pool, AS_STAMPED);
      List<Allocation> all = st.list();
      h.finishUnchanged(st);
      return all;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } finally {
      h.close();
    }
  }

  @Override
  public PoolUsage usage(Pool pool) {
    PoolDir d = dir(pool);
    if (!d.exists()) {
      return new PoolState(pool).usage(); // nothing held, and nothing to create for a read
    }
    PoolSession h = PoolSession.open(d, cache, pool);
    try {
      h.begin(pool, AS_STAMPED);
      PoolState st = h.full(pool, AS_STAMPED);
      PoolUsage usage = st.usage();
      h.finishUnchanged(st);
      return usage;
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("reading", h.dir.dir, e);
    } finally {
      h.close();
    }
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    Set<Attachment> keep = new HashSet<>(valid);
    keep.add(AddressFileText.NOT_A_FILE); // a directory or FIFO named like an address: never deleted
    for (Attachment v : valid) {
      if (!AddressFileText.LEGACY_IFNAME.equals(v.ifname())) {
        keep.add(new Attachment(v.containerId(), AddressFileText.LEGACY_IFNAME)); // old files: any ifname
      }
    }
    PoolDir d = dir(pool);
    if (!d.exists()) {
      return NONE; // nothing held, nothing to release
    }
    PoolSession h = PoolSession.open(d, cache, pool);
    try {
      PoolSession.Read read = AS_STAMPED;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++, read = REBUILD) {
        h.begin(pool, read);
        PoolState st = h.full(pool, read);
        List<Allocation> doomed = new ArrayList<>();
        for (Allocation a : st.allocations()) {
          if (!keep.contains(a.attachment())) {
            doomed.add(a);
          }
        }
        if (!h.verified(doomed)) {
          continue;
        }
        Set<IpAddress> marked = ClaimFiles.marked(st);
        List<Allocation> released = st.retainOnly(keep);
        if (!released.isEmpty()) {
          h.dropStamp();
        }
        ClaimFiles.releaseFiles(h, st, marked, released);
        Set<Attachment> gone = new HashSet<>();
        for (Allocation a : released) {
          gone.add(a.attachment());
        }
        for (Attachment a : gone) {
          AttachmentRecord.write(h.dir, a, NONE);
        }
        if (released.isEmpty()) {
          h.finishUnchanged(st);
        } else {
          h.finishChanged(st, NONE, released);
        }
        return released;
      }
      throw PoolSession.contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("collecting garbage in", h.dir.dir, e);
    } finally {
      h.close();
    }
  }

  @Override
  public void close() {
    cache.clear();
  }

  // ---------------------------------------------------------------- Claims (FileClaims)

  @Override
  public boolean poolExists(Pool pool) {
    return dir(pool).exists();
  }

  /**
   * Runs a claims operation under the pool's locks on the whole state and persists what it
   * changed ({@link ClaimFiles#persist}). An address with a file the state does not know (a
   * change the stamp missed) makes it rebuild first.
   */
  @Override
  public <T> T claimCall(Pool pool, ClaimOp<T> op) {
    PoolSession h = PoolSession.open(dir(pool), cache, pool);
    try {
      if (op.needsNetwork()) {
        lockNetwork(h, pool);
      }
      PoolSession.Read read = AS_STAMPED;
      for (int attempt = 0; attempt < ATTEMPTS; attempt++, read = REBUILD) {
        h.begin(pool, read);
        PoolState st = h.full(pool, read);
        T result = op.run(h, st);
        if (result == null) {
          continue; // a file the state does not know about
        }
        h.finishUnchanged(st);
        return result;
      }
      throw PoolSession.contended(pool);
    } catch (IOException | DirectoryIteratorException e) {
      throw PoolDir.ioFailure("changing the claims of", h.dir.dir, e);
    } finally {
      h.close();
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Takes the network's lock after the pool's (a sub-pool's ADD or reservation; {@link NetworkPoolDirs}). */
  private void lockNetwork(PoolSession h, Pool pool) throws IOException {
    String network = NetworkPoolDirs.networkLockOwner(pool);
    h.lockNetwork(pool, network == null ? null : new PoolDir(dataDir, network, forcer, clock), networkPools, null);
  }


  /** What an old-format file (container ID only) gives the attachment's container, or nothing. */
  private static List<Allocation> legacyHeld(PoolState st, Attachment att) {
    if (AddressFileText.LEGACY_IFNAME.equals(att.ifname())) {
      return NONE;
    }
    return st.find(new Attachment(att.containerId(), AddressFileText.LEGACY_IFNAME));
  }
}
