package io.jipam.core;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * Messages for failures jipamd reports, with the reason: the JDK's file-system exceptions often
 * carry only the path ({@code NoSuchFileException: /x}), and a charset failure only {@code Input
 * length = 1}. Stateless.
 */
public final class IoMessages {
  private IoMessages() {}

  /** What went wrong, naming the path(s) and why: {@code /run/jipam: permission denied}. */
  public static String describe(Throwable e) {
    if (e instanceof FileSystemException fs) {
      String why = fs.getReason() != null ? fs.getReason()
          : e instanceof NoSuchFileException ? "no such file or directory"
          : e instanceof AccessDeniedException ? "permission denied"
          : e instanceof FileAlreadyExistsException ? "already exists"
          : e instanceof NotDirectoryException ? "not a directory"
          : e instanceof DirectoryNotEmptyException ? "directory not empty"
          : e.getClass().getSimpleName();
      return (fs.getFile() == null ? "" : fs.getFile() + ": ") + why
          + (fs.getOtherFile() == null ? "" : " (" + fs.getOtherFile() + ")");
    }
    if (e instanceof MalformedInputException m) {
      return "not valid UTF-8 (a malformed sequence of " + m.getInputLength() + " byte"
          + (m.getInputLength() == 1 ? "" : "s") + ")";
    }
    if (e instanceof CharacterCodingException) {
      return "not valid UTF-8";
    }
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName()
        : e.getClass().getName().startsWith("java.io.") ? message : e.getClass().getSimpleName() + ": " + message;
  }
}
