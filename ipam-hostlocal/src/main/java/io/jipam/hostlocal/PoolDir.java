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
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
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
 * | dataDir/NET/                            | both (jipam: 0700)  | host-local's directory: the truth         |
 * | dataDir/NET/ADDRESS                     | both, O_EXCL (0600) | "CONTAINERID\r\nIFNAME" (old: "CONTAINERID")|
 * | dataDir/NET/last_reserved_ip.SET        | both, in place      | last address handed out in range set SET  |
 * | dataDir/NET/lock                        | both, empty         | host-local flock()s it, jipam fcntl-locks |
 * | dataDir/NET/.jipam-addr                 | jipam, transient    | temp file; left only by a crash, removed  |
 * | dataDir/.jipam/NET/stamp                | jipam, in place     | generation + what the dirs looked like    |
 * | dataDir/.jipam/holder                   | jipamd, empty       | locked by the store holding the stamps    |
 * | dataDir/.jipam/NET/att/CID@IFNAME       | jipam               | the attachment's addresses and pods       |
 * | dataDir/.jipam/NET/index                | jipam               | snapshot + appended changes, then a stamp |
 * | dataDir/.jipam/NET/claims               | jipam               | holds, reservations, cool-downs           |
 * | dataDir/NET/ADDRESS of a claim          | jipam (marker)      | "jipam-claim\r\n/": no one's, never free   |
 * | dataDir/.jipam/NET/index.tmp, att/.tmp  | jipam, transient    | next index / record, renamed over         |
 * </pre>
 *
 * ADDRESS is the canonical text of the address (dotted quad, RFC 5952 for IPv6), which is what
 * Go's {@code net.IP.String()} prints and so what host-local names its files.
 *
 * <p>Length: about 620 lines, as one class on purpose: it is the only code that touches these
 * paths, so the rules they share (no symlink followed, a regular file or nothing, in-place writes
 * with their length known, temp files renamed over, the optional force to disk) are written once,
 * beside the table above. What an address file's bytes say is {@link AddressFileText}'s.
 */
final class PoolDir {
  static final String LOCK = "lock";
  static final String CURSOR_PREFIX = "last_reserved_ip.";
  /** Names jipam gives its temp files in the network directory; never an address. */
  static final String TEMP_PREFIX = ".jipam-";
  static final String JIPAM_DIR = ".jipam";
  /**
   * The temp file jipam wrote its stamp through before the stamp was written in place: a crash of
   * such a jipam could leave it; a rebuild removes it.
   */
  static final String OLD_STAMP_TEMP = "stamp.tmp";
  // Sets built with Set.of, not EnumSet (nor PosixFilePermissions.fromString, which makes one):
  // the first EnumSet of an enum type reads its constants reflectively, which spins method handles
  // that cost a one-shot plugin process several milliseconds.
  private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
      PosixFilePermissions.asFileAttribute(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
  private static final FileAttribute<Set<PosixFilePermission>> DIR_MODE =
      PosixFilePermissions.asFileAttribute(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
          PosixFilePermission.OWNER_EXECUTE));
  private static final Set<StandardOpenOption> CREATE_NEW = Set.of(StandardOpenOption.CREATE_NEW,
      StandardOpenOption.WRITE);
  private static final Set<StandardOpenOption> WRITE_CREATE = Set.of(StandardOpenOption.WRITE,
      StandardOpenOption.CREATE);
  private static final Set<OpenOption> LOCK_OPEN = Set.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE,
      LinkOption.NOFOLLOW_LINKS);
  private static final Set<OpenOption> OVERWRITE = Set.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE,
      LinkOption.NOFOLLOW_LINKS);
  private static final Set<OpenOption> OVERWRITE_EXISTING = Set.of(StandardOpenOption.WRITE,
      LinkOption.NOFOLLOW_LINKS);

  final String network;
  final Path dir;
  final Path jipamDir;
  final Path index;
  final Path indexTemp;
  final Path stampFile;
  final Path attDir;
  final Path recordTemp;
  final Path claimsFile;
  final Path claimsTemp;
  private final Path addressTemp;
  /** Null: no fsync (host-local's default). */
  private final Forcer forcer;
  /** The clock holds and cool-downs of this pool start and end by; null for the system clock. */
  final java.time.Clock clock;

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
    this(dataDir, network, forcer, null);
  }

  PoolDir(Path dataDir, String network, Forcer forcer, java.time.Clock clock) {
    this.clock = clock;
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
    this.attDir = jipamDir.resolve("att");
    this.recordTemp = attDir.resolve(".tmp");
    this.claimsFile = jipamDir.resolve("claims");
    this.claimsTemp = jipamDir.resolve("claims.tmp");
    this.addressTemp = dir.resolve(TEMP_PREFIX + "addr");
    this.forcer = forcer;
  }

  /**
   * Whether the network's directory exists. Without it the pool holds nothing: calls that only
   * read or release answer so without creating it (nor the lock file, nor jipam's index).
   */
  boolean exists() {
    return Files.isDirectory(dir);
  }

  /**
   * Creates both directories when missing, mode 0700 (host-local makes 0755; the files name
   * containers and pods, and both plugins run as root, so no one else needs to read them).
   */
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
    return openLock(true);
  }

  /**
   * {@link #openLock()}; without {@code create}, a missing network directory is not created
   * ({@link NoSuchFileException}): for a writer that must not bring back a pool someone removed.
   */
  FileChannel openLock(boolean create) throws IOException {
    checkLockPath();
    return openCheckedLock(create);
  }

  /**
   * Checks the way to the lock file: the network's folders are not links, and the lock file is a
   * regular file or absent.
   *
   * @return the lock file's identity ({@link BasicFileAttributes#fileKey}), null when it is absent
   * @throws IOException naming the link or the entry that is not a regular file
   */
  Object checkLockPath() throws IOException {
    Path lock = dir.resolve(LOCK);
    // the network's folders are the data dir's own: a link in their place (planted through a
    // hostPath, say) would have root write the pool's files wherever it points
    for (Path folder : new Path[] {dir, jipamDir.getParent(), jipamDir, attDir}) {
      if (Files.isSymbolicLink(folder)) {
        throw new IOException(folder + " is a symbolic link; jipam keeps a network's files in folders of the data"
            + " dir and does not follow links out of it");
      }
    }
    // not through a link (it could create a file anywhere as root), not a FIFO (the open blocks)
    return regularFileKey(lock);
  }

  /**
   * The identity ({@link BasicFileAttributes#fileKey}) of the regular file at {@code file}, not
   * following a link; null when nothing is there.
   *
   * @throws IOException when something else is there (a link, a FIFO, a folder)
   */
  static Object regularFileKey(Path file) throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (!a.isRegularFile()) {
        throw new IOException(file + " is not a regular file");
      }
      return a.fileKey();
    } catch (NoSuchFileException absent) {
      return null;
    }
  }

  /** Opens the lock file {@link #checkLockPath} checked (creating it, and the folders, when missing). */
  FileChannel openCheckedLock(boolean create) throws IOException {
    Path lock = dir.resolve(LOCK);
    try {
      return FileChannel.open(lock, LOCK_OPEN, FILE_MODE);
    } catch (NoSuchFileException e) {
      if (!create) {
        throw e;
      }
      createDirectories();
      return FileChannel.open(lock, LOCK_OPEN, FILE_MODE);
    }
  }

  Path addressFile(IpAddress address) {
    return dir.resolve(address.toString());
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
    // its callers chose a free address: no probe first
    return createExclusive(address, AddressFileText.content(holder));
  }

  private boolean createExclusive(IpAddress address, byte[] content) throws IOException {
    writeTemp(addressTemp, content);
    try {
      Files.createLink(addressFile(address), addressTemp);
      return true;
    } catch (FileAlreadyExistsException e) {
      return false;
    } finally {
      delete(addressTemp);
    }
  }

  /**
   * Who holds the address according to its file: null when there is no file. Reads both
   * host-local formats ({@link AddressFileText#parseHolder}); an old file holding only the
   * container ID yields ifname {@link AddressFileText#LEGACY_IFNAME}, unreadable content {@link
   * AddressFileText#UNREADABLE}, an entry that is not a regular file {@link
   * AddressFileText#NOT_A_FILE}.
   */
  Attachment readHolder(IpAddress address) throws IOException {
    return holderAt(addressFile(address));
  }

  /**
   * {@link #readHolder} of a path; never opens anything but a regular file (a FIFO would block),
   * never follows a symbolic link (a dangling one, which host-local skips, or one pointing out of
   * the folder), never reads more than {@link #MAX_READ} bytes.
   */
  static Attachment holderAt(Path file) throws IOException {
    try {
      return AddressFileText.parseHolder(readSmall(file));
    } catch (NoSuchFileException e) {
      return null;
    } catch (NotSmallFile e) {
      System.err.println("jipam: " + e.getMessage() + ": its address is treated as taken");
      return e.regular ? AddressFileText.UNREADABLE : AddressFileText.NOT_A_FILE;
    }
  }

  /**
   * Replaces whatever the address's file holds (a claim marker) with the content given, atomically
   * (temp + rename): no reader, host-local included, ever sees the address without a file.
   */
  void replaceAddressFile(IpAddress address, byte[] content) throws IOException {
    writeTemp(addressTemp, content);
    Files.move(addressTemp, addressFile(address), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Gives a claimed address to its holder: the claim marker replaced by {@code content}. False,
   * changing nothing, when the file is not the marker (another process changed it since the caller's
   * state was read: the caller rebuilds), as {@link #createAddressFile} is false for a file that
   * exists: a holder's file is never written over.
   */
  boolean replaceMarker(IpAddress address, byte[] content) throws IOException {
    if (!AddressFileText.CLAIMED.equals(readHolder(address))) {
      return false;
    }
    replaceAddressFile(address, content);
    return true;
  }

  /** Creates a claim marker for a free address, exclusively; false when a file exists. */
  boolean createMarker(IpAddress address) throws IOException {
    if (addressFile(address).toFile().exists()) {
      return false; // cheap answer for a taken address; link(2) is the one that counts
    }
    return createExclusive(address, AddressFileText.CLAIM_MARK);
  }

  /** Deletes the address's claim marker; leaves any other file (a holder's) alone. */
  void deleteMarker(IpAddress address) throws IOException {
    if (AddressFileText.CLAIMED.equals(readHolder(address))) {
      Files.deleteIfExists(addressFile(address));
    }
  }

  /** Deletes the address file; false when it was already gone. */
  boolean deleteAddressFile(IpAddress address) throws IOException {
    return delete(addressFile(address));
  }

  /** The trimmed content of {@code last_reserved_ip.<set>}, "" when missing. */
  String readCursor(int set) throws IOException {
    return cursorText(readCursorBytes(set));
  }

  /** The bytes of {@code last_reserved_ip.<set>}, none when missing. */
  byte[] readCursorBytes(int set) throws IOException {
    try {
      return readSmall(dir.resolve(CURSOR_PREFIX + set));
    } catch (NoSuchFileException e) {
      return new byte[0];
    } catch (NotSmallFile e) {
      // a hint: one that cannot be read is none (its next write replaces the name)
      System.err.println("jipam: " + e.getMessage() + ": read as no cursor");
      return new byte[0];
    }
  }

  /** A cursor file's content, trimmed. */
  static String cursorText(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8).strip();
  }

  /** {@link #writeCursor(int, IpAddress, long)} of a file whose length is not known. */
  void writeCursor(int set, IpAddress lastReserved) throws IOException {
    writeCursor(set, lastReserved, -1);
  }

  /**
   * Writes {@code last_reserved_ip.<set>} in place ({@link #overwrite(Path, byte[], long)}), no
   * newline, as host-local does; {@code length} is the file's length as read under the pool's
   * lock, or -1. A cursor is a hint of where the next search starts, never a record of what is
   * taken: one cut short by a crash (a call that changed something drops the stamp first, so the
   * next call rebuilds) at worst moves where that search starts, and one that does not parse is
   * none. Returns the file's length now.
   */
  int writeCursor(int set, IpAddress lastReserved, long length) throws IOException {
    byte[] bytes = lastReserved.toString().getBytes(StandardCharsets.UTF_8);
    overwrite(dir.resolve(CURSOR_PREFIX + set), bytes, length);
    return bytes.length;
  }

  /**
   * Writes {@code bytes} over the regular file at {@code path} (created, mode 0600, when missing),
   * then cuts it to their length, forcing it to disk with fsync on: no new inode, no rename, and so
   * none of ext4's flush of a file renamed over another (or truncated to nothing) on close, which
   * made a temp file and a rename cost the cursor about 20 times this (a data write to the disk per
   * ADD). A symbolic link, a directory or anything else not a regular file at {@code path} is
   * removed, never written through, and the file created in its place.
   */
  void overwrite(Path path, byte[] bytes) throws IOException {
    overwrite(path, bytes, -1);
  }

  /**
   * {@link #overwrite(Path, byte[])} of a file known to be {@code length} bytes long (read under the
   * pool's lock, which every writer of these files holds; 0 when missing), or -1 when unknown: the
   * file is cut only when it was longer than {@code bytes}, which saves the three system calls
   * {@link FileChannel#truncate} makes to learn the file's size and position when it is not.
   */
  void overwrite(Path path, byte[] bytes, long length) throws IOException {
    overwrite(path, bytes, 0, forcer, length);
  }

  /**
   * {@link #overwrite(Path, byte[], long)} with the first byte written last, so a file whose first byte
   * the caller made invalid ({@link #invalidate}) stays invalid until the whole text is in place (a
   * process killed in between leaves it so). Never forced to disk: for the stamp, which need not
   * survive a power loss (the network directory's forced mtime no longer matches it, so the next
   * call rebuilds).
   */
  void overwriteHeadLast(Path path, byte[] bytes, long length) throws IOException {
    overwrite(path, bytes, Math.min(1, bytes.length), null, length);
  }

  /**
   * Writes {@code bytes} from index {@code from} on, cuts the file when it was longer (or its
   * length {@code length} is unknown, -1), then writes the bytes before {@code from}; forced with
   * {@code force} unless it is null.
   */
  private static void overwrite(Path path, byte[] bytes, int from, Forcer force, long length) throws IOException {
    try (FileChannel ch = openRegular(path)) {
      writeAt(ch, ByteBuffer.wrap(bytes, from, bytes.length - from), from);
      if (length < 0 || length > bytes.length) {
        ch.truncate(bytes.length);
      }
      if (from > 0) {
        writeAt(ch, ByteBuffer.wrap(bytes, 0, from), 0);
      }
      if (force != null) {
        force.force(path, ch, false);
      }
    }
  }

  private static FileChannel openRegular(Path path) throws IOException {
    removeIfNotRegular(path); // a FIFO's open for writing would block until a reader came
    try {
      return FileChannel.open(path, OVERWRITE, FILE_MODE);
    } catch (NoSuchFileException missingDirectory) {
      throw missingDirectory; // not ours to create here
    } catch (IOException notARegularFile) { // ELOOP (a symlink: a plain IOException), EISDIR, ...
      clear(path);
      return FileChannel.open(path, OVERWRITE, FILE_MODE);
    }
  }

  /**
   * Makes the file at {@code path} fail to parse, in place: its first byte becomes {@code mark}.
   * Nothing when it is missing; a symbolic link or anything not a regular file is removed.
   */
  void invalidate(Path path, byte mark) throws IOException {
    removeIfNotRegular(path);
    try (FileChannel ch = FileChannel.open(path, OVERWRITE_EXISTING)) {
      writeAt(ch, ByteBuffer.wrap(new byte[] {mark}), 0);
    } catch (NoSuchFileException gone) {
      // nothing to invalidate
    } catch (IOException notARegularFile) { // a symlink, a directory: no stamp of ours
      clear(path);
    }
  }

  /** Removes {@code path} when it is there and not a regular file (a FIFO, a link, a directory). */
  private static void removeIfNotRegular(Path path) throws IOException {
    try {
      if (!Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isRegularFile()) {
        clear(path);
      }
    } catch (NoSuchFileException absent) {
      // written new
    }
  }

  private static void writeAt(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long at = position;
    while (buf.hasRemaining()) {
      at += ch.write(buf, at);
    }
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

  /**
   * Writes a temp file as {@link #writeNew}, deleting first what a crash left under its name (a
   * file, or whatever else: it is unlinked, never followed). The name is tried first and deleted
   * only when taken: a temp file is normally gone (renamed or deleted by the call that wrote it),
   * and asking first would cost every write a failed lookup and the exception the JDK makes of it.
   */
  void writeTemp(Path temp, byte[] bytes) throws IOException {
    try {
      writeNew(temp, bytes);
    } catch (FileAlreadyExistsException leftover) {
      clear(temp);
      writeNew(temp, bytes);
    }
  }

  /**
   * A small file's whole content: the cursor, stamp, address files and records a call reads. Looks
   * at the name first ({@code lstat}: a FIFO would block the open, and with it the pool's lock; a
   * symbolic link could point anywhere), then opens it without following a link and reads until
   * the end.
   *
   * @throws NoSuchFileException when there is no such name
   * @throws NotSmallFile when the name is not a regular file or holds more than {@link #MAX_READ}
   *     bytes (named in its message)
   */
  static byte[] readSmall(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!a.isRegularFile()) {
      throw new NotSmallFile(file + " is not a regular file", false);
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      ByteBuffer buf = ByteBuffer.allocate(256);
      while (ch.read(buf) >= 0) {
        if (!buf.hasRemaining()) {
          if (buf.capacity() > MAX_READ) {
            throw new NotSmallFile(file + " is larger than " + MAX_READ + " bytes", true);
          }
          buf = ByteBuffer.allocate(buf.capacity() * 2).put(buf.flip());
        }
      }
      return java.util.Arrays.copyOf(buf.array(), buf.position());
    }
  }

  /** The most {@link #readSmall} reads: far above any file a call reads (a record of 64 addresses is 4 KB). */
  static final int MAX_READ = 64 * 1024;

  /** A name {@link #readSmall} does not read: not a regular file, or over its bound ({@code regular}). */
  static final class NotSmallFile extends IOException {
    private static final long serialVersionUID = 1L;
    final boolean regular;

    NotSmallFile(String message, boolean regular) {
      super(message);
      this.regular = regular;
    }
  }

  /** Whether {@code file} is a regular file, not following a link; false when missing. */
  static boolean isRegularFile(Path file) {
    return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS);
  }

  /**
   * Removes a name with one system call ({@code unlink(2)}, or {@code rmdir(2)} for an empty
   * directory, as {@link Files#deleteIfExists} does after the {@code lstat} it asks first); never
   * follows a symbolic link. Returns false when there was nothing to remove.
   *
   * @throws IOException when the name exists and cannot be removed
   */
  static boolean delete(Path path) throws IOException {
    if (path.toFile().delete()) {
      return true;
    }
    if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException("cannot delete " + path);
    }
    return false;
  }

  /**
   * Makes {@code path} free for a file of jipam's: removes what is there (a file, a link, a FIFO, an
   * empty directory; never followed), or, for a directory that is not empty, renames it aside to
   * {@code .<name>.stray-<n>} in the same folder (a name neither jipam nor host-local reads) and
   * says so on stderr, rather than failing every call of the pool on it.
   */
  static void clear(Path path) throws IOException {
    if (path.toFile().delete() || !Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Path aside = path.resolveSibling("." + path.getFileName() + ".stray-" + System.nanoTime());
    Files.move(path, aside, StandardCopyOption.ATOMIC_MOVE);
    System.err.println("jipam: " + path + " was in the way (not a file jipam can remove): moved to " + aside);
  }

  /** Whether {@code path} is a name {@link #clear} moved something aside to. */
  static boolean isMovedAside(Path path) {
    String name = path.getFileName().toString();
    return name.startsWith(".") && name.contains(".stray-");
  }

  /**
   * Removes a stray entry a rebuild finds (a temp file left by a crash, a record nobody holds);
   * one that cannot be removed (a directory that is not empty) is left where it is, said on
   * stderr: its name is not one a call writes, so it stands in no call's way.
   */
  static void removeStray(Path path) throws IOException {
    try {
      Files.deleteIfExists(path);
    } catch (java.nio.file.DirectoryNotEmptyException e) {
      System.err.println("jipam: " + path + " is a directory that is not empty: left where it is");
    }
  }

  static IpamException ioFailure(String what, Path path, Exception e) {
    return new IpamException(ErrorCode.IO_FAILURE, what + " " + path + ": " + e, e);
  }
}
