package io.jipam.ctl;

import io.jipam.core.store.Printable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The files jipamctl reads whole ({@code --conf}, {@code --etcd-config}, {@code gc --valid}): a
 * regular file (a FIFO or a device would block or never end) of at most a bound, checked before
 * reading and again while reading (a file that grows meanwhile), so that no file can make the JVM
 * run out of memory. Stateless.
 */
final class FileInput {
  private FileInput() {}

  /** Why a file was not read: a short reason without the file's name, which the caller names. */
  static final class Refused extends IOException {
    Refused(String reason, Throwable cause) {
      super(reason, cause);
    }
  }

  /**
   * The bytes of {@code file}, a regular file (after symbolic links) of at most {@code max} bytes.
   *
   * @throws Refused with a one-line reason: no such file, permission denied, not a regular file,
   *     larger than {@code max} bytes, or the I/O failure's
   */
  static byte[] read(Path file, int max) throws Refused {
    try {
      if (!Files.exists(file)) {
        throw new NoSuchFileException(file.toString());
      }
      if (!Files.isRegularFile(file)) {
        throw new Refused(Files.isDirectory(file) ? "is a directory, not a file" : "is not a regular file", null);
      }
      if (Files.size(file) > max) {
        throw tooLarge(max);
      }
      try (InputStream in = Files.newInputStream(file)) {
        byte[] bytes = in.readNBytes(max + 1);
        if (bytes.length > max) {
          throw tooLarge(max);
        }
        return bytes;
      }
    } catch (Refused e) {
      throw e;
    } catch (IOException | SecurityException e) {
      throw new Refused(reason(e), e);
    }
  }

  private static Refused tooLarge(int max) {
    return new Refused("is larger than " + max + " bytes, jipamctl's limit", null);
  }

  /** An I/O failure's reason, without the file name the JDK puts in most messages. */
  static String reason(Exception e) {
    if (e instanceof NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return Printable.line(f.getReason());
    }
    return Printable.line(String.valueOf(e.getMessage()));
  }
}
