package io.jipam.hostlocal;

import static io.jipam.hostlocal.PoolSession.Read.AS_STAMPED;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The one-shot path: ADD and lookups on the attachment's record and the address files it lists,
 * O(1) files whatever the number of allocations (see {@link HostLocalStore}). Falls back to the
 * store's whole-state path where the records cannot decide.
 */
final class FastPath {
  private static final int MAX_PROBES = 64;
  private static final List<Allocation> NONE = List.of();

  private FastPath() {}

  /** ADD on the attachment's record and the address files (O(1) files); null to rebuild. */
  static AllocationOutcome allocate(HostLocalStore store, PoolSession h, Pool pool,
      AllocationRequest request, List<Allocation> created) throws IOException {
    Attachment att = request.attachment();
    List<Allocation> held = heldPerRecords(h, pool, att);
    if (held == null) {
      return null;
    }
    if (!held.isEmpty()) {
      if (request.requested().isEmpty() && coversEverySet(held, pool)) {
        return AllocationOutcome.Allocated.held(held);
      }
      return store.allocateFull(h, pool, request, created, AS_STAMPED); // partly held: let the whole state decide
    }
    if (pool.order() != AllocationOrder.ROUND_ROBIN) {
      return store.allocateFull(h, pool, request, created, AS_STAMPED); // lowest-free would probe from the start
    }
    int sets = pool.rangeSets().size();
    PoolState st = new PoolState(pool);
    PoolSession.setCursors(st, h.cursors());
    IpAddress[] saved = new IpAddress[sets];
    boolean wroteRecord = false;
    for (int probe = 0; probe < MAX_PROBES; probe++) {
      for (int i = 0; i < sets; i++) {
        saved[i] = st.cursor(i);
      }
      AllocationOutcome outcome = st.allocate(request, h.others());
      if (!(outcome instanceof AllocationOutcome.Allocated got)) {
        if (wroteRecord) {
          AttachmentRecord.write(h.dir, att, NONE); // it held nothing before this call: a failed ADD leaves nothing
        }
        if (h.changedFiles()) {
          h.commit(null, NONE, NONE);
        }
        return outcome; // Taken (holder read from its file), Unavailable, Exhausted
      }
      if (got.existing()) {
        return null; // cannot happen: the attachment held nothing here
      }
      // a taken address is found without writing anything; link(2) below is what counts
      IpAddress clash = firstExisting(h, got.allocations());
      if (clash == null) {
        h.dropStamp();
        AttachmentRecord.write(h.dir, att, got.allocations()); // before the address files: a superset
        wroteRecord = true;
        try {
          for (Allocation a : got.allocations()) {
            if (!h.dir.createAddressFile(a.address(), a.attachment())) {
              clash = a.address();
              break;
            }
            created.add(a);
          }
        } catch (IOException | RuntimeException e) {
          h.undoAdd(e, created, att, NONE); // it held nothing before this call
          throw e;
        }
        if (clash == null) {
          h.writeCursors(got.allocations());
          created.clear();
          h.commit(null, got.allocations(), NONE);
          return outcome;
        }
        h.rollback(created);
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
    return store.allocateFull(h, pool, request, created, AS_STAMPED); // crowded after the cursor
  }

  static IpAddress firstExisting(PoolSession h, List<Allocation> allocations) {
    for (Allocation a : allocations) {
      if (Files.exists(h.dir.addressFile(a.address()), java.nio.file.LinkOption.NOFOLLOW_LINKS)) { // a dangling link too
        return a.address();
      }
    }
    return null;
  }

  /**
   * One-shot path: what the attachment holds according to its record, each entry checked against
   * its address file; when it holds nothing, what an old-format file gives its container (the
   * record of {@code (CONTAINERID, *)}). Null when the files disagree with the records in a way
   * only a missed change explains (a record unreadable, a file naming a holder whose record does
   * not list it): the caller rebuilds.
   */
  static List<Allocation> heldPerRecords(PoolSession h, Pool pool, Attachment att) throws IOException {
    List<Allocation> exact = perRecord(h, pool, att);
    if (exact == null || !exact.isEmpty() || AddressFileText.LEGACY_IFNAME.equals(att.ifname())) {
      return exact;
    }
    return perRecord(h, pool, new Attachment(att.containerId(), AddressFileText.LEGACY_IFNAME));
  }

  /**
   * What the attachment's record says it holds outside the pool's ranges (they changed since its
   * ADD) and its files confirm; the state knows only addresses in range. Empty when none.
   */
  static List<Allocation> outOfRange(PoolSession h, Pool pool, Attachment att) throws IOException {
    List<Allocation> recorded = perRecord(h, pool, att);
    if (recorded == null || recorded.isEmpty()) {
      return List.of();
    }
    List<Allocation> out = new ArrayList<>(1);
    for (Allocation a : recorded) {
      if (a.rangeSetIndex() < 0) {
        out.add(a);
      }
    }
    return out;
  }

  static List<Allocation> perRecord(PoolSession h, Pool pool, Attachment att) throws IOException {
    AttachmentRecord r = AttachmentRecord.read(h.dir, att);
    if (r == null) {
      return null;
    }
    List<Allocation> out = new ArrayList<>(r.addresses.length);
    for (int k = 0; k < r.addresses.length; k++) {
      IpAddress ip = r.addresses[k];
      Attachment onDisk = h.dir.readHolder(ip);
      if (onDisk == null || AddressFileText.CLAIMED.equals(onDisk)) {
        continue; // released (now free or claimed), or a crash before its file was created: a superset
      }
      if (!onDisk.equals(att)) {
        if (!recordLists(h, onDisk, ip)) {
          return null; // another holder's file that no record knows: a missed change
        }
        continue; // handed out again since; this record is stale there
      }
      Allocation a = new Allocation(ip, pool.rangeSetIndexOf(ip), att, r.pods[k], r.origins[k]);
      int i = out.size();
      while (i > 0 && out.get(i - 1).rangeSetIndex() > a.rangeSetIndex()) {
        i--;
      }
      out.add(i, a); // range set order, as PoolState keeps it
    }
    return out;
  }

  static boolean recordLists(PoolSession h, Attachment holder, IpAddress address) throws IOException {
    AttachmentRecord r = AttachmentRecord.read(h.dir, holder);
    return r != null && r.lists(address);
  }

  static boolean coversEverySet(List<Allocation> held, Pool pool) {
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
}
