package io.jipam.hostlocal;

import io.jipam.core.IpamException;
import io.jipam.core.ErrorCode;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
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
import java.util.EnumSet;
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
 * | dataDir/.jipam/NET/index                | jipam               | snapshot + appended changes, then a stamp |
 * | dataDir/.jipam/NET/index.tmp            | jipam, transient    | next index, renamed over index            |
 * | dataDir/.jipam/NET/clock                | jipam               | one byte; its mtime reads the fs clock    |
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
  /** ifname of an allocation read from an old-format file holding only the container ID. */
  static final String LEGACY_IFNAME = "*";
  /** Holder of an address file whose content is not a valid container ID and ifname. */
  static final Attachment UNREADABLE = new Attachment("0-unreadable-address-file", "?");

  private static final byte[] LINE_BREAK = {'\r', '\n'};
  private static final Set<PosixFilePermission> RW_OWNER = PosixFilePermissions.fromString("rw-------");
  private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
      PosixFilePermissions.asFileAttribute(RW_OWNER);
  private static final FileAttribute<Set<PosixFilePermission>> DIR_MODE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x"));
  private static final Set<StandardOpenOption> CREATE_NEW = EnumSet.of(StandardOpenOption.CREATE_NEW,
      StandardOpenOption.WRITE);

  final String network;
  final Path dir;
  final Path jipamDir;
  final Path index;
  final Path indexTemp;
  final Path clock;
  private final Path addressTemp;
  private final Path cursorTemp;
  private final boolean sync;

  PoolDir(Path dataDir, String network, boolean sync) {
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
    this.clock = jipamDir.resolve("clock");
    this.addressTemp = dir.resolve(TEMP_PREFIX + "addr");
    this.cursorTemp = dir.resolve(TEMP_PREFIX + "cursor");
    this.sync = sync;
  }

  /** Creates both directories (mode 0755, as host-local does) when missing. */
  void createDirectories() throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, DIR_MODE);
    }
    if (!Files.isDirectory(jipamDir)) {
      Files.createDirectories(jipamDir, DIR_MODE);
    }
  }

  /** Opens (creating it empty when missing) the lock file; the caller locks and closes it. */
  FileChannel openLock() throws IOException {
    Path lock = dir.resolve(LOCK);
    try {
      return FileChannel.open(lock, EnumSet.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE),
          FILE_MODE);
    } catch (NoSuchFileException e) {
      createDirectories();
      return FileChannel.open(lock, EnumSet.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE),
          FILE_MODE);
    }
  }

  Path addressFile(IpAddress address) {
    return dir.resolve(address.toString());
  }

  /** The network directory's identity and mtime: what the index's validity stamp records. */
  DirStamp stat() throws IOException {
    BasicFileAttributes a = Files.readAttributes(dir, BasicFileAttributes.class);
    return new DirStamp(String.valueOf(a.fileKey()), nanos(a));
  }

  /**
   * The index file's identity and size, "" when missing. Every jipam write changes it (an append
   * grows the file, a snapshot is a new inode), whatever the clock's granularity.
   */
  String indexVersion() throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(index, BasicFileAttributes.class);
      return a.fileKey() + ":" + a.size();
    } catch (NoSuchFileException e) {
      return "";
    }
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
    byte[] ifname = holder.ifname().getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[id.length + 2 + ifname.length];
    System.arraycopy(id, 0, out, 0, id.length);
    System.arraycopy(LINE_BREAK, 0, out, id.length, 2);
    System.arraycopy(ifname, 0, out, id.length + 2, ifname.length);
    return out;
  }

  /**
   * Who holds the address according to its file: null when there is no file. Reads both
   * host-local formats; an old file holding only the container ID yields ifname {@link
   * #LEGACY_IFNAME}, unreadable content {@link #UNREADABLE}.
   */
  Attachment readHolder(IpAddress address) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(addressFile(address));
    } catch (NoSuchFileException e) {
      return null;
    }
    return parseHolder(bytes);
  }

  static Attachment parseHolder(byte[] bytes) {
    String text = new String(bytes, StandardCharsets.UTF_8).strip(); // Go: strings.TrimSpace
    int br = text.indexOf("\r\n");
    String id = br < 0 ? text : text.substring(0, br);
    String ifname = br < 0 ? LEGACY_IFNAME : text.substring(br + 2);
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
    if (sync) {
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
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
      if (sync) {
        ch.force(false);
      }
    }
  }

  /**
   * Reads the filesystem's clock as the kernel stamps mtimes: rewrites {@link #clock} and
   * returns its mtime.
   */
  long touchClock() throws IOException {
    Files.write(clock, LINE_BREAK);
    return nanos(Files.readAttributes(clock, BasicFileAttributes.class));
  }

  static IpamException ioFailure(String what, Path path, Exception e) {
    return new IpamException(ErrorCode.IO_FAILURE, what + " " + path + ": " + e, e);
  }

  /**
   * Identity (device and inode) and mtime of the network directory. A plain class, not a record:
   * record equals would bootstrap through invokedynamic, which costs start-up time in the
   * one-shot plugin.
   */
  static final class DirStamp {
    private final String fileKey;
    private final long mtimeNanos;

    DirStamp(String fileKey, long mtimeNanos) {
      this.fileKey = fileKey;
      this.mtimeNanos = mtimeNanos;
    }

    String fileKey() {
      return fileKey;
    }

    long mtimeNanos() {
      return mtimeNanos;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof DirStamp other && other.mtimeNanos == mtimeNanos && other.fileKey.equals(fileKey);
    }

    @Override
    public int hashCode() {
      return fileKey.hashCode() * 31 + Long.hashCode(mtimeNanos);
    }

    @Override
    public String toString() {
      return fileKey + "@" + mtimeNanos;
    }
  }
}
