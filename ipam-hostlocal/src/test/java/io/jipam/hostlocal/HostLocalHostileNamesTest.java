package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file store under hostile names and stray entries (issue 7): attachments distinct byte for
 * byte, the {@code *} interface not taken for an old-format file, a failed ADD that leaves the
 * data dir as it was, entries that are not regular files. {@link HostLocalHostileNamesFastTest}
 * runs it again on the one-shot path.
 */
class HostLocalHostileNamesTest {
  static final Pool SMALL = HostLocalStoreFilesTest.pool("net", AllocationOrder.ROUND_ROBIN,
      "198.18.0.0/29", "fd00:7::/125");

  @TempDir Path root;
  Path dataDir;
  Path netDir;
  IpamStore store;

  IpamStore newStore() {
    return HostLocalStores.open(dataDir);
  }

  @BeforeEach
  void open() {
    dataDir = root.resolve("data");
    netDir = dataDir.resolve("net");
    store = newStore();
  }

  @AfterEach
  void close() {
    store.close();
  }

  static byte[] bytes(String ascii, int... more) {
    byte[] out = Arrays.copyOf(ascii.getBytes(java.nio.charset.StandardCharsets.US_ASCII), ascii.length() + more.length);
    for (int i = 0; i < more.length; i++) {
      out[ascii.length() + i] = (byte) more[i];
    }
    return out;
  }

  List<Allocation> add(Attachment att) {
    AllocationOutcome o = store.allocate(SMALL, AllocationRequest.of(att));
    return assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations();
  }

  /**
   * Every file and directory under the data dir with its bytes (directories: "dir"), but the
   * index and stamp: a long-lived store rewrites that cache of the files after a whole load,
   * whatever the call's outcome. The plugin's catalogue test (HostileInputTest) compares them too.
   */
  static Map<String, String> snapshot(Path dir) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> all = Files.walk(dir)) {
      all.filter(p -> !p.endsWith(".jipam/net/index") && !p.endsWith(".jipam/net/stamp")).forEach(p -> {
        try {
          out.put(dir.relativize(p).toString(), Files.isRegularFile(p) ? Arrays.toString(Files.readAllBytes(p)) : "dir");
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
    return out;
  }

  /** Defect 2: host-local files for a\xff and a\xfe are two holders, and the DEL of one frees only its own. */
  @Test
  void release_namesDifferingInBytesThatAreNotUtf8_onlyItsOwnFile() throws Exception {
    add(new Attachment("c0", "eth0"));
    Files.write(netDir.resolve("198.18.0.5"), bytes("c1\r\na", 0xff));
    Files.write(netDir.resolve("198.18.0.6"), bytes("c1\r\na", 0xfe));
    Attachment ff = new Attachment("c1", InterfaceName.decode(bytes("a", 0xff)));
    Attachment fe = new Attachment("c1", InterfaceName.decode(bytes("a", 0xfe)));
    assertNotEquals(ff, fe);
    assertEquals(List.of(IpAddress.parse("198.18.0.5")), store.find(SMALL, ff).stream().map(Allocation::address).toList());
    Attachment replacement = new Attachment("c1", "a\uFFFD");
    assertEquals(List.of(), store.find(SMALL, replacement), "U+FFFD is a name of its own");
    assertEquals(1, store.release(SMALL, ff).size());
    assertFalse(Files.exists(netDir.resolve("198.18.0.5")));
    assertArrayEquals(bytes("c1\r\na", 0xfe), Files.readAllBytes(netDir.resolve("198.18.0.6")));
    assertEquals(1, store.find(SMALL, fe).size());
  }

  /** Defect 2: the interface named {@code *} is an interface like any other, not the old-format mark. */
  @Test
  void allocate_ifnameStarThenEth0_distinctAddresses() throws Exception {
    List<Allocation> star = add(new Attachment("c1", "*"));
    List<Allocation> eth0 = add(new Attachment("c1", "eth0"));
    assertNotEquals(star.get(0).address(), eth0.get(0).address());
    assertEquals("c1\r\n*", Files.readString(netDir.resolve(star.get(0).address().toString())));
    assertEquals(2, store.release(SMALL, new Attachment("c1", "eth0")).size());
    assertEquals(star, store.find(SMALL, new Attachment("c1", "*")));
  }

  /** Defect 1: a non-ASCII name is stored byte for byte; jipam's own file names stay ASCII. */
  @Test
  void allocate_nonAsciiIfname_exactBytesAndAsciiRecordNames() throws Exception {
    Attachment att = new Attachment("c1", "ééé€");
    List<Allocation> got = add(att);
    assertArrayEquals(("c1\r\nééé€").getBytes(java.nio.charset.StandardCharsets.UTF_8),
        Files.readAllBytes(netDir.resolve(got.get(0).address().toString())));
    try (Stream<Path> records = Files.list(dataDir.resolve(".jipam/net/att"))) {
      for (Path r : records.toList()) {
        String name = r.getFileName().toString();
        assertTrue(name.chars().allMatch(c -> c > 0x20 && c < 0x7f), name);
      }
    }
    try (IpamStore fresh = newStore()) {
      assertEquals(got, fresh.find(SMALL, att));
      assertEquals(got, fresh.release(SMALL, att));
    }
  }

  /** Defect 3: twenty failed ADDs (pool exhausted) each followed by DEL leave the data dir as it was. */
  @Test
  void allocate_exhaustedThenRelease_dataDirUnchanged() throws Exception {
    for (int i = 0; i < 5; i++) {
      add(new Attachment("full" + i, "eth0")); // 198.18.0.2 .. .6: the /29 is full
    }
    Map<String, String> before = snapshot(dataDir);
    for (int i = 0; i < 20; i++) {
      Attachment late = new Attachment("late" + i, "eth0");
      AllocationOutcome o = store.allocate(SMALL, AllocationRequest.of(late));
      assertInstanceOf(AllocationOutcome.Exhausted.class, o, o::toString);
      assertEquals(List.of(), store.release(SMALL, late));
    }
    assertEquals(before, snapshot(dataDir));
  }

  /** Defect 3: an ADD asking for a taken address leaves no record behind. */
  @Test
  void allocate_requestedAddressTaken_dataDirUnchanged() throws Exception {
    List<Allocation> held = add(new Attachment("c1", "eth0"));
    Map<String, String> before = snapshot(dataDir);
    for (int i = 0; i < 3; i++) {
      AllocationOutcome o = store.allocate(SMALL, new AllocationRequest(new Attachment("c2", "eth0"),
          List.of(held.get(0).address()), io.jipam.core.store.PodRef.UNKNOWN));
      assertInstanceOf(AllocationOutcome.Taken.class, o, o::toString);
    }
    assertEquals(before, snapshot(dataDir));
  }

  /** Defect 6: a directory or a FIFO named like an address is taken, never opened, never deleted. */
  @Test
  void allocate_directoryAndFifoNamedLikeAddresses_skippedAndKept() throws Exception {
    add(new Attachment("c0", "eth0"));
    Files.createDirectories(netDir.resolve("198.18.0.3/sub"));
    Process mkfifo = new ProcessBuilder("mkfifo", netDir.resolve("198.18.0.4").toString()).start();
    assertEquals(0, mkfifo.waitFor());
    List<Allocation> got = add(new Attachment("c1", "eth0"));
    assertEquals(IpAddress.parse("198.18.0.5"), got.get(0).address());
    assertEquals(List.of(), store.retainOnly(SMALL, Set.of(new Attachment("c0", "eth0"), new Attachment("c1", "eth0"))));
    assertTrue(Files.isDirectory(netDir.resolve("198.18.0.3/sub")));
    assertTrue(Files.exists(netDir.resolve("198.18.0.4")));
    List<Allocation> all = new ArrayList<>(store.list(SMALL));
    assertEquals(6, all.size(), all::toString);
    assertEquals(2, store.release(SMALL, new Attachment("c1", "eth0")).size());
    try (IpamStore fresh = newStore()) {
      assertEquals(4, fresh.list(SMALL).size(), "c0's two addresses and the two stray entries");
    }
  }

  /** What a row plants in the data dir after a first ADD; its outcome is checked by the row. */
  interface Plant {
    void in(Path dataDir, Path outside) throws Exception;
  }

  static void dirAt(Path at) throws Exception {
    Files.deleteIfExists(at);
    Files.createDirectories(at.resolve("inside"));
  }

  static void fifo(Path at) throws Exception {
    Files.deleteIfExists(at);
    assertEquals(0, new ProcessBuilder("mkfifo", at.toString()).start().waitFor());
  }

  static Stream<org.junit.jupiter.params.provider.Arguments> strayEntries() {
    return Stream.of(
        row("a FIFO at the cursor", true, (d, o) -> fifo(d.resolve("net/last_reserved_ip.0"))),
        row("a FIFO at jipam's stamp", true, (d, o) -> fifo(d.resolve(".jipam/net/stamp"))),
        row("a FIFO at jipam's index", true, (d, o) -> fifo(d.resolve(".jipam/net/index"))),
        row("a cursor of 2 GB", true, (d, o) -> {
          try (var f = new java.io.RandomAccessFile(d.resolve("net/last_reserved_ip.0").toFile(), "rw")) {
            f.setLength(2L << 30); // sparse
          }
        }),
        row("a dangling link named like the next address", true,
            (d, o) -> Files.createSymbolicLink(d.resolve("net/198.18.0.3"), o.resolve("nowhere"))),
        // a directory that is not empty where jipam writes a file: moved aside, not a pool that
        // fails every ADD and DEL (a DEL that fails forever leaves a pod terminating)
        row("a directory at the cursor", true, (d, o) -> dirAt(d.resolve("net/last_reserved_ip.0"))),
        row("a directory at jipam's stamp", true, (d, o) -> dirAt(d.resolve(".jipam/net/stamp"))),
        row("a directory at jipam's address temp", true, (d, o) -> dirAt(d.resolve("net/.jipam-addr"))),
        row("a directory at the record of the next ADD", true, (d, o) -> dirAt(d.resolve(".jipam/net/att/c1@eth0"))),
        row("a directory at the record temp", true, (d, o) -> dirAt(d.resolve(".jipam/net/att/.tmp"))),
        row("a FIFO at the lock", false, (d, o) -> fifo(d.resolve("net/lock"))),
        row("a link at the lock", false, (d, o) -> {
          Files.delete(d.resolve("net/lock"));
          Files.createSymbolicLink(d.resolve("net/lock"), o.resolve("created-by-jipam"));
        }),
        row("a link at the network's folder", false, (d, o) -> {
          Files.move(d.resolve("net"), o.resolve("net"));
          Files.createSymbolicLink(d.resolve("net"), o.resolve("net"));
        }),
        row("a link at jipam's folder of the network", false, (d, o) -> {
          Files.move(d.resolve(".jipam/net"), o.resolve("jipam-net"));
          Files.createSymbolicLink(d.resolve(".jipam/net"), o.resolve("jipam-net"));
        }));
  }

  static org.junit.jupiter.params.provider.Arguments row(String name, boolean served, Plant plant) {
    return org.junit.jupiter.params.provider.Arguments.of(name, served, plant);
  }

  /**
   * Entries at the names the store reads or locks: a FIFO (whose open blocks, holding the pool's
   * lock), a huge file, links. A call answers within its bound: served when the entry is a hint or
   * a cache (read as none), refused with IO_FAILURE naming it when it is the lock or a folder (not
   * followed out of the data dir); nothing outside the data dir is written or read.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.MethodSource("strayEntries")
  void allocate_strayEntryAtANameTheStoreReads_answersInTimeNothingFollowedOut(String name, boolean served,
      Plant plant) throws Exception {
    Path outside = Files.createDirectories(root.resolve("outside"));
    add(new Attachment("c0", "eth0"));
    store.close();
    plant.in(dataDir, outside);
    Map<String, String> outsideBefore = snapshot(outside);
    store = newStore();
    java.util.concurrent.ExecutorService thread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "stray-entry-call");
      t.setDaemon(true); // a call stuck on a FIFO must not keep the test JVM
      return t;
    });
    try {
      java.util.concurrent.Future<AllocationOutcome> call = thread.submit(
          () -> store.allocate(SMALL, AllocationRequest.of(new Attachment("c1", "eth0"))));
      if (served) {
        AllocationOutcome o = call.get(20, java.util.concurrent.TimeUnit.SECONDS);
        List<Allocation> got = assertInstanceOf(AllocationOutcome.Allocated.class, o, o::toString).allocations();
        assertNotEquals(IpAddress.parse("198.18.0.2"), got.get(0).address(), "c0's address");
        assertEquals(2, thread.submit(() -> store.release(SMALL, new Attachment("c0", "eth0")))
            .get(20, java.util.concurrent.TimeUnit.SECONDS).size(), "c0's DEL");
      } else {
        java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
            java.util.concurrent.ExecutionException.class, () -> call.get(20, java.util.concurrent.TimeUnit.SECONDS));
        io.jipam.core.IpamException refused = assertInstanceOf(io.jipam.core.IpamException.class, e.getCause());
        assertEquals(io.jipam.core.ErrorCode.IO_FAILURE, refused.code(), refused.getMessage());
        assertTrue(refused.getMessage().contains(dataDir.toString()), refused.getMessage());
      }
    } finally {
      thread.shutdownNow();
    }
    assertEquals(outsideBefore, snapshot(outside), "written outside the data dir");
    assertFalse(Files.exists(outside.resolve("created-by-jipam"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
  }

  /**
   * An ADD whose address file cannot be created (the network's folder made immutable, as a full
   * disk or a read-only mount would refuse it) fails with code 5 and leaves nothing: before, the
   * one-shot path left the attachment's record it had written first. Needs root and a file
   * system with the immutable flag (chattr).
   */
  @Test
  void allocate_addressFileCannotBeCreated_failsLeavingNoRecord() throws Exception {
    add(new Attachment("c0", "eth0"));
    Map<String, String> before = snapshot(dataDir);
    boolean immutable = new ProcessBuilder("chattr", "+i", netDir.toString()).start().waitFor() == 0;
    org.junit.jupiter.api.Assumptions.assumeTrue(immutable, "chattr +i is not available here (not root, or no ext4)");
    try {
      io.jipam.core.IpamException e = org.junit.jupiter.api.Assertions.assertThrows(io.jipam.core.IpamException.class,
          () -> store.allocate(SMALL, AllocationRequest.of(new Attachment("c1", "eth0"))));
      assertEquals(io.jipam.core.ErrorCode.IO_FAILURE, e.code(), e.getMessage());
    } finally {
      assertEquals(0, new ProcessBuilder("chattr", "-i", netDir.toString()).start().waitFor());
    }
    assertEquals(before, snapshot(dataDir), "a failed ADD changed the data dir");
  }

  /**
   * A store left by a jipam before record names were escaped (raw {@code c1@é} record, stamp
   * without its format field): the stamp is not trusted, the store is rebuilt once, and a
   * repeated ADD returns the held address instead of handing out a second one.
   */
  @Test
  void allocate_storeOfOlderFormat_rebuiltNotMisread() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue("UTF-8".equals(System.getProperty("sun.jnu.encoding")),
        "the old record's name is not ASCII: this JVM cannot create it");
    Attachment att = new Attachment("c1", "\u00e9");
    List<Allocation> got = add(att);
    store.close();
    Path att0 = dataDir.resolve(".jipam/net/att");
    java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(att0);
    Files.move(att0.resolve("c1@%c3%a9"), att0.resolve("c1@\u00e9"));
    Files.setLastModifiedTime(att0, mtime); // only the stamp's format tells the two apart
    Path stamp = dataDir.resolve(".jipam/net/stamp");
    String text = Files.readString(stamp);
    Files.writeString(stamp, text.substring(text.indexOf('\t') + 1)); // the old stamp had no "v2"
    try (IpamStore fresh = newStore()) {
      AllocationOutcome again = fresh.allocate(SMALL, AllocationRequest.of(att));
      // the old record's name is not found, so its pods and origins are not kept: the addresses are
      assertEquals(got.stream().map(x -> x.withOrigin(null)).toList(),
          assertInstanceOf(AllocationOutcome.Allocated.class, again, again::toString).allocations());
    }
    assertTrue(Files.exists(att0.resolve("c1@%c3%a9")));
    assertFalse(Files.exists(att0.resolve("c1@\u00e9")), "the old record is removed by the rebuild");
  }
}
