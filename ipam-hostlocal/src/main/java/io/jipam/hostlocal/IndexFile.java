package io.jipam.hostlocal;

import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * jipam's index of one pool, {@code <dataDir>/.jipam/<network>/index}: a cache of the address
 * files plus what they cannot hold (the pod of each allocation). Text, one record a line, fields
 * separated by tabs, pod names percent-escaped:
 *
 * <pre>
 * jipam-hostlocal-index 5                              magic, first line
 * a  ADDRESS  CONTAINERID  IFNAME  POD_NS  POD_NAME  ORIGIN
 *                                                      ADDRESS is held (a later line for it wins);
 *                                                      IFNAME escaped by NameEscaping.escapeName;
 *                                                      ORIGIN an AllocationOrigin label, - when not
 *                                                      recorded
 * d  ADDRESS                                           ADDRESS is free
 * s  BASE  STAMP                                       stamp (the stamp file's text, see Stamp)
 * </pre>
 *
 * A snapshot (magic, one {@code a} line per allocation in address order, a stamp) is written to
 * {@code index.tmp} and renamed over the index. Each later call appends its {@code a}/{@code d}
 * lines and a new stamp with one {@code write(2)} (O(1) bytes), so a killed process leaves the
 * old or the new tail, and a torn tail (power loss) has no trailing stamp. The index is valid only
 * when its last line carries the stamp file's text (generation included) and that stamp holds.
 * A call that finds the index invalid does not append to it; the next whole load rebuilds it. {@code BASE} is the
 * snapshot's length: when appends have made the file more than twice that (plus 256 KiB), the
 * next call that has the whole state rewrites the snapshot (amortised O(1) per call).
 *
 * <p>Only list, usage, GC, lowest-free ADD and a long-lived store read the index ({@link
 * #parseAll}); one-shot ADD, DEL and CHECK read only its last line ({@link #tail}) to decide
 * whether to append. Not thread-safe; used under the pool's lock.
 */
final class IndexFile {
  private static final String MAGIC = "jipam-hostlocal-index 5\n";
  private static final String NO_ORIGIN = "-";
  /** Bytes of appends allowed beyond twice the snapshot before compaction; lowered by tests. */
  static long slack = 256 * 1024;

  /** The index as read: its text (ISO-8859-1, one char a byte) and its trailing stamp. */
  static final class Raw {
    final String text;
    final String stamp;
    final long base;

    Raw(String text, String stamp, long base) {
      this.text = text;
      this.stamp = stamp;
      this.base = base;
    }

    /** Whether appends have grown the file enough that the next full writer should compact. */
    boolean oversized() {
      return text.length() > 2 * base + slack;
    }
  }

  /** The index's last line only: its stamp, base and the file's size. */
  static final class Tail {
    final String stamp;
    final long base;
    final long size;

    Tail(String stamp, long base, long size) {
      this.stamp = stamp;
      this.base = base;
      this.size = size;
    }

    /**
     * Whether one-shot calls may still append: not once compaction is due (they cannot compact
     * without reading the whole file; the index is then dropped and the next whole load rebuilds).
     */
    boolean appendable() {
      return size <= 2 * base + slack;
    }
  }

  private IndexFile() {}

  /** The index, or null when it is missing, unreadable or has no trailing stamp. */
  static Raw read(PoolDir d) {
    byte[] bytes;
    try {
      if (!PoolDir.isRegularFile(d.index)) {
        return null; // missing, or a FIFO (whose open would block) or a link: rebuild
      }
      bytes = Files.readAllBytes(d.index);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return null; // a cache: unreadable means rebuild
    }
    try {
      String text = new String(bytes, StandardCharsets.ISO_8859_1);
      int n = text.length();
      if (!text.startsWith(MAGIC) || text.charAt(n - 1) != '\n') {
        return null;
      }
      int start = text.lastIndexOf('\n', n - 2) + 1;
      if (!text.startsWith("s\t", start)) {
        return null;
      }
      int t = text.indexOf('\t', start + 2);
      return new Raw(text, utf8(text.substring(t + 1, n - 1)), Long.parseLong(text.substring(start + 2, t)));
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** The index's last line, reading only the end of the file; null when missing or torn. */
  static Tail tail(PoolDir d) {
    if (!PoolDir.isRegularFile(d.index)) {
      return null;
    }
    try (FileChannel ch = FileChannel.open(d.index, StandardOpenOption.READ, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      long size = ch.size();
      int len = (int) Math.min(size, 8192);
      ByteBuffer buf = ByteBuffer.allocate(len);
      long pos = size - len;
      while (buf.hasRemaining()) {
        int r = ch.read(buf, pos + buf.position());
        if (r < 0) {
          return null;
        }
      }
      String text = new String(buf.array(), StandardCharsets.ISO_8859_1);
      int n = text.length();
      if (n < 2 || text.charAt(n - 1) != '\n') {
        return null;
      }
      int start = text.lastIndexOf('\n', n - 2) + 1;
      if ((start == 0 && pos > 0) || !text.startsWith("s\t", start)) {
        return null;
      }
      int t = text.indexOf('\t', start + 2);
      return new Tail(utf8(text.substring(t + 1, n - 1)), Long.parseLong(text.substring(start + 2, t)), size);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Every allocation the index records, with range set index -1 (recomputed on load). */
  static Collection<Allocation> parseAll(Raw raw) {
    String text = raw.text;
    Map<IpAddress, Allocation> live = new HashMap<>();
    Map<String, Attachment> attachments = new HashMap<>();
    int pos = MAGIC.length();
    int n = text.length();
    while (pos < n) {
      int eol = text.indexOf('\n', pos);
      char kind = text.charAt(pos);
      if (kind == 'a') {
        int t1 = text.indexOf('\t', pos + 2);
        int t2 = text.indexOf('\t', t1 + 1);
        int t3 = text.indexOf('\t', t2 + 1);
        int t4 = text.indexOf('\t', t3 + 1);
        int t5 = text.indexOf('\t', t4 + 1);
        IpAddress address = IpAddress.parse(text.substring(pos + 2, t1));
        String key = text.substring(t1 + 1, t3);
        Attachment att = attachments.get(key);
        if (att == null) {
          att = new Attachment(text.substring(t1 + 1, t2), NameEscaping.unescapeName(text.substring(t2 + 1, t3)));
          attachments.put(key, att);
        }
        String origin = text.substring(t5 + 1, eol);
        live.put(address, new Allocation(address, -1, att, new PodRef(
            utf8(NameEscaping.unescapeField(text.substring(t3 + 1, t4))), utf8(NameEscaping.unescapeField(text.substring(t4 + 1, t5)))),
            origin.equals(NO_ORIGIN) ? null : AllocationOrigin.ofRecordedLabel(origin)));
      } else if (kind == 'd') {
        live.remove(IpAddress.parse(text.substring(pos + 2, eol)));
      } else if (kind != 's') {
        throw new IllegalStateException("bad index line at " + pos);
      }
      pos = eol + 1;
    }
    return live.values();
  }

  /** Rewrites the index as a snapshot (temp file, atomic rename); returns its base length. */
  static long writeSnapshot(PoolDir d, String stamp, Collection<Allocation> allocations) {
    byte[] body = snapshotBody(allocations).getBytes(StandardCharsets.UTF_8);
    byte[] tail = stampLine(stamp, body.length).getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[body.length + tail.length];
    System.arraycopy(body, 0, all, 0, body.length);
    System.arraycopy(tail, 0, all, body.length, tail.length);
    try {
      Files.deleteIfExists(d.indexTemp);
      d.writeNew(d.indexTemp, all);
      Files.move(d.indexTemp, d.index, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw PoolDir.ioFailure("writing index", d.index, e);
    }
    return body.length;
  }

  /** A snapshot's lines before its stamp: the magic line, then one line per allocation. */
  static String snapshotBody(Collection<Allocation> allocations) {
    StringBuilder out = new StringBuilder(64 + allocations.size() * 64);
    out.append(MAGIC);
    for (Allocation a : allocations) {
      added(out, a);
    }
    return out.toString();
  }

  /** Deletes the index (best effort) so that the next call rebuilds it. */
  static void discard(PoolDir d) {
    try {
      Files.deleteIfExists(d.index);
    } catch (IOException e) {
      // its stamp no longer matches the directory, so it will not be trusted anyway
    }
  }

  /** Appends one call's changes and the new stamp, in one write. */
  static void append(PoolDir d, List<Allocation> added, List<Allocation> removed,
      String stamp, long base) {
    StringBuilder out = new StringBuilder(128 + 64 * (added.size() + removed.size()));
    for (Allocation a : removed) {
      out.append("d\t").append(a.address().toString()).append('\n');
    }
    for (Allocation a : added) {
      added(out, a);
    }
    out.append(stampLine(stamp, base));
    ByteBuffer buf = ByteBuffer.wrap(out.toString().getBytes(StandardCharsets.UTF_8));
    try (FileChannel ch = FileChannel.open(d.index, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    } catch (IOException e) {
      throw PoolDir.ioFailure("appending to index", d.index, e);
    }
  }

  private static void added(StringBuilder out, Allocation a) {
    out.append("a\t").append(a.address().toString()).append('\t').append(a.attachment().containerId())
        .append('\t').append(NameEscaping.escapeName(a.attachment().ifname())).append('\t')
        .append(NameEscaping.escapeField(a.pod().namespace()))
        .append('\t').append(NameEscaping.escapeField(a.pod().name())).append('\t')
        .append(a.origin() == null ? NO_ORIGIN : a.origin().label()).append('\n');
  }

  private static String stampLine(String stamp, long base) {
    return "s\t" + base + "\t" + stamp + "\n";
  }

  /** Text read as ISO-8859-1 back to the UTF-8 it was written as. */
  private static String utf8(String latin1) {
    for (int i = 0; i < latin1.length(); i++) {
      if (latin1.charAt(i) >= 0x80) {
        return new String(latin1.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
      }
    }
    return latin1;
  }


}
