package io.jipam.hostlocal;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * An attachment record: {@code CONTAINERID<TAB>IFNAME} on the first line, then one line per
 * address, {@code ADDRESS<TAB>POD_NS<TAB>POD_NAME<TAB>ORIGIN} (pod names escaped as in the index;
 * ORIGIN the {@link AllocationOrigin#label()}, and the field absent, as in records written before
 * jipam kept it, when not recorded). A superset of what the attachment holds: every entry is
 * verified against its address file.
 */
final class AttachmentRecord {
  static final AttachmentRecord EMPTY = new AttachmentRecord(new IpAddress[0], new PodRef[0],
      new AllocationOrigin[0]);
  final IpAddress[] addresses;
  final PodRef[] pods;
  /** Per address, why it was given; null entries when not recorded. */
  final AllocationOrigin[] origins;

  AttachmentRecord(IpAddress[] addresses, PodRef[] pods, AllocationOrigin[] origins) {
    this.addresses = addresses;
    this.pods = pods;
    this.origins = origins;
  }

  boolean lists(IpAddress address) {
    for (IpAddress a : addresses) {
      if (a.equals(address)) {
        return true;
      }
    }
    return false;
  }

  PodRef podOf(IpAddress address) {
    for (int i = 0; i < addresses.length; i++) {
      if (addresses[i].equals(address)) {
        return pods[i];
      }
    }
    return null;
  }

  /** The recorded origin of a listed address; null when not recorded or not listed. */
  AllocationOrigin originOf(IpAddress address) {
    for (int i = 0; i < addresses.length; i++) {
      if (addresses[i].equals(address)) {
        return origins[i];
      }
    }
    return null;
  }

  static String text(Attachment att, List<Allocation> held) {
    StringBuilder b = new StringBuilder(64 + 64 * held.size());
    b.append(att.containerId()).append('\t').append(NameEscaping.escapeName(att.ifname())).append('\n');
    for (Allocation a : held) {
      b.append(a.address().toString()).append('\t').append(NameEscaping.escapeField(a.pod().namespace()))
          .append('\t').append(NameEscaping.escapeField(a.pod().name()));
      if (a.origin() != null) {
        b.append('\t').append(a.origin().label());
      }
      b.append('\n');
    }
    return b.toString();
  }

  static AttachmentRecord parse(String text, Attachment att) {
    try {
      int eol = text.indexOf('\n');
      if (eol < 0 || !text.endsWith("\n")
          || !text.substring(0, eol).equals(att.containerId() + "\t" + NameEscaping.escapeName(att.ifname()))) {
        return null;
      }
      List<IpAddress> addresses = new ArrayList<>(2);
      List<PodRef> pods = new ArrayList<>(2);
      List<AllocationOrigin> origins = new ArrayList<>(2);
      int pos = eol + 1;
      while (pos < text.length()) {
        int end = text.indexOf('\n', pos);
        int t1 = text.indexOf('\t', pos);
        int t2 = t1 < 0 ? -1 : text.indexOf('\t', t1 + 1);
        if (t1 < 0 || t2 < 0 || t2 > end) {
          return null;
        }
        int t3 = text.indexOf('\t', t2 + 1);
        int nameEnd = t3 < 0 || t3 > end ? end : t3;
        addresses.add(IpAddress.parse(text.substring(pos, t1)));
        pods.add(new PodRef(NameEscaping.unescapeField(text.substring(t1 + 1, t2)),
            NameEscaping.unescapeField(text.substring(t2 + 1, nameEnd))));
        // a label this version does not know reads as not recorded; the address and pod still count
        origins.add(nameEnd == end ? null : AllocationOrigin.ofRecordedLabel(text.substring(nameEnd + 1, end)));
        pos = end + 1;
      }
      return new AttachmentRecord(addresses.toArray(new IpAddress[0]), pods.toArray(new PodRef[0]),
          origins.toArray(new AllocationOrigin[0]));
    } catch (RuntimeException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- record files

  /**
   * The record file of an attachment: {@code CONTAINERID@IFNAME} with IFNAME escaped to ASCII by
   * {@link NameEscaping#escapeName} (a container ID has no {@code @}, so the name is unambiguous, and no file
   * name jipam makes depends on the locale's charset); a digest of that when it would be too long.
   */
  static Path file(PoolDir d, Attachment att) {
    String name = att.containerId() + "@" + NameEscaping.escapeName(att.ifname());
    if (name.length() > 200 || name.getBytes(StandardCharsets.UTF_8).length > 200) {
      try {
        byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
        StringBuilder b = new StringBuilder("h@");
        for (byte x : digest) {
          b.append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
        }
        name = b.toString();
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
    return d.attDir.resolve(name);
  }

  /**
   * The attachment's record: address and pod per line, or an empty record when there is none;
   * null when it is unreadable or names another attachment (then: rebuild).
   */
  static AttachmentRecord read(PoolDir d, Attachment att) throws IOException {
    byte[] bytes;
    try {
      bytes = PoolDir.readSmall(file(d, att));
    } catch (NoSuchFileException e) {
      return EMPTY;
    } catch (PoolDir.NotSmallFile e) {
      return null; // unreadable: the rebuild decides
    }
    return parse(new String(bytes, StandardCharsets.UTF_8), att);
  }

  /**
   * Creates the attachment's record in place when it has none ({@code O_EXCL}, no temp file, no
   * rename: one metadata operation instead of three); false, writing nothing, when a record file
   * exists (then {@link #write}). A crash can tear it only before any of its address files exists,
   * since those are created after it returns: a torn record never hides a held address (and one
   * without its final newline is unreadable, which makes the next call rebuild).
   */
  static boolean create(PoolDir d, Attachment att, List<Allocation> held) throws IOException {
    try {
      d.writeNew(file(d, att), text(att, held).getBytes(StandardCharsets.UTF_8));
      return true;
    } catch (java.nio.file.FileAlreadyExistsException e) {
      return false;
    }
  }

  /**
   * What an ADD's record lists: its allocations, and those the attachment held before that are not
   * among them (an address outside the pool's ranges since they changed: its file is still the
   * attachment's, and a DEL releases what the record lists, so dropping it leaked the address).
   */
  static List<Allocation> afterAdd(List<Allocation> allocated, List<Allocation> before) {
    if (before.isEmpty()) {
      return allocated;
    }
    List<Allocation> out = new java.util.ArrayList<>(allocated);
    for (Allocation b : before) {
      boolean listed = false;
      for (Allocation a : allocated) {
        listed |= a.address().equals(b.address());
      }
      if (!listed) {
        out.add(b);
      }
    }
    return out;
  }

  /** Replaces the attachment's record (temp + rename); deletes it when there is nothing to record. */
  static void write(PoolDir d, Attachment att, List<Allocation> held) throws IOException {
    if (held.isEmpty()) {
      PoolDir.delete(file(d, att));
      return;
    }
    byte[] bytes = text(att, held).getBytes(StandardCharsets.UTF_8);
    try {
      d.writeTemp(d.recordTemp, bytes);
    } catch (NoSuchFileException e) {
      d.createDirectories();
      d.writeTemp(d.recordTemp, bytes);
    }
    try {
      Files.move(d.recordTemp, file(d, att), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException inTheWay) { // a directory at the record's name: rename(2) cannot replace it
      if (PoolDir.isRegularFile(file(d, att))) {
        throw inTheWay;
      }
      PoolDir.clear(file(d, att));
      Files.move(d.recordTemp, file(d, att), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
  }
}
