package io.jipam.hostlocal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * What jipam last saw of the pool's directories, written to the stamp file at the end of every
 * call that changed something: a generation (incremented by every such call, so other jipam
 * processes' changes are seen whatever the clock's granularity), identity and mtime of the
 * network directory and of the records directory, the cursor files' content, and how many claims
 * the claims file lists (0: no file, so a call with no policy takes the one-shot path without
 * reading it; see {@link ClaimFiles}). A plain class,
 * not a record: record equals would bootstrap through invokedynamic, which costs start-up time
 * in the one-shot plugin.
 */
final class Stamp {
  static final String VERSION = "v4";
  final long gen;
  final String dirKey;
  final long dirMtime;
  final String attKey;
  final long attMtime;
  final String[] cursors;
  /** Claims the claims file lists as of this stamp (0 for an observed one: unknown). */
  final int claims;

  Stamp(long gen, String dirKey, long dirMtime, String attKey, long attMtime, String[] cursors) {
    this(gen, dirKey, dirMtime, attKey, attMtime, cursors, 0);
  }

  Stamp(long gen, String dirKey, long dirMtime, String attKey, long attMtime, String[] cursors, int claims) {
    this.claims = claims;
    this.gen = gen;
    this.dirKey = dirKey;
    this.dirMtime = dirMtime;
    this.attKey = attKey;
    this.attMtime = attMtime;
    this.cursors = cursors;
  }

  /** Whether the directories and cursors are as recorded (the generation is not compared). */
  boolean sameFiles(Stamp o) {
    if (o.dirMtime != dirMtime || o.attMtime != attMtime || !o.dirKey.equals(dirKey)
        || !o.attKey.equals(attKey) || o.cursors.length != cursors.length) {
      return false;
    }
    for (int i = 0; i < cursors.length; i++) {
      if (!o.cursors[i].equals(cursors[i])) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code v4 GEN DIRKEY DIRMTIME ATTKEY ATTMTIME N C0 .. CN-1 CLAIMS}, tab-separated, escaped. The
   * version changes with the format of records and index, so that a store written by another
   * version of jipam is rebuilt once rather than misread (v4: records and index keep each
   * allocation's origin; a v3 store's records, without it, still read, as not recorded).
   */
  String text() {
    StringBuilder b = new StringBuilder(128);
    b.append(VERSION).append('\t').append(gen).append('\t').append(NameEscaping.escapeField(dirKey)).append('\t').append(dirMtime).append('\t')
        .append(NameEscaping.escapeField(attKey)).append('\t').append(attMtime).append('\t').append(cursors.length);
    for (String c : cursors) {
      b.append('\t').append(NameEscaping.escapeField(c));
    }
    return b.append('\t').append(claims).toString();
  }

  /**
   * The stamp in a stamp file's text, which ends with a newline ({@link #write}): without it the
   * text is not a stamp (a write cut short by a crash), and neither is one of another format.
   */
  static Stamp parse(String text) {
    if (!text.startsWith(VERSION + "\t") || !text.endsWith("\n")) {
      throw new IllegalArgumentException("stamp of another format, or cut short");
    }
    text = text.substring(VERSION.length() + 1);
    int n = text.length();
    while (n > 0 && text.charAt(n - 1) == '\n') {
      n--;
    }
    List<String> f = new ArrayList<>(8);
    int pos = 0;
    while (true) {
      int t = text.indexOf('\t', pos);
      if (t < 0 || t > n) {
        f.add(text.substring(pos, n));
        break;
      }
      f.add(text.substring(pos, t));
      pos = t + 1;
    }
    int count = Integer.parseInt(f.get(5));
    if (f.size() != 7 + count) {
      throw new IllegalArgumentException("bad stamp");
    }
    String[] cursors = new String[count];
    for (int i = 0; i < count; i++) {
      cursors[i] = NameEscaping.unescapeField(f.get(6 + i));
    }
    return new Stamp(Long.parseLong(f.get(0)), NameEscaping.unescapeField(f.get(1)), Long.parseLong(f.get(2)),
        NameEscaping.unescapeField(f.get(3)), Long.parseLong(f.get(4)), cursors, Integer.parseInt(f.get(6 + count)));
  }

  /** This stamp recording {@code count} claims. */
  Stamp withClaims(int count) {
    return new Stamp(gen, dirKey, dirMtime, attKey, attMtime, cursors, count);
  }

  @Override
  public String toString() {
    return text();
  }

  // ---------------------------------------------------------------- the stamp file

  /**
   * What the pool's directories look like now: identity and mtime of the network directory and
   * of the records directory, and the cursor files' content. Generation 0.
   */
  static Stamp observe(PoolDir d, int sets) throws IOException {
    String[] cursors = new String[sets];
    for (int i = 0; i < sets; i++) {
      cursors[i] = d.readCursor(i);
    }
    return observe(d, 0, cursors);
  }

  /** Like {@link #observe(PoolDir, int)} with known cursors and generation. */
  static Stamp observe(PoolDir d, long gen, String[] cursors) throws IOException {
    BasicFileAttributes a = Files.readAttributes(d.dir, BasicFileAttributes.class);
    BasicFileAttributes r;
    try {
      r = Files.readAttributes(d.attDir, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      d.createDirectories();
      r = Files.readAttributes(d.attDir, BasicFileAttributes.class);
    }
    return new Stamp(gen, String.valueOf(a.fileKey()), nanos(a), String.valueOf(r.fileKey()), nanos(r),
        cursors.clone());
  }

  private static long nanos(BasicFileAttributes a) {
    java.time.Instant t = a.lastModifiedTime().toInstant();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /** The stamp jipam last recorded, or null when missing or unreadable (then: rebuild). */
  static Stamp read(PoolDir d) {
    return parseFile(readFile(d));
  }

  /** The stamp file's bytes, or null when it is missing or cannot be read. */
  static byte[] readFile(PoolDir d) {
    try {
      return PoolDir.readSmall(d.stampFile);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The stamp in a stamp file's bytes, or null when there are none or they are no stamp. */
  static Stamp parseFile(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    try {
      return parse(new String(bytes, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** {@link #write(PoolDir, Stamp, long)} over a stamp file whose length is not known. */
  static void write(PoolDir d, Stamp stamp) throws IOException {
    write(d, stamp, -1);
  }

  /**
   * Writes the stamp file, which the call has {@link #drop}ped (outside both watched directories),
   * in place, the first byte last ({@link PoolDir#overwriteHeadLast}), not through a temp file and a
   * rename, since no one reads it without the pool's lock, which this call holds. A process killed
   * while writing it leaves the dropped stamp's invalid first byte, or a text without its final
   * newline: not a stamp ({@link #parse}), so the next call rebuilds, as when it finds none.
   * {@code length} is the file's length as this call read it (-1 when unknown); returns its length
   * now.
   */
  static int write(PoolDir d, Stamp stamp, long length) throws IOException {
    byte[] bytes = (stamp.text() + "\n").getBytes(StandardCharsets.UTF_8);
    d.overwriteHeadLast(d.stampFile, bytes, length);
    return bytes.length;
  }

  /**
   * Invalidates the stamp before a call changes anything, in place: its first byte becomes
   * {@code '-'}, so it is no stamp of any version ({@link #parse}). A process killed before it
   * writes the next stamp leaves none, and the next call rebuilds, whatever the mtimes say. In
   * place rather than {@code unlink(2)}, which with the next stamp's create cost a file's inode
   * freed and another allocated per call (about five times the two writes).
   */
  static void drop(PoolDir d) throws IOException {
    d.invalidate(d.stampFile, (byte) '-');
  }
}
