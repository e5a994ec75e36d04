package io.jipam.hostlocal;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.OtherPools;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.util.Collection;
import java.util.List;

/**
 * One call's locked session on a pool: holds both locks ({@link PoolLock}) from {@link #open}
 * to {@link #close}, and what the call read under them, through the steps every call takes:
 * {@link #begin} (observe the directories, read the stamp, decide fast path or whole state,
 * rebuild when the stamp does not hold), {@link #full} (the whole state: cached, parsed index or
 * rebuilt), changes to the files, then {@link #finishUnchanged}, {@link #finishChanged} or {@link #commit} (new stamp, index
 * append or snapshot, cached state). Not thread-safe: one call's.
 *
 * <h2>A held stamp</h2>
 * A long-lived store ({@link WriteThroughStore}, jipamd) opens its sessions {@link #openHolding
 * holding} the stamp: its first call that changes files removes the stamp file, and from then on
 * its calls neither read, invalidate nor rewrite it, nor append to the index; they keep in memory
 * the stamp they would have written ({@link StateCache.Entry#held}) and trust their cached state
 * while the stamp file is still absent and the two directories' identity and mtime are as they
 * left them. Any other jipam process on the data dir finds no stamp and rebuilds from the address
 * files (the truth), as after a crash, and writes a stamp; the holder then finds a stamp file it did
 * not leave and reads it as any session does. A change the directories' mtime does not show (two
 * within one tick of the file system's clock) is caught where it matters, as without a held stamp:
 * an address file the state does not know makes its {@code link(2)} fail, and one whose holder
 * differs fails {@link #verified}, and the call rebuilds. {@link #releaseHold} (the store's close)
 * writes the snapshot and stamp, so the next process starts from the index. The cursor files are
 * written but not read while the stamp is held: they are the holder's (a cursor is where a search
 * starts, never what is taken). One store per data dir holds ({@link StampHolder}); a stamp file
 * present is never matched with the held one (the holder writes none while it holds).
 *
 * <p>Length: about 490 lines, as one class on purpose: every step reads and updates the same
 * session state (the stamp as read and whether it still holds, the cursors and their lengths, the
 * index's position, whether the stamp is held, absent or dropped), and the held-stamp steps are
 * variants of the same steps over it; split, that state would be handed between classes that each
 * hold half of one protocol.
 */
final class PoolSession implements AutoCloseable {
  private static final List<Allocation> NONE = List.of();

  /** How an attempt of a call reads the pool's records ({@link #begin}, {@link #full}). */
  enum Read {
    /** Trust the stamp: the cached state or the index while the stamp holds, else rebuilt. */
    AS_STAMPED,
    /** Rebuild from the address files whatever the stamp says: the files disagreed with the records. */
    REBUILD
  }

  final PoolDir dir;
  /** The stamp file as read or last written by this call; null when missing. */
  private Stamp recorded;
  /** Whether {@link #recorded} matches the directories and cursors now (no foreign change). */
  private boolean fresh;
  /** The cursor files' content; updated as the call writes them. */
  private String[] cursors;
  /** The cursor files' lengths in bytes (0 when missing), as read or written by this call. */
  private long[] cursorLengths;
  /** The stamp file's length in bytes as read or written by this call, -1 when not known. */
  private long stampLength = -1;
  /** A cached whole state whose stamp still holds, or null. */
  private StateCache.Entry cached;
  /** Whether the index's last stamp is {@link #recorded} (so appending keeps it valid). */
  private boolean indexValid;
  /** Whether one-shot calls may still append to the index. */
  private boolean appendable;
  /** The snapshot length the index's appends count from. */
  private long base;
  /** Whether the next write must be a whole snapshot (rebuilt, or too many appends). */
  private boolean snapshotNeeded;
  /** Whether the stamp file was removed by this call (it changes files). */
  private boolean dropped;
  private final StateCache cache;
  private final PoolLock lock;
  /** Whether this session holds the stamp between calls (see the class comment). */
  private boolean holding;
  /** Whether this store may hold the stamps (one store per data dir does); null: it never holds. */
  private final StampHolder holder;
  /** Held: the stamp file is absent by the holder's doing (as of {@link #begin}, or removed since). */
  private boolean stampAbsent;
  /** {@link #releaseHold} is writing the stamp back: commit as a session that does not hold it. */
  private boolean releasing;

  /**
   * What the other pools of the network hold, for this call's ADDs and reservations ({@link NetworkPoolDirs});
   * {@link OtherPools#NONE} unless the store set it holding the network's lock.
   */
  private OtherPools others = OtherPools.NONE;
  /** The network's lock this call holds besides the pool's ({@link NetworkPoolDirs}), or null. */
  private PoolLock networkLock;

  OtherPools others() {
    return others;
  }

  /**
   * For an ADD or a reservation: takes the network's lock when the pool is a sub-pool (after the
   * pool's own, which this session holds), then reads which other pools the network has.
   */
  void lockNetwork(Pool pool, PoolDir networkDir, NetworkPoolDirs pools, HeldLockFiles lockFiles) throws IOException {
    if (networkDir != null && networkLock == null) {
      networkLock = PoolLock.acquire(networkDir, pool, true, lockFiles);
    }
    others = pools.others(pool);
  }

  /** The cursor files' content as this call has left them (read by the one-shot path). */
  String[] cursors() {
    return cursors;
  }

  /** Whether this call has removed the stamp (it changed files, so it must commit). */
  boolean changedFiles() {
    return dropped;
  }

  private PoolSession(PoolDir dir, StateCache cache, PoolLock lock, StampHolder holder) {
    this.dir = dir;
    this.cache = cache;
    this.lock = lock;
    this.holder = holder;
    this.holding = holder != null;
  }

  /** Locks the pool's directory (see {@link PoolLock#acquire}) for one call. */
  static PoolSession open(PoolDir dir, StateCache cache, Pool pool) {
    return new PoolSession(dir, cache, PoolLock.acquire(dir, pool), null);
  }

  /**
   * {@link #open}, for a long-lived store that holds the stamp between calls (class comment), and
   * keeps the lock file open between them in {@code lockFiles}.
   */
  static PoolSession openHolding(PoolDir dir, StateCache cache, Pool pool, HeldLockFiles lockFiles,
      StampHolder holder) {
    return new PoolSession(dir, cache, PoolLock.acquire(dir, pool, true, lockFiles), holder);
  }

  /**
   * {@link #openHolding} of a pool whose directory exists, to end the hold ({@link #releaseHold}):
   * a pool removed since (its data dir deleted while the store closes) is not brought back.
   */
  static PoolSession openToRelease(PoolDir dir, StateCache cache, Pool pool, HeldLockFiles lockFiles,
      StampHolder holder) {
    return new PoolSession(dir, cache, PoolLock.acquire(dir, pool, false, lockFiles), holder);
  }

  /** Releases the locks; the network counts as served. */
  @Override
  public void close() {
    try {
      if (networkLock != null) {
        networkLock.close();
      }
    } finally {
      try {
        lock.close();
      } finally {
        cache.served(dir.network);
      }
    }
  }

  /**
   * Starts (an attempt of) a call under the locks: reads the stamp file, the directories' stat
   * and the cursor files, and decides whether the stamp holds. Returns whether the call takes
   * the one-shot path; that path needs the records complete, so when the stamp does not hold (or
   * {@code read} is {@link Read#REBUILD}) it rebuilds them here first. The cache entry is removed
   * while the call may change its state; {@link #finishUnchanged} puts one back.
   */
  boolean begin(Pool pool, Read read) throws IOException {
    boolean rebuild = read == Read.REBUILD;
    PoolDir d = this.dir;
    this.stampAbsent = false;
    if (this.holding && !rebuild && beginHeld(pool)) {
      return false;
    }
    if (this.holding && this.holder.lost()) {
      this.holding = false; // its lock's file is gone or replaced: another may hold now
    }
    int sets = pool.rangeSets().size();
    String[] texts = new String[sets];
    this.cursorLengths = new long[sets];
    for (int i = 0; i < sets; i++) {
      byte[] cursor = d.readCursorBytes(i);
      texts[i] = PoolDir.cursorText(cursor);
      this.cursorLengths[i] = cursor.length;
    }
    Stamp now = Stamp.observe(d, 0, texts);
    this.cursors = now.cursors;
    byte[] stampFile = Stamp.readFile(d);
    this.stampLength = stampFile == null ? -1 : stampFile.length;
    this.recorded = Stamp.parseFile(stampFile);
    this.fresh = this.recorded != null && this.recorded.sameFiles(now);
    this.snapshotNeeded = false;
    this.indexValid = false;
    this.appendable = false;
    this.base = 0;
    StateCache.Entry c = cache.take(d.network);
    // a held entry is never matched against a stamp file: its holder writes none while it holds, so
    // one there is another process's, whose generations restarted when it found none (its text can
    // equal the held one after claims-only changes, which leave the watched directories alone)
    this.cached = c != null && c.held == null && !rebuild && this.fresh && c.stamp.equals(this.recorded.text()) ? c
        : null;
    boolean longLived = cache.longLived(d.network);
    if (longLived) {
      return false;
    }
    if (rebuild || !this.fresh) {
      PoolState st = Rebuild.rebuild(this, pool);
      this.snapshotNeeded = true;
      commit(st, NONE, NONE);
      return claimFree(pool);
    }
    IndexFile.Tail tail = IndexFile.tail(d);
    if (tail != null && tail.stamp.equals(this.recorded.text())) {
      this.indexValid = true;
      this.appendable = tail.appendable();
      this.base = tail.base;
    }
    return claimFree(pool);
  }

  /**
   * {@link #begin} of a session holding the stamp: true, with the cached state taken, when the
   * stamp file is still absent, the directories are as the holder's last call left them and the
   * store still holds the data dir's stamps (three {@code stat}s and a look for the stamp, no file
   * opened); false, changing nothing, otherwise.
   */
  private boolean beginHeld(Pool pool) throws IOException {
    StateCache.Entry c = cache.peek(this.dir.network);
    if (c == null || c.held == null || c.held.cursors.length != pool.rangeSets().size()
        || !cache.longLived(this.dir.network) || this.dir.stampFile.toFile().exists() || this.holder.lost()) {
      return false;
    }
    Stamp now = Stamp.observe(this.dir, 0, c.held.cursors);
    if (!c.held.sameFiles(now)) {
      return false;
    }
    cache.take(this.dir.network);
    this.cursors = c.held.cursors.clone();
    this.cursorLengths = c.cursorLengths.clone();
    this.recorded = c.held;
    this.stampLength = -1;
    this.fresh = true;
    this.cached = c;
    this.snapshotNeeded = false;
    this.indexValid = false;
    this.appendable = false;
    this.base = 0;
    this.stampAbsent = true;
    return true;
  }

  /**
   * Whether the one-shot path may serve the pool: it knows no claims, so only a pool with no
   * policy whose stamp records no claims (no claims file to read: the common, host-local case).
   */
  private boolean claimFree(Pool pool) {
    return pool.policy().isNone() && this.recorded != null && this.recorded.claims == 0;
  }

  /**
   * The pool's whole state: the cached one, the parsed index when valid, else (and always when
   * {@code read} is {@link Read#REBUILD}) rebuilt from the address files.
   */
  PoolState full(Pool pool, Read read) throws IOException {
    boolean rebuild = read == Read.REBUILD;
    PoolState st = null;
    if (!rebuild && this.cached != null) {
      PoolState c = this.cached.state;
      st = c.pool().equals(pool) ? c : reloadWithClaims(pool, c);
      this.base = this.cached.base;
      this.indexValid = true;
      this.appendable = true;
    } else if (!rebuild && this.fresh) {
      IndexFile.Raw raw = IndexFile.read(this.dir);
      if (raw != null && raw.stamp.equals(this.recorded.text())) {
        try {
          st = reload(pool, IndexFile.parseAll(raw), this.dir.clock);
          if (this.recorded.claims > 0) {
            ClaimFiles.load(this.dir, st);
          }
          this.snapshotNeeded = raw.oversized();
          this.base = raw.base;
          this.indexValid = true;
          this.appendable = true;
        } catch (RuntimeException e) {
          st = null; // a corrupt line: rebuild
        }
      }
    }
    if (st == null) {
      st = Rebuild.rebuild(this, pool);
      this.snapshotNeeded = true;
    }
    setCursors(st, this.cursors);
    return st;
  }

  /**
   * Ends a call that went well and wrote nothing to the directory: {@link #commit}s only when the
   * index must be rewritten; else caches the whole state (if any) as of the stamp.
   */
  void finishUnchanged(PoolState st) throws IOException {
    if (this.holding && this.stampAbsent && !this.dropped && st != null) {
      cache.keepHeld(this.dir.network, st, this.recorded, this.cursorLengths);
    } else if (this.snapshotNeeded || this.dropped) {
      commit(st, NONE, NONE);
    } else if (st != null && this.recorded != null) {
      cache.keep(this.dir.network, st, this.recorded.text(), this.base);
    }
  }

  /** Ends a call that went well and changed the directory ({@code added}, {@code removed}): {@link #commit}s. */
  void finishChanged(PoolState st, List<Allocation> added, List<Allocation> removed) throws IOException {
    commit(st, added, removed);
  }

  /**
   * Records what the call left: a new stamp (next generation, the directories as they are now)
   * in the stamp file, then the index: a snapshot when {@code st} is the whole state and one is
   * due, else the call's changes appended when the index was valid, else nothing (it stays
   * stale until a whole load rebuilds it). The files are the truth: when the index cannot be
   * written it is deleted, and the call still succeeds.
   */
  void commit(PoolState st, List<Allocation> added, List<Allocation> removed)
      throws IOException {
    if (this.holding && !this.releasing && st != null) {
      commitHeld(st);
      return;
    }
    PoolDir d = this.dir;
    d.syncDir();
    long gen = this.recorded == null ? 1 : this.recorded.gen + 1;
    int claims = st != null ? st.claimCount() : this.recorded == null ? 0 : this.recorded.claims;
    Stamp stamp = Stamp.observe(d, gen, this.cursors).withClaims(claims);
    String text = stamp.text();
    dropStamp();
    boolean indexValid = false;
    try {
      if (st != null && (this.snapshotNeeded || !this.indexValid)) {
        this.base = IndexFile.writeSnapshot(d, text, st.allocations());
        indexValid = true;
      } else if (this.indexValid && this.appendable) {
        IndexFile.append(d, added, removed, text, this.base);
        indexValid = true;
      } else if (this.indexValid) {
        IndexFile.discard(d); // compaction due: left to the next whole load, which rebuilds
      }
    } catch (IpamException e) {
      IndexFile.discard(d);
    }
    this.stampLength = Stamp.write(d, stamp, this.stampLength);
    this.recorded = stamp;
    this.fresh = true;
    this.dropped = false;
    this.snapshotNeeded = false;
    this.indexValid = indexValid;
    if (indexValid && st != null) {
      cache.keep(d.network, st, text, this.base);
    }
  }

  /**
   * {@link #commit} of a session holding the stamp: the network directory forced (with fsync), the
   * stamp file removed (once), and the stamp it would have written kept with the state in memory;
   * no stamp or index written.
   */
  private void commitHeld(PoolState st) throws IOException {
    PoolDir d = this.dir;
    d.syncDir();
    dropStamp();
    long gen = this.recorded == null ? 1 : this.recorded.gen + 1;
    Stamp stamp = Stamp.observe(d, gen, this.cursors).withClaims(st.claimCount());
    this.recorded = stamp;
    this.fresh = true;
    this.dropped = false;
    this.snapshotNeeded = false;
    this.indexValid = false;
    cache.keepHeld(d.network, st, stamp, this.cursorLengths);
  }

  /**
   * Ends the hold of the stamp after a {@link #begin} that trusted the held state ({@code st}, from
   * {@link #full}): writes the index snapshot and the stamp, as a session that does not hold it
   * would, so that the next process (the plugin in direct mode, jipamd started again) reads the
   * index instead of rebuilding. Returns false, writing nothing, when the begin did not trust it.
   */
  boolean releaseHold(PoolState st) throws IOException {
    if (!this.holding || !this.stampAbsent || this.dropped) {
      return false;
    }
    this.releasing = true;
    this.snapshotNeeded = true;
    commit(st, NONE, NONE);
    return true;
  }

  /**
   * Makes the next {@link #commit} with a whole state write a snapshot when appends have grown
   * the index past twice its snapshot (plus slack): a long-lived writer's compaction, which the
   * cached state would otherwise never trigger.
   */
  void compactIfDue() {
    try {
      if (java.nio.file.Files.size(this.dir.index) > 2 * this.base + IndexFile.slack) {
        this.snapshotNeeded = true;
      }
    } catch (IOException e) {
      this.snapshotNeeded = true;
    }
  }

  /** Invalidates the stamp file once, before the call's first change (see {@link Stamp#drop}). */
  void dropStamp() throws IOException {
    if (!this.dropped) {
      if (this.holding && !this.releasing && !this.stampAbsent && !this.holder.holds()) {
        this.holding = false; // another store holds this data dir's stamps: written as any process writes them
      }
      if (this.holding && !this.releasing) {
        if (!this.stampAbsent) {
          PoolDir.clear(this.dir.stampFile); // once: held from now on
          this.stampAbsent = true;
        }
      } else {
        Stamp.drop(this.dir);
      }
      this.dropped = true;
    }
  }

  /** Writes the cursor of each allocation's range set; one that already holds its address is left alone. */
  void writeCursors(List<Allocation> fresh) throws IOException {
    for (Allocation a : fresh) {
      String text = a.address().toString();
      if (!text.equals(this.cursors[a.rangeSetIndex()])) {
        int set = a.rangeSetIndex();
        this.cursorLengths[set] = this.dir.writeCursor(set, a.address(), this.cursorLengths[set]);
        this.cursors[set] = text;
      }
    }
  }

  /**
   * Whether every allocation's address file still names its holder. When not, the state missed
   * a change, and the caller retries with a rebuild.
   */
  boolean verified(List<Allocation> allocations) throws IOException {
    for (Allocation a : allocations) {
      Attachment onDisk = this.dir.readHolder(a.address());
      if (onDisk == null || !onDisk.equals(a.attachment())) {
        return false;
      }
    }
    return true;
  }

  /** Best effort: deletes the address files this call created before it failed. */
  void rollback(List<Allocation> created) {
    for (Allocation a : created) {
      try {
        this.dir.deleteAddressFile(a.address());
      } catch (IOException e) {
        // the rebuild after a failed call will see the file and count it held
      }
    }
    created.clear();
  }

  /**
   * After an ADD that failed part way ({@code e}: a file could not be created): removes the address
   * files it created and puts the attachment's record back to what it held before, so that the
   * failed call leaves nothing; a failure of this undo is added to {@code e}, which the caller throws.
   */
  void undoAdd(Exception e, List<Allocation> created, Attachment att, List<Allocation> before) {
    rollback(created);
    try {
      AttachmentRecord.write(dir, att, before);
    } catch (IOException | RuntimeException undo) {
      e.addSuppressed(undo); // a record that says more than the files is a superset: the next call checks it
    }
  }

  static void setCursors(PoolState st, String[] cursors) {
    for (int i = 0; i < cursors.length; i++) {
      st.setCursor(i, cursors[i].isEmpty() ? null : IpAddress.tryParse(cursors[i]));
    }
  }

  static PoolState reload(Pool pool, Collection<Allocation> allocations, java.time.Clock clock) {
    PoolState st = new PoolState(pool, clock);
    for (Allocation a : allocations) {
      st.load(a.address(), a.attachment(), a.pod(), a.origin());
    }
    return st;
  }

  /** A cached state carried over to a changed pool config, claims included. */
  static PoolState reloadWithClaims(Pool pool, PoolState cached) {
    PoolState st = reload(pool, cached.allocations(), cached.clock());
    for (io.jipam.core.store.Claim c : cached.storedClaims()) {
      st.loadClaim(c);
    }
    st.claimsChanged();
    return st;
  }

  static IpamException contended(Pool pool) {
    return contended(pool.name());
  }

  static IpamException contended(String pool) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "the files of network " + pool
        + " keep changing behind jipam's back (is host-local running on the same directory?)");
  }
}
