package io.jipam.hostlocal;

import static io.jipam.hostlocal.PoolSession.Read.REBUILD;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One batch of {@link WriteThroughStore}: the pool's state under one {@link PoolSession}, what the
 * batch has changed so far (the index's net changes, the cursors, the files to force), and each
 * call applied to it and written through to the files (address files, attachment records, claim
 * markers; as {@link HostLocalStore} writes them).
 *
 * <p>Contract: used by the one thread running the batch, with the pool's locks held for its whole
 * life; not thread-safe. A call that finds the files disagreeing with the state (a change the
 * stamp missed) rebuilds the state from the address files and tries again, at most {@value
 * #ATTEMPTS} times, then fails {@code TRY_AGAIN_LATER} ({@link PoolSession#contended}); a call
 * that fails on I/O leaves what it wrote in the files, and the store rebuilds the state. The
 * cursors, the fsync round, the stamp and the index are written by {@link WriteThroughStore}'s
 * commit, once for the batch.
 */
final class WriteBatch {
  private static final int ATTEMPTS = 4;
  private static final List<Allocation> NONE = List.of();

  final PoolSession h;
  PoolState st;
  /** Net index changes, in the order {@link IndexFile#append} writes them (removals first). */
  final Map<IpAddress, Allocation> added = new LinkedHashMap<>();
  final Map<IpAddress, Allocation> removed = new LinkedHashMap<>();
  /** Per range set, the last address handed out by this batch (its cursor), or null. */
  final Allocation[] cursors;
  /** New files to force at the end (fsync only). */
  final List<Path> toForce = new ArrayList<>();
  boolean changed;

  WriteBatch(PoolSession h, PoolState st, boolean fsync) {
    this.h = h;
    this.st = st;
    this.fsync = fsync;
    this.cursors = new Allocation[st.pool().rangeSets().size()];
  }

  /** The state, as {@code pool} defines the pool (a call may name it with another definition). */
  PoolState state(Pool pool) {
    if (!st.pool().equals(pool)) {
      st = PoolSession.reloadWithClaims(pool, st);
      applyCursors();
    }
    return st;
  }

  /** The files disagree with the state (a change the stamp missed): rebuild from the address files. */
  void rebuild(Pool pool) throws IOException {
    st = h.full(pool, REBUILD);
    applyCursors();
  }

  private void applyCursors() {
    for (Allocation a : cursors) {
      if (a != null && a.rangeSetIndex() < st.pool().rangeSets().size()) {
        st.setCursor(a.rangeSetIndex(), a.address());
      }
    }
  }

  void added(Allocation a, boolean force) {
    added.put(a.address(), a);
    if (a.rangeSetIndex() < cursors.length) {
      cursors[a.rangeSetIndex()] = a;
    }
    if (force) {
      toForce.add(h.dir.addressFile(a.address()));
    }
    changed = true;
  }

  void removed(Allocation a) {
    added.remove(a.address());
    removed.put(a.address(), a);
    changed = true;
  }

  /** With fsync: new files are forced at the end of the batch ({@link #toForce}). */
  private final boolean fsync;

  Object claim(Pool pool, ClaimOp<?> claimOp) throws IOException {
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      Object result = claimOp.run(h, state(pool));
      if (result != null) {
        changed |= h.changedFiles();
        return result;
      }
      rebuild(pool);
    }
    throw PoolSession.contended(pool);
  }

  /** ADD on the state, written through: record, then address files (as {@link HostLocalStore}). */
  AllocationOutcome allocate(Pool pool, AllocationRequest request) throws IOException {
    Attachment att = request.attachment();
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      PoolState st = state(pool);
      List<Allocation> before = st.find(att);
      if (before.isEmpty()) {
        List<Allocation> legacy = legacyHeld(st, att);
        if (!legacy.isEmpty()) {
          if (!h.verified(legacy)) {
            rebuild(pool);
            continue;
          }
          return AllocationOutcome.Allocated.held(legacy);
        }
      } else if (!h.verified(before)) {
        rebuild(pool);
        continue;
      }
      Set<IpAddress> marked = ClaimFiles.marked(st);
      AllocationOutcome outcome = st.allocate(request, h.others());
      if (!(outcome instanceof AllocationOutcome.Allocated got) || got.existing()) {
        if (!ClaimFiles.persist(h, st, marked, Set.of())) { // expired claims dropped
          rebuild(pool);
          continue;
        }
        return outcome;
      }
      List<Allocation> fresh = new ArrayList<>(2);
      for (Allocation a : got.allocations()) {
        if (!before.contains(a)) {
          fresh.add(a);
        }
      }
      h.dropStamp();
      // before the address files: a superset; created in place when the attachment had none
      if (!before.isEmpty() || !AttachmentRecord.create(h.dir, att, got.allocations())) {
        AttachmentRecord.write(h.dir, att, got.allocations());
      }
      if (fsync) {
        toForce.add(AttachmentRecord.file(h.dir, att));
      }
      List<Allocation> created = new ArrayList<>(2);
      boolean clash = false;
      try {
        for (Allocation a : fresh) {
          if (marked.contains(a.address()) ? !h.dir.replaceMarker(a.address(), AddressFileText.content(a.attachment()))
              : !h.dir.createAddressFile(a.address(), a.attachment())) {
            clash = true; // a file the state did not know about, or a marker someone replaced
            break;
          }
          created.add(a);
        }
        clash = clash || !ClaimFiles.persist(h, st, marked, Set.of());
      } catch (IOException | RuntimeException e) {
        h.undoAdd(e, created, att, before);
        throw e;
      }
      if (clash) {
        h.rollback(created);
        rebuild(pool);
        continue;
      }
      for (Allocation a : fresh) {
        added(a, fsync);
      }
      return outcome;
    }
    throw PoolSession.contended(pool);
  }

  /** What the attachment holds (old-format files included), verified against the address files. */
  List<Allocation> lookup(Pool pool, Attachment attachment) throws IOException {
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      PoolState st = state(pool);
      List<Allocation> held = st.find(attachment);
      if (held.isEmpty()) {
        held = legacyHeld(st, attachment);
      }
      if (h.verified(held)) {
        return held;
      }
      rebuild(pool);
    }
    throw PoolSession.contended(pool);
  }

  List<Allocation> release(Pool pool, Attachment attachment) throws IOException {
    List<Allocation> held = lookup(pool, attachment);
    if (held.isEmpty()) {
      return NONE;
    }
    Attachment holder = held.get(0).attachment();
    Set<IpAddress> marked = ClaimFiles.marked(st);
    st.release(holder);
    h.dropStamp();
    ClaimFiles.releaseFiles(h, st, marked, held);
    for (Allocation a : held) {
      removed(a);
    }
    AttachmentRecord.write(h.dir, holder, NONE); // after the address files: a crash leaves a superset
    return held;
  }

  List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) throws IOException {
    Set<Attachment> keep = new HashSet<>(valid);
    keep.add(AddressFileText.NOT_A_FILE); // a directory or FIFO named like an address: never deleted
    for (Attachment v : valid) {
      if (!AddressFileText.LEGACY_IFNAME.equals(v.ifname())) {
        keep.add(new Attachment(v.containerId(), AddressFileText.LEGACY_IFNAME)); // old files: any ifname
      }
    }
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      PoolState st = state(pool);
      List<Allocation> doomed = new ArrayList<>();
      for (Allocation a : st.allocations()) {
        if (!keep.contains(a.attachment())) {
          doomed.add(a);
        }
      }
      if (!h.verified(doomed)) {
        rebuild(pool);
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
        removed(a);
        gone.add(a.attachment());
      }
      for (Attachment a : gone) {
        AttachmentRecord.write(h.dir, a, NONE);
      }
      return released;
    }
    throw PoolSession.contended(pool);
  }

  /** What an old-format file (container ID only) gives the attachment's container, or nothing. */
  private static List<Allocation> legacyHeld(PoolState st, Attachment att) {
    if (AddressFileText.LEGACY_IFNAME.equals(att.ifname())) {
      return NONE;
    }
    return st.find(new Attachment(att.containerId(), AddressFileText.LEGACY_IFNAME));
  }
}
