package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The documented install step: jipam-install puts the shim and the JVM plugin's launcher beside it
 * into a CNI bin dir, and the shim execs the launcher for a call in direct mode.
 *
 * <p>It installs from a copy of dist/: from a build tree, jipam-install rewrites lib/jvm.env where
 * it runs (here without a cache, {@code JIPAM_NO_CACHE=1}), and the other IT classes, running
 * meanwhile, start the plugin and jipamd from dist/.
 */
class InstallIT {
  @TempDir Path binDir;
  @TempDir Path distCopy;

  @Test
  void install_intoBinDir_launcherAnswersVersionAndAdds() throws Exception {
    copy(CniExec.DIST.resolve("bin"), distCopy.resolve("bin"));
    copy(CniExec.DIST.resolve("lib"), distCopy.resolve("lib"));
    // without the cache training (JIPAM_NO_CACHE=1): from a build tree jipam-install runs
    // jipam-train-cache first, which the package step already ran on dist/ (TrainCacheIT tests it),
    // and training again here cost about 30 s of the suite's CPU
    Map<String, String> env = new HashMap<>(System.getenv());
    env.put("JIPAM_NO_CACHE", "1");
    String out = io.jipam.testkit.Exec.run(List.of(distCopy.resolve("bin/jipam-install").toString(),
        binDir.toString()), env, "", java.time.Duration.ofMinutes(2)).ok().stdout();
    Path installed = binDir.resolve("jipam");
    assertTrue(Files.isExecutable(installed), out);
    CniExec.Result version = CniExec.run(installed, CniExec.env("VERSION", null, null, null), "");
    assertEquals(0, version.exit(), version.toString());
    assertTrue(version.stdout().contains("\"supportedVersions\""), version.stdout());
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"inst\",\"ipam\":{\"type\":\"jipam\",\"dataDir\":\""
        + binDir.resolve("data") + "\",\"subnet\":\"198.18.30.0/24\"}}";
    CniExec.Result add = CniExec.run(installed, CniExec.env("ADD", "c1", "eth0", "/var/run/netns/c1"), conf);
    assertEquals(0, add.exit(), add.toString());
    assertTrue(add.stdout().contains("198.18.30.2/24"), add.stdout());
    assertTrue(add.stderr().isEmpty(), "the JVM printed: " + add.stderr());
    assertTrue(Files.readString(binDir.resolve("jipam-jvm")).contains("LC_ALL=C.UTF-8 exec "),
        "the JVM plugin's launcher beside the shim fixes the locale");
    // no locale in the environment (CniExec passes only PATH and the CNI variables): a non-ASCII
    // data dir and interface name work all the same (issue 7, defect 1)
    Path nonAscii = binDir.resolve("donn\u00e9es");
    String conf2 = conf.replace(binDir.resolve("data").toString(), nonAscii.toString());
    CniExec.Result add2 = CniExec.run(installed, CniExec.env("ADD", "c2", "\u00e9th0", "/var/run/netns/c2"), conf2);
    assertEquals(0, add2.exit(), add2.toString());
    assertEquals("c2\r\n\u00e9th0", Files.readString(nonAscii.resolve("inst/198.18.30.2")));
  }

  /** Asked for help, jipam-install answers its usage and exits 0; an unknown option is a usage error (2). */
  @Test
  void jipamInstall_helpAndUnknownOption_usageExitZeroAndTwo() {
    String script = CniExec.DIST.resolve("bin/jipam-install").toString();
    record Row(String arg, int exit) {}
    for (Row row : List.of(new Row("--help", 0), new Row("-h", 0), new Row("--bogus", 2))) {
      io.jipam.testkit.Exec.Result r = io.jipam.testkit.Exec.run(List.of(script, row.arg), null, "",
          java.time.Duration.ofSeconds(30));
      assertEquals(row.exit, r.exit(), row + ": " + r);
      assertTrue((row.exit == 0 ? r.stdout() : r.stderr()).contains("usage: jipam-install [--conflist FILE]"), r::toString);
    }
  }

  /** A copy of a dist/ folder, modes kept, without the benchmark harness (lib/bench). */
  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : (Iterable<Path>) all.filter(p -> !from.relativize(p).startsWith("bench"))::iterator) {
        Files.copy(p, to.resolve(from.relativize(p).toString()), StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
  }
}
