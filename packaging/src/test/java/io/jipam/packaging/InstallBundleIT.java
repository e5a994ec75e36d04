package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.testkit.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jipam-install} from the bundle: a fresh install, an upgrade while plugin calls run, the
 * removal of old versions, a cache that does not fit, and the conflist it writes.
 */
class InstallBundleIT {
  @TempDir static Path shared;
  @TempDir Path tmp;
  static Path versionA;
  static Path emptyPath;

  @BeforeAll
  static void unpack() throws Exception {
    Bundle.requireBuilt();
    Path unpacked = Bundle.unpack(Files.createDirectory(shared.resolve("unpacked")));
    versionA = Bundle.current(unpacked);
    emptyPath = Files.createDirectory(shared.resolve("empty-path"));
  }

  /** A copy of version A under another version name, as the next release would be. */
  private Path otherVersion(String suffix) {
    Path copy = tmp.resolve("src-" + suffix).resolve(versionA.getFileName() + "-" + suffix);
    Exec.sh("mkdir", "-p", copy.getParent().toString());
    Exec.sh("cp", "-a", versionA.toString(), copy.toString());
    return copy;
  }

  private static Exec.Result install(Path version, String... args) {
    List<String> command = new ArrayList<>(List.of(version.resolve("bin/jipam-install").toString()));
    command.addAll(List.of(args));
    return Exec.run(command, Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "", Duration.ofMinutes(2));
  }

  private static List<String> leftovers(Path... dirs) throws Exception {
    List<String> found = new ArrayList<>();
    for (Path dir : dirs) {
      try (Stream<Path> files = Files.list(dir)) {
        files.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp")).forEach(found::add);
      }
    }
    return found;
  }

  private static String currentName(Path bin) throws Exception {
    return Files.readSymbolicLink(bin.resolve("jipam.d/current")).toString();
  }

  @Test
  void install_emptyBinDir_launcherCurrentVersionAndConflist() throws Exception {
    Path bin = tmp.resolve("opt/cni/bin");
    Path conf = tmp.resolve("etc/cni/net.d");
    Path conflist = tmp.resolve("10-jipam.conflist");
    Files.writeString(conflist, Bundle.conf("installed", tmp.resolve("data"), "198.18.41.0/24"));

    Exec.Result first = install(versionA, "--conflist", conflist.toString(), "--conf-dir", conf.toString(),
        bin.toString()).ok();
    assertTrue(first.stdout().contains("installed " + bin + "/jipam: " + versionA.getFileName()), first.toString());
    assertArrayEquals(Files.readAllBytes(versionA.resolve("bin/jipam")), Files.readAllBytes(bin.resolve("jipam")),
        "the CNI bin dir's jipam is the version's shim");
    assertEquals(Path.of("jipam.d/current/bin/jipam"), Files.readSymbolicLink(bin.resolve("jipam")),
        "one rename (current's) switches the shim and the JVM plugin together");
    assertTrue(Files.isExecutable(bin.resolve("jipam")));
    assertEquals(versionA.getFileName().toString(), currentName(bin));
    assertEquals(Files.readString(conflist), Files.readString(conf.resolve("10-jipam.conflist")));
    assertEquals(List.of(), leftovers(bin, bin.resolve("jipam.d"), conf));

    Exec.Result add = Bundle.call(bin.resolve("jipam"), Bundle.env("ADD", "c1", emptyPath), Files.readString(conflist));
    assertEquals(0, add.exit(), add.toString());
    assertTrue(add.stdout().contains("198.18.41.2/24"), add.stdout());

    Exec.Result again = install(versionA, bin.toString()).ok();
    assertFalse(again.stdout().contains("(was"), again.toString());
    assertFalse(Files.exists(bin.resolve("jipam.d/previous")), "a reinstall of the current version is no upgrade");
  }

  /**
   * What each rename publishes is on disk before the rename (fsync of the file, or of every file of
   * the version folder), and the folder it lands in after it, replayed from an strace of a fresh
   * install: a node that loses power mid-install boots with one version or the other, never with an
   * empty shim or conflist in place.
   */
  @Test
  void install_eachRenamePublishesWhatIsOnDisk_folderSyncedAfter() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/strace")), "strace is not installed");
    Path bin = tmp.resolve("opt/cni/bin");
    Path conf = tmp.resolve("etc/cni/net.d");
    Path conflist = tmp.resolve("10-jipam.conflist");
    Files.writeString(conflist, Bundle.conf("durable", tmp.resolve("data"), "198.18.41.0/24"));
    Path trace = tmp.resolve("install.strace");
    Exec.run(List.of("/usr/bin/strace", "-f", "-qq", "-o", trace.toString(), "-e",
        "trace=open,openat,fsync,fdatasync,sync,syncfs,rename,renameat,renameat2",
        versionA.resolve("bin/jipam-install").toString(), "--conflist", conflist.toString(), "--conf-dir",
        conf.toString(), bin.toString()), Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "", Duration.ofMinutes(2)).ok();

    Pattern open = Pattern.compile("^(\\d+) +open(?:at)?\\((?:AT_FDCWD, )?\"([^\"]+)\".*\\) = (\\d+)$");
    Pattern sync = Pattern.compile("^(\\d+) +f(?:data)?sync\\((\\d+)\\) += 0$");
    Pattern rename = Pattern.compile(
        "^(\\d+) +rename(?:at2?)?\\((?:AT_FDCWD, )?\"([^\"]+)\", (?:AT_FDCWD, )?\"([^\"]+)\".*\\) = 0$");
    Map<String, String> fds = new HashMap<>();
    Set<String> onDisk = new HashSet<>();
    Set<String> foldersToSync = new TreeSet<>();
    List<String> published = new ArrayList<>();
    for (String line : Files.readAllLines(trace)) {
      Matcher m;
      if ((m = open.matcher(line)).matches()) {
        fds.put(m.group(1) + " " + m.group(3), m.group(2));
      } else if ((m = sync.matcher(line)).matches()) {
        String path = fds.get(m.group(1) + " " + m.group(2));
        onDisk.add(path);
        foldersToSync.remove(path);
      } else if (line.matches("^\\d+ +(sync|syncfs)\\(.*\\) += 0$")) {
        onDisk.add("everything");
        foldersToSync.clear();
      } else if ((m = rename.matcher(line)).matches()) {
        String from = m.group(2);
        String to = m.group(3);
        if (!to.startsWith(bin.toString()) && !to.startsWith(conf.toString())) {
          continue;
        }
        published.add(to);
        String name = from.substring(from.lastIndexOf('/') + 1);
        boolean symlink = name.startsWith(".current.tmp.") || name.startsWith(".previous.tmp.")
            || name.startsWith(".jipam.tmp.");
        if (!symlink && !onDisk.contains("everything")) {
          List<String> mustBeOnDisk = to.endsWith("/" + versionA.getFileName())
              ? List.of(from + "/bin/jipam", from + "/bin/jipam-jvm", from + "/lib/ipam-plugin-bin.jar", from + "/lib/jipam.aot")
              : List.of(from);
          for (String file : mustBeOnDisk) {
            assertTrue(onDisk.contains(file), file + " was not on disk when renamed to " + to);
          }
        }
        foldersToSync.add(to.substring(0, to.lastIndexOf('/')));
      }
    }
    assertTrue(published.containsAll(List.of(bin.resolve("jipam.d").resolve(versionA.getFileName()).toString(),
        bin.resolve("jipam.d/current").toString(), bin.resolve("jipam").toString(),
        conf.resolve("10-jipam.conflist").toString())), "renames seen: " + published);
    assertEquals(Set.of(), foldersToSync, "folders not synced after a rename into them");
  }

  /**
   * Over a build tree's install (a plain shim and its {@code jipam-jvm} launcher in the bin dir),
   * under a caller's umask 000: the shim becomes the symlink into {@code jipam.d/current}, the
   * stale launcher (which the shim found first) is gone, calls run the bundle's JVM plugin, and
   * nothing the runtime runs as root is writable by group or others.
   */
  @Test
  void install_overABuildTreesLauncherUnderUmask000_launcherGoneNothingWritableByOthers() throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    Files.copy(versionA.resolve("bin/jipam"), bin.resolve("jipam"));
    Path stale = bin.resolve("jipam-jvm");
    Files.writeString(stale, "#!/bin/sh\necho stale launcher >&2; exit 3\n");
    Files.setPosixFilePermissions(stale, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Exec.run(List.of("/bin/sh", "-c", "umask 000; exec \"$0\" \"$1\"", versionA.resolve("bin/jipam-install").toString(),
        bin.toString()), Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "", Duration.ofMinutes(2)).ok();
    assertFalse(Files.exists(stale, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the build tree's launcher is left");
    assertEquals(Path.of("jipam.d/current/bin/jipam"), Files.readSymbolicLink(bin.resolve("jipam")));
    String conf = Bundle.conf("over", tmp.resolve("data"), "198.18.43.0/24");
    Exec.Result add = Bundle.call(bin.resolve("jipam"), Bundle.env("ADD", "c1", emptyPath), conf);
    assertEquals(0, add.exit(), add.toString());
    try (Stream<Path> all = Files.walk(bin.resolve("jipam.d"))) {
      for (Path p : all.filter(p -> !Files.isSymbolicLink(p)).toList()) {
        String mode = java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        assertTrue(mode.charAt(4) == '-' && mode.charAt(7) == '-', p + " is " + mode);
      }
    }
    assertEquals(List.of(), leftovers(bin, bin.resolve("jipam.d")));
  }

  @Test
  void upgrade_whileCallsRun_everyCallSucceeds() throws Exception {
    Path bin = tmp.resolve("bin");
    Path versionB = otherVersion("b");
    install(versionA, bin.toString()).ok();
    Path data = tmp.resolve("data");
    String conf = Bundle.conf("upgrade", data, "198.18.42.0/24");

    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger calls = new AtomicInteger();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    List<Thread> callers = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      int caller = t;
      Thread thread = new Thread(() -> {
        for (int i = 0; !stop.get(); i++) {
          String id = "c" + caller + "-" + i;
          for (String command : List.of("ADD", "DEL")) {
            Exec.Result r = Bundle.call(bin.resolve("jipam"), Bundle.env(command, id, emptyPath), conf);
            calls.incrementAndGet();
            if (r.exit() != 0 || !r.stderr().isEmpty()) {
              failures.add(command + " " + id + ": " + r);
            }
          }
        }
      });
      thread.start();
      callers.add(thread);
    }
    List<String> swaps = new ArrayList<>();
    for (Path version : List.of(versionB, versionA, versionB, versionA, versionB, versionA)) {
      Thread.sleep(250);
      swaps.add(install(version, bin.toString()).ok().stdout().strip());
    }
    Thread.sleep(250);
    stop.set(true);
    for (Thread caller : callers) {
      caller.join(120_000);
    }
    assertEquals(List.of(), List.copyOf(failures), "calls failed during the upgrades " + swaps);
    assertTrue(calls.get() >= 8, "only " + calls.get() + " calls ran during six upgrades");
    assertEquals(versionA.getFileName().toString(), currentName(bin));
    assertEquals(versionB.getFileName().toString(), Files.readSymbolicLink(bin.resolve("jipam.d/previous")).toString());
    assertEquals(List.of(), Bundle.addressFiles(data, "upgrade"), "every ADD was followed by its DEL");
    assertEquals(List.of(), leftovers(bin, bin.resolve("jipam.d")));
  }

  @Test
  void upgrade_thirdVersion_removesAllButCurrentAndPrevious() throws Exception {
    Path bin = tmp.resolve("bin");
    Path versionB = otherVersion("b");
    Path versionC = otherVersion("c");
    install(versionA, bin.toString()).ok();
    install(versionB, bin.toString()).ok();
    Exec.Result third = install(versionC, bin.toString()).ok();
    assertTrue(third.stdout().contains("(was " + versionB.getFileName() + ")"), third.toString());
    try (Stream<Path> entries = Files.list(bin.resolve("jipam.d"))) {
      assertEquals(Stream.of(".lock", "current", versionB.getFileName().toString(), versionC.getFileName().toString(),
          "previous").sorted().toList(), entries.map(p -> p.getFileName().toString()).sorted().toList());
    }
    // going back is an install of the previous version: no copy, one rename
    Exec.Result back = install(bin.resolve("jipam.d").resolve(versionB.getFileName()), bin.toString()).ok();
    assertTrue(back.stdout().contains("(was " + versionC.getFileName() + ")"), back.toString());
    assertEquals(versionB.getFileName().toString(), currentName(bin));
  }

  @Test
  void install_cacheDoesNotFit_trainsANewOneForTheCopy() throws Exception {
    Path bin = tmp.resolve("bin");
    Path versionD = otherVersion("d");
    Files.write(versionD.resolve("lib/jipam.aot"), new byte[4096]);
    Files.write(versionD.resolve("lib/jipam-etcd.aot"), new byte[4096]);
    Exec.Result installed = install(versionD, bin.toString()).ok();
    assertTrue(installed.stdout().contains("trained a new start-up cache"), installed.toString());
    assertTrue(installed.stdout().contains("trained a new etcd start-up cache"), installed.toString());
    Map<String, String> env = new HashMap<>(Bundle.env("VERSION", null, emptyPath));
    env.put("JIPAM_JAVA_OPTS", "-XX:AOTMode=on");
    Exec.Result version = Bundle.call(bin.resolve("jipam"), env, "");
    assertEquals(0, version.exit(), "the new cache is not used: " + version);
    // the launcher told a call is on etcd starts from the new etcd cache (AOTMode=on refuses to start without it)
    Path launcher = Bundle.current(bin).resolve("bin/jipam-jvm");
    env.put("JIPAM_STORE_HINT", "etcd");
    Exec.Result etcdVersion = Bundle.call(launcher, env, "");
    assertEquals(0, etcdVersion.exit(), "the new etcd cache is not used: " + etcdVersion);
  }

  /**
   * A bundle unpacked by another user, its files group- and world-writable: installed as root, the
   * version's files are root's and writable by root only (the runtime runs them as root; {@code cp
   * -a} kept the unpacking user's ownership). And an install stopped while it copies leaves no
   * partial copy behind (it stayed until an install 10 minutes later swept it).
   */
  @Test
  void install_bundleOfAnotherUserAndStoppedMidCopy_rootOwnedNothingLeft() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Exec.isRoot(), "needs root: it installs as root what another user unpacked");
    Path versionE = otherVersion("e");
    Exec.sh("chown", "-R", "1000:1000", versionE.toString());
    Exec.sh("chmod", "-R", "go+w", versionE.toString());
    Path bin = tmp.resolve("bin");
    install(versionE, bin.toString()).ok();
    Path installed = bin.resolve("jipam.d").resolve(versionE.getFileName());
    String foreign = Exec.sh("find", installed.toString(), "(", "!", "-uid", "0", "-o", "-perm", "/022", ")",
        "!", "-type", "l");
    assertEquals("", foreign, "files not root's, or writable by others");

    Path versionF = otherVersion("f");
    Path bin2 = tmp.resolve("bin2");
    Process p = new ProcessBuilder(versionF.resolve("bin/jipam-install").toString(), bin2.toString())
        .redirectErrorStream(true).redirectOutput(tmp.resolve("stopped.out").toFile()).start();
    Path store = bin2.resolve("jipam.d");
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!(Files.isDirectory(store) && !leftovers(store).isEmpty())) {
      assertTrue(p.isAlive() && System.nanoTime() < deadline, "the install never started its copy");
      Thread.sleep(5);
    }
    p.destroy(); // SIGTERM, during the copy or its checks
    assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
    assertEquals(List.of(), leftovers(store), "a stopped install's copy");
  }

  /**
   * A bin dir whose path has white space (named so, or reached through a symlink) is refused before
   * anything is written into it: the launchers would pass it among the JVM's flags, split.
   */
  @Test
  void install_binDirWithWhiteSpace_refusedNothingWritten() throws Exception {
    Path spaced = tmp.resolve("opt/cni bin");
    Exec.Result named = install(versionA, spaced.toString());
    assertEquals(1, named.exit(), named.toString());
    assertEquals("jipam-install: the CNI bin dir \"" + spaced + "\" has white space in its path, which jipam's"
        + " launchers do not support", named.stderr().strip());
    assertFalse(Files.exists(spaced), "created " + spaced);

    Path target = Files.createDirectories(tmp.resolve("a b/bin"));
    Path link = Files.createSymbolicLink(tmp.resolve("bin-link"), target);
    Exec.Result linked = install(versionA, link.toString());
    assertEquals(1, linked.exit(), linked.toString());
    assertTrue(linked.stderr().contains("the CNI bin dir \"" + target + "\" has white space"), linked.toString());
    try (Stream<Path> files = Files.list(target)) {
      assertEquals(List.of(), files.toList());
    }
  }

  @Test
  void install_missingConflist_failsBeforeWritingAnything() throws Exception {
    Path bin = tmp.resolve("bin");
    Exec.Result failed = install(versionA, "--conflist", tmp.resolve("nope.conflist").toString(), bin.toString());
    assertEquals(1, failed.exit(), failed.toString());
    assertTrue(failed.stderr().contains("conflist " + tmp.resolve("nope.conflist") + " is missing"), failed.toString());
    assertFalse(Files.exists(bin), "nothing may be written when the arguments are wrong");
  }
}
