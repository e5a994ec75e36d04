package io.jipam.hostlocal;

import static io.jipam.hostlocal.PoolSession.Read.AS_STAMPED;
import static io.jipam.hostlocal.PoolSession.Read.REBUILD;

import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.LocalCalls;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The file store of a long-lived process (jipamd): host-local's files, as {@link HostLocalStore}
 * writes them, with each pool's whole state kept in memory between calls and concurrent calls
 * on one pool committed together.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>State in memory, files the truth.</b> A call works on the pool's {@link PoolState}
 *       in memory and writes its change through to the files (address files, attachment record,
 *       cursor; layout in {@link PoolDir}) before it returns. It reads no directory and holds the
 *       pool's stamp ({@link PoolSession}, "A held stamp"): its first change removes the stamp
 *       file, and while that is still absent and the two directories' stat is as its last call
 *       left it (two stats and a look for the stamp), it trusts its state; the stamp and the index
 *       are written back at {@link #close}. A CNI call so costs about 21 system calls fewer than
 *       reading, invalidating and rewriting the stamp and appending to the index every time.
 *   <li><b>Group commit.</b> Calls on one pool queue ({@link GroupCommit}); one caller runs
 *       everything queued as a batch under one hold of the pool's locks ({@link PoolLock}: the
 *       JVM-wide lock and the {@code lock} file's fcntl lock the plugin takes), applies the calls
 *       in arrival order, writes each cursor once, then forces the batch to disk in one round
 *       (with fsync: each new address and record file, then the network directory) and writes
 *       one stamp and one index append. Only then does any call of the batch return.
 *   <li><b>Sharing the data dir.</b> A plugin in direct mode (or another jipamd, which does not
 *       hold the stamps while this store does: {@link StampHolder}) on the same data dir takes the
 *       same file lock, finds no stamp while this store holds it, rebuilds from the address files
 *       and leaves a new stamp; the next batch here sees a stamp it did not write and
 *       reloads the state from the index, exactly as {@link HostLocalStore} does; only then does a
 *       call here cost O(allocations), and each such call there does.
 *       Before releasing or re-reporting an allocation, its address file is re-read, so a change
 *       the stamp missed is caught and the state rebuilt.
 * </ul>
 *
 * <h2>Contract</h2>
 * {@link IpamStore}'s: atomic per call against this and every other jipam process on the data
 * dir; thread-safe. Durability: when a call returns, its files are written (they survive the
 * process being killed); with fsync also forced to disk (they survive a power loss). A batch that
 * fails on I/O fails every call in it with {@code IO_FAILURE}; what it wrote is in the files, and
 * the next batch rebuilds its state from them.
 *
 * <p>This class queues the calls and runs each batch under one hold of the pool's locks, then
 * commits it; what each call does to the pool state and its files within the batch is {@link
 * WriteBatch}'s. The file layout, the lock and the queue are classes of their own.
 */
final class WriteThroughStore implements IpamStore, FileClaims, io.jipam.core.store.capability.KeptPools,
    io.jipam.core.store.capability.RetirePools {
  private static final List<Allocation> NONE = List.of();
  /** Every this many changing batches, check whether the index wants compacting. */
  private static final int COMPACT_CHECK = 64;

  private final Path dataDir;
  private final boolean fsync;
  private final PoolDir.Forcer forcer;
  private final StateCache cache = new StateCache(HostLocalStore.Mode.AUTO);
  private final ConcurrentHashMap<String, GroupCommit<Op>> pools = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, long[]> changingBatches = new ConcurrentHashMap<>();
  /** The pools' directories by network name, made once (at most {@link #MAX_DIRS} kept). */
  private final ConcurrentHashMap<String, PoolDir> dirs = new ConcurrentHashMap<>();
  private static final int MAX_DIRS = 1024;
  /** The pools' lock files, kept open between calls. */
  private final HeldLockFiles lockFiles = new HeldLockFiles();
  /** The pools of each network, so no two of them hand out one address. */
  private final NetworkPoolDirs networkPools;
  /** Whether this store holds the data dir's stamps (one store per data dir does; see PoolSession). */
  private final StampHolder holder;

  private final java.time.Clock clock;

  WriteThroughStore(Path dataDir, FileSync sync) {
    this(dataDir, sync, java.time.Clock.systemUTC());
  }

  /** With {@code clock}: what holds and cool-downs start and end by. */
  WriteThroughStore(Path dataDir, FileSync sync, java.time.Clock clock) {
    this.clock = clock;
    this.dataDir = dataDir.toAbsolutePath().normalize();
    this.holder = new StampHolder(this.dataDir);
    this.networkPools = new NetworkPoolDirs(this.dataDir, clock);
    this.fsync = sync == FileSync.FSYNC;
    this.forcer = fsync ? new BatchForcer() : null;
  }

  /**
   * With fsync, new files are not forced one by one as they are written ({@link PoolDir#writeNew}
   * calls this with {@code metaData} false): the batch forces them all at its end. The network
   * directory ({@link PoolDir#syncDir}, {@code metaData} true) is forced as asked.
   */
  private static final class BatchForcer extends PoolDir.Forcer {
    @Override
    void force(Path path, FileChannel channel, boolean metaData) throws IOException {
      if (metaData) {
        channel.force(true);
      }
    }
  }

  // ---------------------------------------------------------------- IpamStore

  /** The network's other pool directories ({@link NetworkPoolDirs#kept}). */
  @Override
  public List<Pool> keptPools(String network, Set<String> named, Pool like) {
    return networkPools.kept(network, named, like);
  }

  /**
   * Under the pool's and the network's locks ({@link PoolRetire}), through the lock files this store
   * keeps open; the lock file stays. The cached states are dropped: the next call reads the files.
   */
  @Override
  public io.jipam.core.store.capability.RetireOutcome retire(String pool) {
    io.jipam.core.store.capability.RetireOutcome out = PoolRetire.retire(dataDir, pool, forcer, clock, lockFiles);
    cache.clear();
    return out;
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return run(new Op(Kind.ALLOCATE, pool, request, null, null)).outcome;
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return run(new Op(Kind.RELEASE, pool, null, attachment, null)).allocations;
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    return run(new Op(Kind.FIND, pool, null, attachment, null)).allocations;
  }

  @Override
  public List<Allocation> list(Pool pool) {
    return run(new Op(Kind.LIST, pool, null, null, null)).allocations;
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    return run(new Op(Kind.RETAIN, pool, null, null, Set.copyOf(valid))).allocations;
  }

  @Override
  public PoolUsage usage(Pool pool) {
    return run(new Op(Kind.USAGE, pool, null, null, null)).usage;
  }

  /**
   * Writes back the stamp and index snapshot of every pool whose stamp this store holds (see
   * {@link PoolSession}), so the next process on the data dir (jipamd started again, the plugin in
   * direct mode) reads the index rather than every address file; a pool whose files changed behind
   * this store's back, or that cannot be written, is left without a stamp (the next process rebuilds,
   * as after a crash); one whose directory is gone is not brought back. Then forgets every cached state.
   */
  @Override
  public void close() {
    for (String network : cache.heldNetworks()) {
      StateCache.Entry c = cache.peek(network);
      if (c == null) {
        continue;
      }
      Pool pool = c.state.pool();
      PoolDir d = dir(network);
      if (!d.exists()) {
        continue; // removed (the data dir deleted under a stopping jipamd): nothing to write back
      }
      try (PoolSession h = PoolSession.openToRelease(d, cache, pool, lockFiles, holder)) {
        h.begin(pool, AS_STAMPED);
        h.releaseHold(h.full(pool, AS_STAMPED));
      } catch (IOException | RuntimeException e) {
        System.err.println("jipam: the stamp of network " + network + " is left absent (the next process rebuilds"
            + " from the address files): " + e.getMessage());
      }
    }
    cache.clear();
    lockFiles.close();
    holder.close();
  }

  /** The directory of {@code network}, made once; throws as {@link PoolDir}'s constructor on a bad name. */
  private PoolDir dir(String network) {
    PoolDir d = dirs.get(network);
    if (d == null) {
      d = new PoolDir(dataDir, network, forcer, clock);
      if (dirs.size() < MAX_DIRS) {
        dirs.putIfAbsent(network, d);
      }
    }
    return d;
  }

  /**
   * Also {@link LocalCalls} when it does not fsync: a call is then file system calls on the local
   * data dir and the pool's lock (held by one call or batch at a time, here or in a plugin in
   * direct mode). With fsync a call waits for the disk, which can take long: not offered.
   */
  @Override
  public <T> Optional<T> capability(Class<T> ability) {
    if (ability == LocalCalls.class) {
      return fsync ? Optional.empty() : Optional.of(ability.cast(LOCAL));
    }
    if (ability == io.jipam.core.store.capability.Probe.class) {
      return Optional.of(ability.cast(new DataDirProbe(dataDir)));
    }
    if (ability == io.jipam.core.store.capability.DataDirectory.class) {
      return Optional.of(ability.cast((io.jipam.core.store.capability.DataDirectory) () -> dataDir));
    }
    return IpamStore.super.capability(ability);
  }

  private static final LocalCalls LOCAL = new LocalCalls() {};

  // ---------------------------------------------------------------- Claims (FileClaims)

  @Override
  public boolean poolExists(Pool pool) {
    return dir(pool.name()).exists();
  }

  @SuppressWarnings("unchecked")
  @Override
  public <T> T claimCall(Pool pool, ClaimOp<T> claimOp) {
    Op op = new Op(Kind.CLAIM, pool, null, null, null);
    op.claimOp = claimOp;
    return (T) run(op).claimResult;
  }

  /** {batches, calls} run on the network so far (tests and benchmarks: the mean batch size). */
  long[] batchCounts(String network) {
    GroupCommit<Op> g = pools.get(network);
    return g == null ? new long[] {0, 0} : g.counts();
  }

  private Op run(Op op) {
    PoolDir d = dir(op.pool.name()); // a bad network name fails here, before queueing
    if (op.kind != Kind.ALLOCATE && op.kind != Kind.CLAIM && !d.exists()) {
      // nothing is held in a pool without a directory: answer without creating one
      op.allocations = NONE;
      op.usage = op.kind == Kind.USAGE ? new PoolState(op.pool).usage() : null;
      return op;
    }
    pools.computeIfAbsent(op.pool.name(), n -> new GroupCommit<>(batch -> runBatch(n, batch))).submit(op);
    if (op.failure != null) {
      throw op.failure;
    }
    return op;
  }

  // ---------------------------------------------------------------- operations

  private enum Kind { ALLOCATE, RELEASE, FIND, LIST, RETAIN, USAGE, CLAIM }

  /** One queued call and, once its batch has run, its result. */
  private static final class Op extends GroupCommit.Pending {
    final Kind kind;
    final Pool pool;
    final AllocationRequest request;
    final Attachment attachment;
    final Set<Attachment> valid;
    AllocationOutcome outcome;
    List<Allocation> allocations;
    PoolUsage usage;
    ClaimOp<?> claimOp;
    Object claimResult;

    Op(Kind kind, Pool pool, AllocationRequest request, Attachment attachment, Set<Attachment> valid) {
      this.kind = kind;
      this.pool = pool;
      this.request = request;
      this.attachment = attachment;
      this.valid = valid;
    }
  }

  /** Runs one batch of calls on {@code network}: one lock hold, one commit. */
  private void runBatch(String network, List<Op> ops) {
    Pool first = ops.get(0).pool;
    PoolSession h;
    try {
      h = PoolSession.openHolding(dir(network), cache, first, lockFiles, holder);
    } catch (RuntimeException e) {
      failAll(ops, e);
      return;
    }
    try {
      cache.served(network); // every call on the whole state, never the one-shot path
      if (asksNetwork(ops)) {
        String owner = NetworkPoolDirs.networkLockOwner(first);
        h.lockNetwork(first, owner == null ? null : dir(owner), networkPools, lockFiles);
      }
      h.begin(first, AS_STAMPED);
      WriteBatch b = new WriteBatch(h, h.full(first, AS_STAMPED), fsync);
      for (Op op : ops) {
        try {
          apply(b, op);
        } catch (IpamException e) {
          op.failure = e;
        } catch (IOException | RuntimeException e) {
          op.failure = e instanceof RuntimeException r && !(e instanceof DirectoryIteratorException) ? r
              : PoolDir.ioFailure("serving a call on", h.dir.dir, e);
          b.rebuild(op.pool); // the state may be ahead of the files or behind: the files decide
        }
      }
      commit(network, b);
    } catch (IOException | DirectoryIteratorException e) {
      failAll(ops, PoolDir.ioFailure("committing a batch of calls in", h.dir.dir, e));
    } catch (RuntimeException e) {
      failAll(ops, e);
    } finally {
      h.close();
    }
  }

  /**
   * Whether a call of the batch asks the network's other pools (an ADD, a reservation): then the
   * batch holds the network's lock.
   */
  private static boolean asksNetwork(List<Op> ops) {
    for (Op op : ops) {
      if (op.kind == Kind.ALLOCATE || op.kind == Kind.CLAIM && op.claimOp.needsNetwork()) {
        return true;
      }
    }
    return false;
  }

  private static void failAll(List<Op> ops, RuntimeException e) {
    for (Op op : ops) {
      op.failure = e;
    }
  }

  /** Ends a batch: cursors, the fsync round, then stamp and index (or only the cached state). */
  private void commit(String network, WriteBatch b) throws IOException {
    PoolSession h = b.h;
    if (!b.changed && !h.changedFiles()) {
      h.finishUnchanged(b.st);
      return;
    }
    List<Allocation> cursorMoves = new ArrayList<>(b.cursors.length);
    for (Allocation a : b.cursors) {
      if (a != null) {
        cursorMoves.add(a);
      }
    }
    h.writeCursors(cursorMoves);
    for (Path p : b.toForce) {
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
        ch.force(false);
      } catch (NoSuchFileException gone) {
        // released again within the batch: its removal is what the directory sync makes durable
      }
    }
    long[] count = changingBatches.computeIfAbsent(network, n -> new long[1]);
    if (++count[0] % COMPACT_CHECK == 0) {
      h.compactIfDue();
    }
    h.finishChanged(b.st, new ArrayList<>(b.added.values()), new ArrayList<>(b.removed.values()));
  }

  private void apply(WriteBatch b, Op op) throws IOException {
    switch (op.kind) {
      case ALLOCATE -> op.outcome = b.allocate(op.pool, op.request);
      case RELEASE -> op.allocations = b.release(op.pool, op.attachment);
      case FIND -> op.allocations = b.lookup(op.pool, op.attachment);
      case LIST -> op.allocations = b.state(op.pool).list();
      case USAGE -> op.usage = b.state(op.pool).usage();
      case RETAIN -> op.allocations = b.retainOnly(op.pool, op.valid);
      case CLAIM -> op.claimResult = b.claim(op.pool, op.claimOp);
    }
  }
}
