package io.jipam.hostlocal;

import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * jipam's snapshot of one pool, {@code <dataDir>/.jipam/<network>/index}: a cache of the address
 * files plus what they cannot hold (the pod of each allocation). Text, one record a line, fields
 * separated by tabs, free text percent-escaped:
 *
 * <pre>
 * jipam-hostlocal-index 1
 * dir     FILEKEY  MTIME_NANOS        stamp: network directory identity and mtime after jipam's last write
 * cursors N  C0  C1 ...               content of last_reserved_ip.0..N-1 as jipam left it ("" = none)
 * a       ADDRESS  CONTAINERID  IFNAME  POD_NAMESPACE  POD_NAME
 * ...
 * end     COUNT                       written last: a truncated file is never taken for a valid one
 * </pre>
 *
 * Written to {@code index.tmp} and renamed over {@code index}, so a reader sees the old or the new
 * snapshot, never a mix. Not thread-safe; used under the pool's lock.
 */
final class IndexFile {
  private static final String MAGIC = "jipam-hostlocal-index 1";

  /** A parsed index; {@code allocations} carry range set index -1 (recomputed on load). */
  record Snapshot(PoolDir.DirStamp stamp, String[] cursors, List<Allocation> allocations) {}

  private IndexFile() {}

  /** The index, or null when it is missing or does not parse (then the caller rebuilds). */
  static Snapshot read(PoolDir d) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(d.index);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return null; // a cache: unreadable means rebuild
    }
    try {
      return parse(new String(bytes, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static Snapshot parse(String text) {
    int pos = 0;
    int n = text.length();
    PoolDir.DirStamp stamp = null;
    String[] cursors = null;
    List<Allocation> allocations = new ArrayList<>();
    Map<String, Attachment> attachments = new HashMap<>();
    boolean sawMagic = false;
    String[] f = new String[6];
    while (pos < n) {
      int eol = text.indexOf('\n', pos);
      if (eol < 0) {
        return null; // no trailing newline: truncated
      }
      String line = text.substring(pos, eol);
      pos = eol + 1;
      if (!sawMagic) {
        if (!line.equals(MAGIC)) {
          return null;
        }
        sawMagic = true;
        continue;
      }
      int fields = split(line, f);
      switch (f[0]) {
        case "dir" -> stamp = new PoolDir.DirStamp(unescape(f[1]), Long.parseLong(f[2]));
        case "cursors" -> {
          int count = Integer.parseInt(f[1]);
          cursors = new String[count];
          String[] all = line.split("\t", -1);
          for (int i = 0; i < count; i++) {
            cursors[i] = unescape(all[2 + i]);
          }
        }
        case "a" -> {
          if (fields != 6) {
            return null;
          }
          IpAddress address = IpAddress.parse(f[1]);
          String key = f[2] + '\t' + f[3];
          Attachment att = attachments.get(key);
          if (att == null) {
            att = new Attachment(f[2], f[3]);
            attachments.put(key, att);
          }
          allocations.add(new Allocation(address, -1, att, new PodRef(unescape(f[4]), unescape(f[5]))));
        }
        case "end" -> {
          if (pos != n || stamp == null || cursors == null
              || Integer.parseInt(f[1]) != allocations.size()) {
            return null;
          }
          return new Snapshot(stamp, cursors, allocations);
        }
        default -> {
          return null;
        }
      }
    }
    return null; // no end line
  }

  /** Splits on tabs into at most out.length fields; returns the number of fields. */
  private static int split(String line, String[] out) {
    int count = 0;
    int start = 0;
    while (count < out.length) {
      int tab = line.indexOf('\t', start);
      if (tab < 0 || count == out.length - 1) {
        out[count++] = line.substring(start);
        break;
      }
      out[count++] = line.substring(start, tab);
      start = tab + 1;
    }
    for (int i = count; i < out.length; i++) {
      out[i] = "";
    }
    return count;
  }

  /** Writes the snapshot: temp file, then an atomic rename over the index. */
  static void write(PoolDir d, PoolDir.DirStamp stamp, String[] cursors,
      Collection<Allocation> allocations) {
    StringBuilder out = new StringBuilder(64 + allocations.size() * 64);
    out.append(MAGIC).append('\n');
    out.append("dir\t").append(escape(stamp.fileKey())).append('\t').append(stamp.mtimeNanos()).append('\n');
    out.append("cursors\t").append(cursors.length);
    for (String c : cursors) {
      out.append('\t').append(escape(c));
    }
    out.append('\n');
    for (Allocation a : allocations) {
      out.append("a\t").append(a.address()).append('\t').append(a.attachment().containerId())
          .append('\t').append(a.attachment().ifname()).append('\t').append(escape(a.pod().namespace()))
          .append('\t').append(escape(a.pod().name())).append('\n');
    }
    out.append("end\t").append(allocations.size()).append('\n');
    try {
      Files.deleteIfExists(d.indexTemp);
      d.writeNew(d.indexTemp, out.toString().getBytes(StandardCharsets.UTF_8));
      Files.move(d.indexTemp, d.index, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw PoolDir.ioFailure("writing index", d.index, e);
    }
  }

  /** Deletes the index so that the next call rebuilds it. */
  static void discard(PoolDir d) {
    try {
      Files.deleteIfExists(d.index);
    } catch (IOException e) {
      throw PoolDir.ioFailure("deleting index", d.index, e);
    }
  }

  static String escape(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' || c == '\t' || c == '\n' || c == '\r') {
        if (b == null) {
          b = new StringBuilder(s.length() + 8).append(s, 0, i);
        }
        b.append('%').append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
      } else if (b != null) {
        b.append(c);
      }
    }
    return b == null ? s : b.toString();
  }

  static String unescape(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
        i += 2;
      } else if (c == '%') {
        throw IpamException.invalidConfig("bad escape in index: %s", s);
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
