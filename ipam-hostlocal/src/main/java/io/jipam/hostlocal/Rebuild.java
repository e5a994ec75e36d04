package io.jipam.hostlocal;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The one O(allocations) step: the whole state rebuilt from host-local's address files. */
final class Rebuild {
  private Rebuild() {}

  /**
   * Rebuilds the state from the address files: the one directory walk, only when the stamp does
   * not hold (a foreign change or a crash), the index is unusable, or the files disagreed with a
   * record. Removes temp files a killed jipam left. Loads the claims and makes markers and claims
   * agree ({@link ClaimFiles#reconcile}). Makes every record list exactly what its
   * attachment holds (pods and origins kept from the records) and deletes records of attachments holding
   * nothing. O(allocations) files.
   */
  static PoolState rebuild(PoolSession h, Pool pool) throws IOException {
    PoolDir d = h.dir;
    h.dropStamp();
    Files.deleteIfExists(d.jipamDir.resolve(PoolDir.OLD_STAMP_TEMP)); // an older jipam's, left by a crash
    Map<Attachment, List<IpAddress>> byHolder = new HashMap<>();
    Set<IpAddress> markers = new HashSet<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(d.dir)) {
      for (Path p : entries) {
        String name = p.getFileName().toString();
        if (name.startsWith(PoolDir.TEMP_PREFIX)) {
          PoolDir.removeStray(p); // only jipam, under the lock, creates these: left by a crash
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
          holder = AddressFileText.UNREADABLE; // the name exists, so the address is not free
        }
        if (AddressFileText.CLAIMED.equals(holder)) {
          markers.add(address); // a claim's marker, not an allocation: reconciled below
          continue;
        }
        List<IpAddress> list = byHolder.get(holder);
        if (list == null) {
          list = new ArrayList<>(2);
          byHolder.put(holder, list);
        }
        list.add(address);
      }
    }
    PoolState st = new PoolState(pool, d.clock);
    Set<Path> recordFiles = new HashSet<>();
    for (Map.Entry<Attachment, List<IpAddress>> e : byHolder.entrySet()) {
      Attachment holder = e.getKey();
      AttachmentRecord r = AttachmentRecord.read(d, holder);
      boolean exact = r != null && r.addresses.length == e.getValue().size();
      List<Allocation> held = new ArrayList<>(e.getValue().size());
      for (IpAddress a : e.getValue()) {
        PodRef pod = r == null ? null : r.podOf(a);
        exact &= pod != null;
        st.load(a, holder, pod == null ? PodRef.UNKNOWN : pod, pod == null ? null : r.originOf(a));
      }
      held.addAll(st.find(holder));
      if (!exact) {
        AttachmentRecord.write(d, holder, held);
      }
      recordFiles.add(AttachmentRecord.file(d, holder));
    }
    ClaimFiles.reconcile(h, st, markers);
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(d.attDir)) {
      for (Path p : entries) {
        if (!recordFiles.contains(p) && !PoolDir.isMovedAside(p)) {
          PoolDir.clear(p); // holds nothing (or a temp file left by a crash); a directory: moved aside
        }
      }
    }
    return st;
  }
}
