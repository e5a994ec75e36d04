package io.jipam.server.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;

/**
 * jipamd's unix socket file: who may own the path, and how it appears there.
 *
 * <p>Ownership. A jipamd holds an exclusive lock on {@code <socket>.pid} (holding its pid, mode
 * 0600) for as long as it runs; a second jipamd on the same path finds the lock taken and refuses
 * to start, naming that pid. Whatever sits at the path must be a socket: a regular file, a
 * directory or anything else is refused, never deleted. A socket someone answers on is refused
 * too (another program, or a jipamd from before the pid file); only a stale socket, on which a
 * connect is refused, is replaced.
 *
 * <p>Exposure. The socket is bound inside a fresh private directory (mode 0700, next to the
 * path), set to mode 0600 there, and only then renamed onto the path: under any umask it is never
 * reachable with a looser mode. Directories created on the way to the path are mode 0755; an
 * existing directory holding the path that group or others may write (without the sticky bit,
 * as {@code /tmp} has) is refused, since anyone could then replace the socket.
 *
 * <p>Not thread-safe; one per listener. {@link #close} removes the socket only while it is still
 * the one bound here, then releases the pid file's lock (the file stays: deleting it would let two
 * later jipamds lock two different files).
 */
public final class UnixSocketFile implements AutoCloseable {
  /** Binds a listener at the path given; returns what to keep (closed by the caller on failure). */
  public interface Binder<T> {
    T bind(Path path) throws IOException;
  }

  private final Path socket;
  private final FileChannel pidFile;
  private final FileLock lock;
  private Object boundKey;

  private UnixSocketFile(Path socket, FileChannel pidFile, FileLock lock) {
    this.socket = socket;
    this.pidFile = pidFile;
    this.lock = lock;
  }

  /**
   * Claims the path: checks its directory (creating it mode 0755 when missing), takes the pid
   * file's lock, and checks that nothing but a stale socket is at the path.
   *
   * @throws IpamException {@code INVALID_CONFIG} for a directory others may write or a path that
   *     is not a socket; {@code IO_FAILURE} when another process owns the path or a file
   *     operation fails (the message names the path and why)
   */
  public static UnixSocketFile claim(Path path) {
    Path socket = path.toAbsolutePath().normalize();
    Path dir = socket.getParent();
    try {
      prepareDirectory(dir);
      Path pid = dir.resolve(socket.getFileName() + ".pid");
      // not through a symbolic link: a link planted there would have had its target emptied
      FileChannel channel = FileChannel.open(pid, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.READ, java.nio.file.LinkOption.NOFOLLOW_LINKS),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null; // this JVM holds it already
      }
      if (lock == null) {
        String holder = readPid(channel);
        channel.close();
        throw new IpamException(ErrorCode.IO_FAILURE, "socket " + socket + " is in use by "
            + (holder.isEmpty() ? "another jipamd" : "pid " + holder) + " (it holds " + pid
            + "); stop it first, or give another --socket");
      }
      UnixSocketFile claimed = new UnixSocketFile(socket, channel, lock);
      try {
        claimed.checkPath();
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
      } catch (IOException | RuntimeException e) {
        claimed.close();
        throw e;
      }
      return claimed;
    } catch (IOException e) {
      throw new IpamException(ErrorCode.IO_FAILURE, "cannot listen on " + socket + ": " + IoMessages.describe(e), e);
    }
  }

  /**
   * Binds through {@code binder} at a path in a private directory, sets mode 0600, then renames
   * the socket onto the claimed path (replacing a stale socket atomically).
   */
  public <T> T bind(Binder<T> binder) throws IOException {
    Path dir = socket.getParent();
    Path hidden = Files.createTempDirectory(dir, ".jipamd-",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path inside = hidden.resolve("s");
    try {
      T listener = binder.bind(inside);
      Files.setPosixFilePermissions(inside, PosixFilePermissions.fromString("rw-------"));
      Files.move(inside, socket, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      boundKey = Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS).fileKey();
      return listener;
    } finally {
      Files.deleteIfExists(inside);
      Files.deleteIfExists(hidden);
    }
  }

  /**
   * The socket's directory, made 0755 where missing; it and every directory above it may be
   * written only by their owner, or carry the sticky bit (as /tmp): whoever can write a directory
   * on the path can rename what is below it and put a socket of theirs at the path (the
   * directory's own mode alone was checked before, and a user could move a 0755 directory jipamd
   * made inside a 0777 one away and bind their own socket in its place).
   */
  private static void prepareDirectory(Path dir) throws IOException {
    checkAncestors(dir.toAbsolutePath().getParent());
    if (!Files.exists(dir)) {
      java.util.ArrayDeque<Path> missing = new java.util.ArrayDeque<>();
      for (Path d = dir; d != null && !Files.exists(d); d = d.getParent()) {
        missing.push(d);
      }
      for (Path d : missing) {
        Files.createDirectory(d);
        // created under whatever umask jipamd has: set the mode rather than trust it
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
      }
      return;
    }
    if (!Files.isDirectory(dir)) {
      throw IpamException.invalidConfig("--socket: %s is not a directory", dir);
    }
    checkNotShared(dir, "the socket there");
  }

  /** Every existing directory from {@code dir} up, {@link #checkNotShared}. */
  private static void checkAncestors(Path dir) throws IOException {
    for (Path d = dir; d != null; d = d.getParent()) {
      if (Files.isDirectory(d)) {
        checkNotShared(d, "what is below it, and so the socket");
      }
    }
  }

  private static void checkNotShared(Path dir, String replaceable) throws IOException {
    int mode = (Integer) Files.getAttribute(dir, "unix:mode");
    boolean sticky = (mode & 01000) != 0;
    if ((mode & 022) != 0 && !sticky) {
      throw IpamException.invalidConfig("--socket: directory %s is mode %o, writable by %s: anyone could replace"
          + " %s; use a directory only root may write (chmod go-w %s)", dir, mode & 07777,
          (mode & 022) == 022 ? "group and others" : (mode & 020) != 0 ? "its group" : "others", replaceable, dir);
    }
  }

  /** Nothing, or a stale socket, at the path; else why not. */
  private void checkPath() throws IOException {
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    int mode = (Integer) Files.getAttribute(socket, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    int type = mode & 0170000;
    if (type != 0140000) {
      String what = type == 0100000 ? "a regular file" : type == 0040000 ? "a directory"
          : type == 0120000 ? "a symbolic link" : type == 0010000 ? "a FIFO" : "not a socket (mode " + Integer.toOctalString(mode) + ")";
      throw IpamException.invalidConfig("--socket %s is %s, not a socket: jipamd replaces only a stale socket;"
          + " move it away or give another path", socket, what);
    }
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      probe.connect(UnixDomainSocketAddress.of(socket));
    } catch (ConnectException stale) {
      return; // nobody answers: replaced by the bind
    }
    throw new IpamException(ErrorCode.IO_FAILURE, "socket " + socket + " is in use: a process answers on it;"
        + " stop it first, or give another --socket");
  }

  private static String readPid(FileChannel channel) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(32);
    channel.read(b, 0);
    return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim();
  }

  /** The socket path, absolute. */
  public Path path() {
    return socket;
  }

  /** Removes the socket if it is still the one bound here; releases the pid file. */
  @Override
  public void close() {
    try {
      if (boundKey != null && Objects.equals(boundKey, Files.readAttributes(socket,
          java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey())) {
        Files.deleteIfExists(socket);
      }
    } catch (IOException e) {
      // gone already, or replaced: not ours to delete
    }
    try {
      channelTruncate();
      lock.release();
      pidFile.close();
    } catch (IOException e) {
      // the lock goes with the descriptor at exit anyway
    }
  }

  private void channelTruncate() throws IOException {
    if (pidFile.isOpen()) {
      pidFile.truncate(0);
    }
  }
}
