package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.JipamdProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exec path as a tested rule: a daemon-mode call and VERSION through the native shim start no
 * JVM, and every other call goes to the JVM plugin with stdin intact. Checked twice: with a copy of
 * the shim whose {@code jipam-jvm} is a sentinel that records being run, and with the real dist,
 * where the JVM plugin is told (through {@code JIPAM_JAVA_OPTS}) to log its class loading to a
 * file that must then not exist.
 */
class ShimExecPathIT {
  @TempDir Path dir;

  String config(Path socket, Path data) {
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"guard\",\"ipam\":{\"type\":\"jipam\",\"dataDir\":\"" + data + "\","
        + (socket == null ? "" : "\"daemon\":{\"socket\":\"" + socket + "\",\"timeoutSeconds\":60},")
        + "\"ranges\":[[{\"subnet\":\"198.18.90.0/24\"}]]}}";
  }

  @Test
  void daemonModeAndVersion_sentinelJvm_neverRun_directModeRunsItWithStdin() throws Exception {
    Path ran = dir.resolve("jvm-ran");
    Path shim = CniExec.shimWithSentinelJvm(dir, ran);
    Path data = dir.resolve("data");
    try (JipamdProcess jipamd = CniExec.fileJipamd(dir.resolve("jipam.sock"), data)) {
      for (String command : new String[] {"ADD", "CHECK", "DEL", "VERSION"}) {
        CniExec.Result r = CniExec.run(shim, CniExec.env(command, "c1", "eth0", "/run/netns/c1"), config(dir.resolve("jipam.sock"), data));
        assertEquals(0, r.exit(), () -> command + ": " + r);
        assertFalse(Files.exists(ran), command + " in daemon mode ran the JVM plugin");
      }
      String dashVersion = CniExec.sh(shim.toString(), "--version");
      assertTrue(dashVersion.contains("\"supportedVersions\""), dashVersion);
      assertFalse(Files.exists(ran), "--version ran the JVM plugin");
      String direct = config(null, data);
      CniExec.Result r = CniExec.run(shim, CniExec.env("ADD", "c2", "eth0", "/run/netns/c2"), direct);
      assertEquals(42, r.exit(), r::toString);
      assertEquals("JVM", r.stdout());
      assertArrayEquals(direct.getBytes(StandardCharsets.UTF_8), Files.readAllBytes(ran), "the JVM got other bytes");
    }
  }

  @Test
  void daemonModeCall_realDist_noJvmStarted() throws Exception {
    Path data = dir.resolve("data");
    Path log = dir.resolve("classes.txt");
    try (JipamdProcess jipamd = CniExec.fileJipamd(dir.resolve("jipam.sock"), data)) {
      Map<String, String> env = CniExec.env("ADD", "c1", "eth0", "/run/netns/c1");
      env.put("JIPAM_JAVA_OPTS", "-Xlog:class+load:file=" + log);
      CniExec.Result add = CniExec.run(CniExec.JIPAM, env, config(dir.resolve("jipam.sock"), data));
      assertEquals(0, add.exit(), add::toString);
      assertTrue(add.stdout().contains("198.18.90.2/24"), add::toString);
      assertFalse(Files.exists(log), "a daemon-mode ADD started the JVM plugin");
      // the same option does reach the JVM plugin in direct mode: the check above can fail
      CniExec.Result direct = CniExec.run(CniExec.JIPAM, env, config(null, dir.resolve("direct")));
      assertEquals(0, direct.exit(), direct::toString);
      assertTrue(Files.exists(log), "direct mode runs the JVM plugin through the shim");
    }
  }
}
