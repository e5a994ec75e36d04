package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.IpAddress;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cursor and the stamp are written in place (no temp file, no rename, no new inode): each
 * write leaves exactly its bytes in the same file, a shorter text cuts the file, and a stamp is
 * never valid between its drop and the end of its next write, wherever a process is killed.
 */
class PoolDirInPlaceTest {
  @TempDir Path root;
  PoolDir d;

  @BeforeEach
  void setUp() throws Exception {
    d = new PoolDir(root, "net", false);
    d.createDirectories();
  }

  @Test
  void writeCursor_longerThenShorter_sameFileExactBytes() throws Exception {
    Path cursor = d.dir.resolve("last_reserved_ip.0");
    d.writeCursor(0, IpAddress.parse("198.18.0.100"));
    Object inode = Files.readAttributes(cursor, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(cursor)));
    for (String next : List.of("198.18.0.99", "198.18.0.9", "198.18.0.254", "fd00::1")) {
      d.writeCursor(0, IpAddress.parse(next));
      assertEquals(next, Files.readString(cursor), "no newline, no leftover of a longer cursor");
      assertEquals(next, d.readCursor(0));
      assertEquals(inode, Files.readAttributes(cursor, java.nio.file.attribute.BasicFileAttributes.class).fileKey(),
          "written in place, not replaced");
    }
  }

  /**
   * With the file's length known (as a call reads it under the pool's lock), each write still
   * leaves exactly its bytes: cut when the file was longer, written over when not, created when
   * missing; and it returns the length it left.
   */
  @Test
  void writeCursor_lengthKnown_exactBytesWhateverWasThere() throws Exception {
    Path cursor = d.dir.resolve("last_reserved_ip.0");
    String[][] steps = { // what the file held (null: missing), the cursor written
        {null, "198.18.0.9"}, {"198.18.0.9", "198.18.0.10"}, {"198.18.0.100", "198.18.0.9"},
        {"198.18.0.9", "198.18.0.9"}, {"198.18.0.200\n", "198.18.0.201"}, {"", "fd00::1"}};
    for (String[] step : steps) {
      Files.deleteIfExists(cursor);
      if (step[0] != null) {
        Files.writeString(cursor, step[0]);
      }
      byte[] before = d.readCursorBytes(0);
      int left = d.writeCursor(0, IpAddress.parse(step[1]), before.length);
      assertEquals(step[1], Files.readString(cursor), String.join(" -> ", String.valueOf(step[0]), step[1]));
      assertEquals(Files.size(cursor), left);
    }
  }

  @Test
  void writeStamp_lengthKnown_exactBytesAndParses() throws Exception {
    Stamp longer = Stamp.observe(d, 123456789, new String[] {"198.18.0.100"});
    Stamp shorter = Stamp.observe(d, 2, new String[] {"198.18.0.9"});
    int length = Stamp.write(d, longer, -1);
    assertEquals(Files.size(d.stampFile), length);
    Stamp.drop(d);
    length = Stamp.write(d, shorter, length);
    assertEquals(shorter.text() + "\n", Files.readString(d.stampFile), "cut to the shorter stamp");
    Stamp.drop(d);
    length = Stamp.write(d, longer, length);
    assertEquals(longer.text() + "\n", Files.readString(d.stampFile));
    assertEquals(longer.text(), Stamp.read(d).text());
  }

  @Test
  void writeCursor_symlinkOrDirectoryInItsPlace_removedNotFollowed() throws Exception {
    Path cursor = d.dir.resolve("last_reserved_ip.0");
    Path outside = Files.writeString(root.resolve("outside"), "untouched");
    for (String kind : List.of("symlink", "dangling", "directory")) {
      switch (kind) {
        case "symlink" -> Files.createSymbolicLink(cursor, outside);
        case "dangling" -> Files.createSymbolicLink(cursor, root.resolve("nowhere"));
        default -> Files.createDirectory(cursor);
      }
      d.writeCursor(0, IpAddress.parse("198.18.0.7"));
      assertTrue(Files.isRegularFile(cursor, LinkOption.NOFOLLOW_LINKS), kind);
      assertEquals("198.18.0.7", Files.readString(cursor), kind);
      assertEquals("untouched", Files.readString(outside), kind);
      assertFalse(Files.exists(root.resolve("nowhere")), kind);
      Files.delete(cursor);
    }
  }

  @Test
  void drop_everyStateAHeadLastWriteLeavesWhenKilled_noStampUntilWritten() throws Exception {
    Stamp first = Stamp.observe(d, 1, new String[] {"198.18.0.3"});
    Stamp.write(d, first);
    assertNotNull(Stamp.read(d));
    Object inode = Files.readAttributes(d.stampFile, java.nio.file.attribute.BasicFileAttributes.class).fileKey();

    Stamp.drop(d);
    assertTrue(Files.exists(d.stampFile), "invalidated in place, not removed");
    assertNull(Stamp.read(d), "a dropped stamp is none");

    // a process killed during the next write: every prefix of the writes it makes, in their order
    byte[] next = (Stamp.observe(d, 2, new String[] {"198.18.0.10"}).text() + "\n").getBytes(StandardCharsets.UTF_8);
    byte[] dropped = Files.readAllBytes(d.stampFile);
    for (int cut = 1; cut <= next.length; cut++) {
      Files.write(d.stampFile, dropped);
      try (FileChannel ch = FileChannel.open(d.stampFile, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(next, 1, cut - 1), 1); // the tail, cut short
        if (cut == next.length) {
          ch.truncate(next.length);
        }
      }
      assertNull(Stamp.read(d), "killed before the first byte, " + cut + " bytes of the tail written");
    }

    Stamp second = Stamp.observe(d, 2, new String[] {"198.18.0.10"});
    Stamp.write(d, second);
    assertEquals(second.text(), Stamp.read(d).text(), "shorter or longer than before: exactly the new stamp");
    assertEquals(inode, Files.readAttributes(d.stampFile, java.nio.file.attribute.BasicFileAttributes.class).fileKey());
  }

  @Test
  void drop_noStampOrSymlink_nothingWrittenThroughLinkRemoved() throws Exception {
    Stamp.drop(d); // none yet: nothing to do
    assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS));
    Path outside = Files.writeString(root.resolve("outside"), "untouched");
    Files.createSymbolicLink(d.stampFile, outside);
    Stamp.drop(d);
    assertFalse(Files.exists(d.stampFile, LinkOption.NOFOLLOW_LINKS), "the link is removed: no stamp");
    assertEquals("untouched", Files.readString(outside));
  }
}
