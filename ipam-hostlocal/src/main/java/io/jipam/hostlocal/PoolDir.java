package io.jipam.hostlocal;

import io.jipam.core.IpamException;
import io.jipam.core.ErrorCode;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.PodRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The files of one pool: host-local's directory {@code <dataDir>/<network>/} and jipam's own
 * {@code <dataDir>/.jipam/<network>/}. Every method but the constructor is called with the pool's
 * lock held (see {@link HostLocalStore}); none is thread-safe on its own.
 *
 * <pre>
 * | path                                    | written by          | content                                   |
 * |-----------------------------------------|---------------------|-------------------------------------------|
 * | dataDir/NET/                            | both (mode 0755)    | host-local's directory: the truth         |
 * | dataDir/NET/ADDRESS                     | both, O_EXCL (0600) | "CONTAINERID\r\nIFNAME" (old: "CONTAINERID")|
 * | dataDir/NET/last_reserved_ip.SET        | both                | last address handed out in range set SET  |
 * | dataDir/NET/lock                        | both, empty         | host-local flock()s it, jipam fcntl-locks |
 * | dataDir/NET/.jipam-addr, .jipam-cursor  | jipam, transient    | temp files; left only by a crash, removed |
 * | dataDir/.jipam/NET/stamp                | jipam               | generation + what the dirs looked like    |
 * | dataDir/.jipam/NET/att/CID@IFNAME       | jipam               | the attachment's addresses and pods       |
 * | dataDir/.jipam/NET/index                | jipam               | snapshot + appended changes, then a stamp |
 * | dataDir/.jipam/NET/index.tmp, stamp.tmp,| jipam, transient    | next index / stamp / record, renamed over |
 * |   att/.tmp                              |                     |                                           |
 * </pre>
 *
 * ADDRESS is the canonical text of the address (dotted quad, RFC 5952 for IPv6), which is what
 * Go's {@code net.IP.String()} prints and so what host-local names its files.
 */
final class PoolDir {
  static final String LOCK = "lock";
  static final String CURSOR_PREFIX = "last_reserved_ip.";
  /** Names jipam gives its temp files in the network directory; never an address. */
  static final String TEMP_PREFIX = ".jipam-";
  static final String JIPAM_DIR = ".jipam";
  /**
   * ifname of an allocation read from an old-format file holding only the container ID: a mark
   * (see {@link InterfaceName}), so no interface (not even one named {@code *}) is taken for it.
   */
  static final String LEGACY_IFNAME = "\uDC2A";
  /** Holder of an address file whose content is not a valid container ID and ifname (a mark). */
  static final Attachment UNREADABLE = new Attachment("0-unreadable-address-file", "\uDC3F");
  /**
   * Holder of an entry named like an address that is not a regular file (a directory, a FIFO):
   * the address is not free, and nothing of jipam's ever deletes the entry.
   */
  static final Attachment NOT_A_FILE = new Attachment("0-not-a-regular-file", "\uDC21");

  private static final byte[] LINE_BREAK = {'\r', '\n'};
  // Sets built with Set.of, not EnumSet (nor PosixFilePermissions.fromString, which makes one):
  // the first EnumSet of an enum type reads its constants reflectively, which spins method handles
  // that cost a one-shot plugin process several milliseconds.
  private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
      PosixFilePermissions.asFileAttribute(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
  private static final FileAttribute<Set<PosixFilePermission>> DIR_MODE =
      PosixFilePermissions.asFileAttribute(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
          PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_EXECUTE,
          PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_EXECUTE));
  private static final Set<StandardOpenOption> CREATE_NEW = Set.of(StandardOpenOption.CREATE_NEW,
      StandardOpenOption.WRITE);
  private static final Set<StandardOpenOption> WRITE_CREATE = Set.of(StandardOpenOption.WRITE,
      StandardOpenOption.CREATE);

  final String network;
  final Path dir;
  final Path jipamDir;
  final Path index;
  final Path indexTemp;
  final Path stampFile;
  private final Path stampTemp;
  final Path attDir;
  private final Path recordTemp;
  private final Path addressTemp;
  private final Path cursorTemp;
  /** Null: no fsync (host-local's default). */
  private final Forcer forcer;

  /**
   * Forces a written file or directory to disk: the one place jipam calls fsync, so that a test
   * can count what is forced.
   */
  static class Forcer {
    static final Forcer FORCE = new Forcer();

    void force(Path path, FileChannel channel, boolean metaData) throws IOException {
      channel.force(metaData);
    }
  }

  PoolDir(Path dataDir, String network, boolean sync) {
    this(dataDir, network, sync ? Forcer.FORCE : null);
  }

  PoolDir(Path dataDir, String network, Forcer forcer) {
    // Pool already restricts names to [A-Za-z0-9][A-Za-z0-9_.-]*; check again so that no name can
    // ever leave dataDir, whoever built the Pool.
    if (network.isEmpty() || network.indexOf('/') >= 0 || network.indexOf('\0') >= 0
        || network.charAt(0) == '.') {
      throw IpamException.invalidConfig("invalid network name \"%s\": not a safe directory name", network);
    }
    this.network = network;
    this.dir = dataDir.resolve(network);
    this.jipamDir = dataDir.resolve(JIPAM_DIR).resolve(network);
    if (!dataDir.equals(dir.getParent()) || !jipamDir.getParent().getParent().equals(dataDir)) {
      throw IpamException.invalidConfig("invalid network name \"%s\": leaves %s", network, dataDir);
    }
    this.index = jipamDir.resolve("index");
    this.indexTemp = jipamDir.resolve("index.tmp");
    this.stampFile = jipamDir.resolve("stamp");
    this.stampTemp = jipamDir.resolve("stamp.tmp");
    this.attDir = jipamDir.resolve("att");
    this.recordTemp = attDir.resolve(".tmp");
    this.addressTemp = dir.resolve(TEMP_PREFIX + "addr");
    this.cursorTemp = dir.resolve(TEMP_PREFIX + "cursor");
    this.forcer = forcer;
  }

  /** Creates both directories (mode 0755, as host-local does) when missing. */
  void createDirectories() throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, DIR_MODE);
    }
    if (!Files.isDirectory(attDir)) {
      Files.createDirectories(attDir, DIR_MODE);
    }
  }

  /** Opens (creating it empty when missing) the lock file; the caller locks and closes it. */
  FileChannel openLock() throws IOException {
    Path lock = dir.resolve(LOCK);
    try {
      return FileChannel.open(lock, WRITE_CREATE,
          FILE_MODE);
    } catch (NoSuchFileException e) {
      createDirectories();
      return FileChannel.open(lock, WRITE_CREATE,
          FILE_MODE);
    }
  }

  Path addressFile(IpAddress address) {
    return dir.resolve(address.toString());
  }

  /**
   * What the directories look like now: identity and mtime of the network directory and of the
   * records directory, and the cursor files' content. Generation 0; see {@link Stamp}.
   */
  Stamp observe(int sets) throws IOException {
    String[] cursors = new String[sets];
    for (int i = 0; i < sets; i++) {
      cursors[i] = readCursor(i);
    }
    return observe(0, cursors);
  }

  /** Like {@link #observe(int)} with known cursors and generation. */
  Stamp observe(long gen, String[] cursors) throws IOException {
    BasicFileAttributes a = Files.readAttributes(dir, BasicFileAttributes.class);
    BasicFileAttributes r;
    try {
      r = Files.readAttributes(attDir, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      createDirectories();
      r = Files.readAttributes(attDir, BasicFileAttributes.class);
    }
    return new Stamp(gen, String.valueOf(a.fileKey()), nanos(a), String.valueOf(r.fileKey()), nanos(r),
        cursors.clone());
  }

  /** The stamp jipam last recorded, or null when missing or unreadable (then: rebuild). */
  Stamp readStamp() {
    try {
      return Stamp.parse(new String(Files.readAllBytes(stampFile), StandardCharsets.UTF_8));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Replaces the stamp file (temp + rename, outside both watched directories). */
  void writeStamp(Stamp stamp) throws IOException {
    Files.deleteIfExists(stampTemp);
    writeNew(stampTemp, (stamp.text() + "\n").getBytes(StandardCharsets.UTF_8));
    Files.move(stampTemp, stampFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Removes the stamp before a call changes anything: a process killed before it writes the
   * next stamp leaves none, and the next call rebuilds, whatever the mtimes say.
   */
  void dropStamp() throws IOException {
    Files.deleteIfExists(stampFile);
  }

  // ------------------------------------------------------------ attachment records

  /**
   * The record file of an attachment: {@code CONTAINERID@IFNAME} with IFNAME escaped to ASCII by
   * {@link #escapeName} (a container ID has no {@code @}, so the name is unambiguous, and no file
   * name jipam makes depends on the locale's charset); a digest of that when it would be too long.
   */
  Path recordFile(Attachment att) {
    String name = att.containerId() + "@" + escapeName(att.ifname());
    if (name.length() > 200 || name.getBytes(StandardCharsets.UTF_8).length > 200) {
      try {
        byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
        StringBuilder b = new StringBuilder("h@");
        for (byte x : d) {
          b.append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
        }
        name = b.toString();
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
    return attDir.resolve(name);
  }

  /**
   * The attachment's record: address and pod per line, or an empty record when there is none;
   * null when it is unreadable or names another attachment (then: rebuild).
   */
  Record readRecord(Attachment att) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(recordFile(att));
    } catch (NoSuchFileException e) {
      return Record.EMPTY;
    }
    return Record.parse(new String(bytes, StandardCharsets.UTF_8), att);
  }

  /** Replaces the attachment's record (temp + rename); deletes it when there is nothing to record. */
  void writeRecord(Attachment att, List<Allocation> held) throws IOException {
    if (held.isEmpty()) {
      Files.deleteIfExists(recordFile(att));
      return;
    }
    Files.deleteIfExists(recordTemp);
    try {
      writeNew(recordTemp, Record.text(att, held).getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      createDirectories();
      writeNew(recordTemp, Record.text(att, held).getBytes(StandardCharsets.UTF_8));
    }
    Files.move(recordTemp, recordFile(att), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * An attachment record: {@code CONTAINERID<TAB>IFNAME} on the first line, then one line per
   * address, {@code ADDRESS<TAB>POD_NS<TAB>POD_NAME} (pod names escaped as in the index). A
   * superset of what the attachment holds: every entry is verified against its address file.
   */
  static final class Record {
    static final Record EMPTY = new Record(new IpAddress[0], new PodRef[0]);
    final IpAddress[] addresses;
    final PodRef[] pods;

    Record(IpAddress[] addresses, PodRef[] pods) {
      this.addresses = addresses;
      this.pods = pods;
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

    static String text(Attachment att, List<Allocation> held) {
      StringBuilder b = new StringBuilder(64 + 64 * held.size());
      b.append(att.containerId()).append('\t').append(escapeName(att.ifname())).append('\n');
      for (Allocation a : held) {
        b.append(a.address().toString()).append('\t').append(IndexFile.escape(a.pod().namespace()))
            .append('\t').append(IndexFile.escape(a.pod().name())).append('\n');
      }
      return b.toString();
    }

    static Record parse(String text, Attachment att) {
      try {
        int eol = text.indexOf('\n');
        if (eol < 0 || !text.endsWith("\n")
            || !text.substring(0, eol).equals(att.containerId() + "\t" + escapeName(att.ifname()))) {
          return null;
        }
        List<IpAddress> addresses = new ArrayList<>(2);
        List<PodRef> pods = new ArrayList<>(2);
        int pos = eol + 1;
        while (pos < text.length()) {
          int end = text.indexOf('\n', pos);
          int t1 = text.indexOf('\t', pos);
          int t2 = t1 < 0 ? -1 : text.indexOf('\t', t1 + 1);
          if (t1 < 0 || t2 < 0 || t2 > end) {
            return null;
          }
          addresses.add(IpAddress.parse(text.substring(pos, t1)));
          pods.add(new PodRef(IndexFile.unescape(text.substring(t1 + 1, t2)),
              IndexFile.unescape(text.substring(t2 + 1, end))));
          pos = end + 1;
        }
        return new Record(addresses.toArray(new IpAddress[0]), pods.toArray(new PodRef[0]));
      } catch (RuntimeException e) {
        return null;
      }
    }
  }

  /**
   * An interface name (or a mark) as printable ASCII, one to one: the bytes of the name (see
   * {@link InterfaceName#encode}) that are printable ASCII other than {@code %} stay, every other
   * byte becomes {@code %XX}, a mark {@code %uXXXX}. Used in record file names, records and the
   * index, so that they hold every name exactly and never depend on the locale.
   */
  static String escapeName(String name) {
    if (InterfaceName.isMark(name)) {
      return "%u" + Integer.toHexString(name.charAt(0));
    }
    boolean plain = true;
    for (int i = 0; i < name.length() && plain; i++) {
      char c = name.charAt(i);
      plain = c > 0x20 && c < 0x7F && c != '%';
    }
    if (plain) {
      return name;
    }
    StringBuilder b = new StringBuilder(name.length() * 3);
    for (byte x : InterfaceName.encode(name)) {
      if (x > 0x20 && x < 0x7F && x != '%') {
        b.append((char) x);
      } else {
        b.append('%').append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
      }
    }
    return b.toString();
  }

  /** The inverse of {@link #escapeName}. */
  static String unescapeName(String text) {
    if (text.startsWith("%u")) {
      return String.valueOf((char) Integer.parseInt(text.substring(2), 16));
    }
    if (text.indexOf('%') < 0) {
      return text;
    }
    byte[] bytes = new byte[text.length()];
    int n = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '%') {
        bytes[n++] = (byte) Integer.parseInt(text.substring(i + 1, i + 3), 16);
        i += 2;
      } else {
        bytes[n++] = (byte) c;
      }
    }
    return InterfaceName.decode(bytes, 0, n);
  }

  static long nanos(BasicFileAttributes a) {
    java.time.Instant t = a.lastModifiedTime().toInstant();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /**
   * Creates the address file holding the attachment, atomically and exclusively: the content is
   * written to a temp file that is then hard-linked to the address's name ({@code link(2)} fails
   * when the name exists, like host-local's {@code O_CREAT|O_EXCL}). No reader ever sees an empty
   * or half-written address file, and a crash leaves at most the temp file.
   *
   * @return false, creating nothing, when the address file already exists
   */
  boolean createAddressFile(IpAddress address, Attachment holder) throws IOException {
    if (addressFile(address).toFile().exists()) {
      return false; // cheap answer for a taken address; link(2) below is the one that counts
    }
    Files.deleteIfExists(addressTemp);
    writeNew(addressTemp, content(holder));
    try {
      Files.createLink(addressFile(address), addressTemp);
      return true;
    } catch (FileAlreadyExistsException e) {
      return false;
    } finally {
      Files.deleteIfExists(addressTemp);
    }
  }

  static byte[] content(Attachment holder) {
    byte[] id = holder.containerId().getBytes(StandardCharsets.UTF_8);
    byte[] ifname = InterfaceName.encode(holder.ifname());
    byte[] out = new byte[id.length + 2 + ifname.length];
    System.arraycopy(id, 0, out, 0, id.length);
    System.arraycopy(LINE_BREAK, 0, out, id.length, 2);
    System.arraycopy(ifname, 0, out, id.length + 2, ifname.length);
    return out;
  }

  /**
   * Who holds the address according to its file: null when there is no file. Reads both
   * host-local formats; an old file holding only the container ID yields ifname {@link
   * #LEGACY_IFNAME}, unreadable content {@link #UNREADABLE}, an entry that is not a regular file
   * {@link #NOT_A_FILE}.
   */
  Attachment readHolder(IpAddress address) throws IOException {
    return holderAt(addressFile(address));
  }

  /** {@link #readHolder} of a path; never opens anything but a regular file (a FIFO would block). */
  static Attachment holderAt(Path file) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return null;
    }
    if (!a.isRegularFile()) {
      System.err.println("jipam: " + file + " is not a regular file: its address is treated as taken");
      return NOT_A_FILE;
    }
    try {
      return parseHolder(Files.readAllBytes(file));
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /**
   * The holder an address file's bytes name, exactly: white space bytes trimmed at both ends (as
   * host-local's TrimSpace; no valid name starts or ends with one), the container ID before
   * {@code \r\n}, the interface name after it decoded byte for byte (see {@link InterfaceName}),
   * so that names that differ in any byte are different holders.
   */
  static Attachment parseHolder(byte[] bytes) {
    int from = 0;
    int to = bytes.length;
    while (from < to && InterfaceName.isKernelSpace(bytes[from]) && bytes[from] != (byte) 0xA0) {
      from++;
    }
    while (to > from && InterfaceName.isKernelSpace(bytes[to - 1]) && bytes[to - 1] != (byte) 0xA0) {
      to--;
    }
    int br = -1;
    for (int i = from; i + 1 < to; i++) {
      if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
        br = i;
        break;
      }
    }
    int idEnd = br < 0 ? to : br;
    for (int i = from; i < idEnd; i++) {
      if (bytes[i] < 0x21) { // negative: not ASCII; a container ID is ASCII
        return UNREADABLE;
      }
    }
    String id = new String(bytes, from, idEnd - from, StandardCharsets.ISO_8859_1);
    String ifname = br < 0 ? LEGACY_IFNAME : InterfaceName.decode(bytes, br + 2, to);
    try {
      return new Attachment(id, ifname);
    } catch (IpamException e) {
      return UNREADABLE;
    }
  }

  /** Deletes the address file; false when it was already gone. */
  boolean deleteAddressFile(IpAddress address) throws IOException {
    return Files.deleteIfExists(addressFile(address));
  }

  /** The trimmed content of {@code last_reserved_ip.<set>}, "" when missing. */
  String readCursor(int set) throws IOException {
    try {
      return new String(Files.readAllBytes(dir.resolve(CURSOR_PREFIX + set)), StandardCharsets.UTF_8).strip();
    } catch (NoSuchFileException e) {
      return "";
    }
  }

  /** Replaces {@code last_reserved_ip.<set>} atomically (temp + rename); no newline, like host-local. */
  void writeCursor(int set, IpAddress lastReserved) throws IOException {
    Files.deleteIfExists(cursorTemp);
    writeNew(cursorTemp, lastReserved.toString().getBytes(StandardCharsets.UTF_8));
    Files.move(cursorTemp, dir.resolve(CURSOR_PREFIX + set), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  /** Forces the network directory's entries to disk (only with fsync on). */
  void syncDir() throws IOException {
    if (forcer != null) {
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        forcer.force(dir, d, true);
      }
    }
  }

  /** Writes a new file (mode 0600), forcing it to disk with fsync on. */
  void writeNew(Path path, byte[] bytes) throws IOException {
    try (FileChannel ch = FileChannel.open(path, CREATE_NEW, FILE_MODE)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      if (forcer != null) {
        forcer.force(path, ch, false);
      }
    }
  }

  static IpamException ioFailure(String what, Path path, Exception e) {
    return new IpamException(ErrorCode.IO_FAILURE, what + " " + path + ": " + e, e);
  }

  /**
   * What jipam last saw of the pool's directories, written to the stamp file at the end of every
   * call that changed something: a generation (incremented by every such call, so other jipam
   * processes' changes are seen whatever the clock's granularity), identity and mtime of the
   * network directory and of the records directory, and the cursor files' content. A plain class,
   * not a record: record equals would bootstrap through invokedynamic, which costs start-up time
   * in the one-shot plugin.
   */
  static final class Stamp {
    static final String VERSION = "v2";
    final long gen;
    final String dirKey;
    final long dirMtime;
    final String attKey;
    final long attMtime;
    final String[] cursors;

    Stamp(long gen, String dirKey, long dirMtime, String attKey, long attMtime, String[] cursors) {
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

    Stamp withGen(long g) {
      return new Stamp(g, dirKey, dirMtime, attKey, attMtime, cursors);
    }

    /**
     * {@code v2 GEN DIRKEY DIRMTIME ATTKEY ATTMTIME N C0 .. CN-1}, tab-separated, escaped. The
     * version changes with the format of records and index, so that a store written by another
     * version of jipam is rebuilt once rather than misread.
     */
    String text() {
      StringBuilder b = new StringBuilder(128);
      b.append(VERSION).append('\t').append(gen).append('\t').append(IndexFile.escape(dirKey)).append('\t').append(dirMtime).append('\t')
          .append(IndexFile.escape(attKey)).append('\t').append(attMtime).append('\t').append(cursors.length);
      for (String c : cursors) {
        b.append('\t').append(IndexFile.escape(c));
      }
      return b.toString();
    }

    static Stamp parse(String text) {
      if (!text.startsWith(VERSION + "\t")) {
        throw new IllegalArgumentException("stamp of another format");
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
      if (f.size() != 6 + count) {
        throw new IllegalArgumentException("bad stamp");
      }
      String[] cursors = new String[count];
      for (int i = 0; i < count; i++) {
        cursors[i] = IndexFile.unescape(f.get(6 + i));
      }
      return new Stamp(Long.parseLong(f.get(0)), IndexFile.unescape(f.get(1)), Long.parseLong(f.get(2)),
          IndexFile.unescape(f.get(3)), Long.parseLong(f.get(4)), cursors);
    }

    @Override
    public String toString() {
      return text();
    }
  }
}
