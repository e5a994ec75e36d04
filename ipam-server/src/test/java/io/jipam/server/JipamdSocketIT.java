package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.server.cni.UnixSocketFile;
import io.jipam.testkit.JipamdProcess;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd's unix socket against a second jipamd, careless operators and other local users (issue
 * 17, items 1, 2 and 6), with real jipamd processes: a live socket is never taken over, only a
 * stale one replaced; what is not a socket is never deleted; the socket is bound in a private
 * directory and never reachable with a looser mode, under {@code umask 000} too.
 */
@Timeout(180)
class JipamdSocketIT {
  @TempDir Path dir;

  static Object inode(Path p) throws Exception {
    return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
  }

  static String mode(Path p) throws java.io.IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void start_secondJipamdOnALiveSocket_exit1InUseByPidFirstKeepsServing() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    try (JipamdProcess first = ServerJipamd.start(dir, "--store", "file", "--data-dir", dir.resolve("data").toString(),
        "--socket", socket.toString())) {
      Object before = inode(socket);
      JipamdProcess.Finished second = ServerJipamd.runToExit(dir, "--store", "memory", "--socket", socket.toString());
      assertEquals(1, second.exit(), second.output());
      assertTrue(second.output().contains("in use by pid " + first.pid()), second.output());
      assertFalse(second.output().contains("ready"), second.output());
      assertEquals(before, inode(socket), "the socket is the first jipamd's still");
      try (RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
        remote.allocate(IpamServerTest.pool("live", "198.18.9.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
      }
      assertTrue(Files.exists(dir.resolve("data/live/198.18.9.2")), "served by the first (file store)");
      assertEquals(0, first.stop(), first.output());
    }
    assertFalse(Files.exists(socket), "removed at the first's stop");
  }

  /** Something that is not jipamd answers on the socket (no pid file lock): refused too. */
  @Test
  void start_anotherProgramAnswersOnTheSocket_exit1InUse() throws Exception {
    Path socket = dir.resolve("other.sock");
    try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      other.bind(UnixDomainSocketAddress.of(socket));
      JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "memory", "--socket", socket.toString());
      assertEquals(1, run.exit(), run.output());
      assertTrue(run.output().contains("socket " + socket + " is in use: a process answers on it"), run.output());
      try (SocketChannel stillThere = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        assertTrue(stillThere.isConnected());
      }
    }
  }

  @Test
  void start_staleSocket_replacedAndServed() throws Exception {
    Path socket = dir.resolve("stale.sock");
    try (ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      gone.bind(UnixDomainSocketAddress.of(socket)); // closing leaves the file: a stale socket
    }
    assertTrue(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
    try (JipamdProcess j = ServerJipamd.start(dir, "--store", "memory", "--socket", socket.toString());
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      remote.allocate(IpamServerTest.pool("stale", "198.18.9.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
    }
  }

  @Test
  void start_socketPathIsARegularFileOrDirectory_refusedNamingItNothingDeleted() throws Exception {
    Path file = dir.resolve("precious.txt");
    Files.writeString(file, "keep me");
    Path emptyDir = dir.resolve("emptydir");
    Files.createDirectory(emptyDir);
    for (Path p : List.of(file, emptyDir)) {
      JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "memory", "--socket", p.toString());
      assertEquals(2, run.exit(), run.output());
      assertTrue(run.output().contains("--socket " + p + " is " + (p == file ? "a regular file" : "a directory")
          + ", not a socket"), run.output());
    }
    assertEquals("keep me", Files.readString(file));
    assertTrue(Files.isDirectory(emptyDir));
  }

  @Test
  void start_socketDirectoryWritableByOthers_refused() throws Exception {
    Path open = dir.resolve("open");
    Files.createDirectory(open);
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "memory", "--socket",
        open.resolve("jipam.sock").toString());
    assertEquals(2, run.exit(), run.output());
    assertTrue(run.output().contains("directory " + open + " is mode 777, writable by group and others"), run.output());
    assertFalse(Files.exists(open.resolve("jipam.sock")));
    // above the socket's directory too, which jipamd would have made 0755: anyone could rename it
    JipamdProcess.Finished below = ServerJipamd.runToExit(dir, "--store", "memory", "--socket",
        open.resolve("run/jipam.sock").toString());
    assertEquals(2, below.exit(), below.output());
    assertTrue(below.output().contains("directory " + open + " is mode 777, writable by group and others: anyone"
        + " could replace what is below it"), below.output());
    assertFalse(Files.exists(open.resolve("run")));
  }

  /**
   * Under {@code umask 000}: the directories jipamd creates are 0755, the socket 0600, and a
   * {@code nobody} process that can reach the directory cannot connect.
   */
  @Test
  void start_underUmask000_dirs0755Socket0600NobodyCannotConnect() throws Exception {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // nobody may reach run/
    Path socket = dir.resolve("run/a/b/jipam.sock");
    try (JipamdProcess j = ServerJipamd.startUnderUmask(dir, "000", "--store", "memory", "--socket",
        socket.toString())) {
      assertEquals("rwxr-xr-x", mode(dir.resolve("run")));
      assertEquals("rwxr-xr-x", mode(dir.resolve("run/a")));
      assertEquals("rwxr-xr-x", mode(dir.resolve("run/a/b")));
      assertEquals("rw-------", mode(socket));
      assertEquals("rw-------", mode(dir.resolve("run/a/b/jipam.sock.pid")));
      try (var files = Files.list(dir.resolve("run/a/b"))) {
        assertEquals(List.of("jipam.sock", "jipam.sock.pid"), files.map(p -> p.getFileName().toString()).sorted()
            .toList(), "the private bind directory is gone");
      }
      if (Files.isExecutable(Path.of("/usr/bin/setpriv")) && Files.isExecutable(Path.of("/usr/bin/python3"))) {
        Process nobody = new ProcessBuilder("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "/usr/bin/python3", "-c", "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1])\n"
                + " print('connected')\nexcept OSError as e:\n print(e.strerror)", socket.toString())
            .redirectErrorStream(true).start();
        assertTrue(nobody.waitFor(30, TimeUnit.SECONDS));
        String said = new String(nobody.getInputStream().readAllBytes()).trim();
        assertEquals("Permission denied", said, "nobody's connect");
      }
    }
  }

  /**
   * The race of issue 17 (mode 0777 for ~17 ms before the chmod) checked at bind time: the bind
   * happens inside a private 0700 directory, the path itself does not exist yet, and the socket
   * reaches the path already 0600.
   */
  @Test
  void bind_atBindTime_insidePrivateDirectoryPathNotYetThere() throws Exception {
    Path socket = dir.resolve("hook/jipam.sock");
    List<String> seen = new ArrayList<>();
    try (UnixSocketFile claimed = UnixSocketFile.claim(socket);
         ServerSocketChannel server = claimed.bind(path -> {
           seen.add(mode(path.getParent()));
           seen.add(String.valueOf(path.getParent().equals(socket.getParent())));
           seen.add(String.valueOf(Files.exists(socket, LinkOption.NOFOLLOW_LINKS)));
           ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
           s.bind(UnixDomainSocketAddress.of(path));
          return s;
         })) {
      assertEquals(List.of("rwx------", "false", "false"), seen, "private dir mode, bound at the path, path exists");
      assertEquals("rw-------", mode(socket));
      try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        assertTrue(client.isConnected());
      }
    }
    assertFalse(Files.exists(socket), "removed at close");
  }

  @Test
  void claim_twiceInOneProcess_secondRefused() {
    Path socket = dir.resolve("twice.sock");
    try (UnixSocketFile first = UnixSocketFile.claim(socket)) {
      IpamException e = assertThrows(IpamException.class, () -> UnixSocketFile.claim(socket));
      assertTrue(e.getMessage().contains("is in use by pid " + ProcessHandle.current().pid()), e.getMessage());
      assertNotEquals(null, first.path());
    }
  }
}
