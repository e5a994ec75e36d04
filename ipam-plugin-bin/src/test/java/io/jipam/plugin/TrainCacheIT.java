package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipam-train-cache replaces the launchers' jvm.env and caches only once its trainings succeeded:
 * launchers started meanwhile, and after a failed training, keep the previous ones. Runs the
 * built script (dist/bin) with its jvm.sh in a folder of its own, on a stand-in {@code java} that
 * says it is Java 25 and fails every other run (so no test here trains for real, which InstallIT
 * and the build do).
 */
class TrainCacheIT {
  private static final String PREVIOUS_ENV = "JIPAM_JAVA_BIN='/previous/java'\nJIPAM_CACHE_FLAGS='-XX:AOTCache=old'\n";

  @TempDir Path root;
  private Path lib;
  private Path fakeJava;

  @BeforeEach
  void layOut() throws Exception {
    Path bin = Files.createDirectories(root.resolve("bin"));
    lib = Files.createDirectories(root.resolve("lib"));
    Files.copy(CniExec.DIST.resolve("bin/jipam-train-cache"), bin.resolve("jipam-train-cache"));
    Files.copy(CniExec.DIST.resolve("lib/jvm.sh"), lib.resolve("jvm.sh"));
    Files.writeString(lib.resolve("jvm.env"), PREVIOUS_ENV);
    Files.writeString(lib.resolve("jipam.aot"), "previous cache");
    Files.writeString(lib.resolve("jipam-etcd.aot"), "previous etcd cache");
    fakeJava = root.resolve("java");
    Files.writeString(fakeJava, """
        #!/bin/sh
        case "$*" in *-XshowSettings*) echo '    java.specification.version = 25' >&2; exit 0 ;; esac
        echo 'training refused by the stand-in' >&2
        exit 1
        """);
    Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @Test
  void train_trainingFails_previousJvmEnvAndCachesKept() throws Exception {
    Exec.Result r = train(Map.of());
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.stderr().contains("training failed"), r.stderr());
    assertEquals(PREVIOUS_ENV, Files.readString(lib.resolve("jvm.env")), "jvm.env was replaced or removed");
    assertEquals("previous cache", Files.readString(lib.resolve("jipam.aot")));
    assertEquals("previous etcd cache", Files.readString(lib.resolve("jipam-etcd.aot")));
    assertNoTemporaryLeft();
  }

  @Test
  void train_noCache_newJvmEnvWrittenWholeCachesItNoLongerNamesRemoved() throws Exception {
    Exec.Result r = train(Map.of("JIPAM_NO_CACHE", "1"));
    assertEquals(0, r.exit(), r.toString());
    String env = Files.readString(lib.resolve("jvm.env"));
    assertTrue(env.contains("JIPAM_JAVA_BIN='" + fakeJava + "'"), env);
    assertTrue(env.contains("JIPAM_CACHE_FLAGS=''"), env);
    assertFalse(Files.exists(lib.resolve("jipam.aot")), "a cache the new jvm.env does not name stayed");
    assertFalse(Files.exists(lib.resolve("jipam-etcd.aot")), "a cache the new jvm.env does not name stayed");
    assertNoTemporaryLeft();
  }

  private Exec.Result train(Map<String, String> extra) {
    Map<String, String> env = new java.util.HashMap<>(Map.of("PATH", Exec.PATH, "JIPAM_JAVA", fakeJava.toString()));
    env.putAll(extra);
    return Exec.run(null, List.of(root.resolve("bin/jipam-train-cache").toString()), env, new byte[0],
        Duration.ofMinutes(1));
  }

  private void assertNoTemporaryLeft() throws Exception {
    try (var files = Files.list(lib)) {
      List<String> tmp = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList();
      assertEquals(List.of(), tmp);
    }
  }
}
