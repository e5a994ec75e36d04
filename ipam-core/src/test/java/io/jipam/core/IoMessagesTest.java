package io.jipam.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reasons jipamd states for file failures (issue 17, item 19: {@code cannot listen: /run/jipam}
 * and {@code Input length = 1} named no reason), for each exception the JDK throws with the path
 * alone.
 */
class IoMessagesTest {
  record Case(Throwable thrown, String message) {}

  @Test
  void describe_pathOnlyExceptions_pathAndReason() {
    List<Case> cases = List.of(
        new Case(new AccessDeniedException("/run/jipam"), "/run/jipam: permission denied"),
        new Case(new NoSuchFileException("/etc/jipam/x.yaml"), "/etc/jipam/x.yaml: no such file or directory"),
        new Case(new FileAlreadyExistsException("/run/jipam"), "/run/jipam: already exists"),
        new Case(new NotDirectoryException("/run/x"), "/run/x: not a directory"),
        new Case(new FileSystemException("/a", "/b", "Read-only file system"), "/a: Read-only file system (/b)"),
        new Case(new MalformedInputException(1), "not valid UTF-8 (a malformed sequence of 1 byte)"),
        new Case(new java.io.IOException("Connection refused"), "Connection refused"),
        new Case(new java.net.BindException("Address already in use"), "BindException: Address already in use"));
    for (Case c : cases) {
      assertEquals(c.message(), IoMessages.describe(c.thrown()), c.thrown().toString());
    }
  }
}
