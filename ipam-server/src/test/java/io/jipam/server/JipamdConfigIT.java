package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** jipamd's YAML config file, environment and flags: precedence, and bad settings failing with exit 2. */
@Timeout(60)
class JipamdConfigIT {
  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  Run jipamd(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Jipamd.run(args, env, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(exit, out.toString(), err.toString());
  }

  Path file(String yaml) throws Exception {
    Path f = dir.resolve("jipamd.yaml");
    Files.writeString(f, yaml);
    return f;
  }

  @Test
  void checkConfig_goodFile_exitZeroNamingWhatItWouldServe() throws Exception {
    Path f = file("socket: " + dir.resolve("j.sock") + "\nstore: memory\nworkers: 4\n");
    Run r = jipamd(Map.of(), "--check-config", f.toString());
    assertEquals(0, r.exit, r.err);
    assertTrue(r.out.contains("store memory") && r.out.contains("j.sock"), r.out);
  }

  @Test
  void precedence_flagOverEnvironmentOverFile() throws Exception {
    Path f = file("store: memory\n");
    Run fromEnv = jipamd(Map.of("JIPAMD_STORE", "remote"), "--check-config", f.toString());
    assertEquals(2, fromEnv.exit, fromEnv.out);
    assertTrue(fromEnv.err.contains("--store remote needs --remote"), fromEnv.err);
    Run fromFlag = jipamd(Map.of("JIPAMD_STORE", "remote"), "--check-config", f.toString(), "--store", "file");
    assertEquals(0, fromFlag.exit, fromFlag.err);
    assertTrue(fromFlag.out.contains("store file"), fromFlag.out);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "colour: blue                 | unknown key \"colour\"",
      "workers: many                | '--workers': 'many' is not an int (from config",
      "store: floppy                | store \"floppy\" is not one of",
      "listen: 127.0.0.1:7400       | --insecure",
      "socket: [a, b]               | must be a single value",
      "'store: [unclosed'           | not valid YAML",
      "- just\\n- a list            | must be a map of settings",
      "store: etcd                  | --store etcd needs --etcd-config",
      "metrics: localhost:x         | --metrics \"localhost:x\" is not HOST:PORT",
      "queue: 2000000000            | --queue 2000000000 is not 1 to 65536",
      "queue: 0                     | --queue 0 is not 1 to 65536",
      "workers: 100000              | --workers 100000 is not 1 to 256",
      "shutdown-timeout: -1         | --shutdown-timeout -1 is not 0 to 3600 seconds",
      "idle-timeout: 86400          | --idle-timeout 86400 is not 1 to 3600 seconds",
      "workers: 2\\nworkers: 3      | Duplicate field 'workers'",
  })
  void checkConfig_badSetting_exitTwoNamingKeyValueAndWhy(String yaml, String expected) throws Exception {
    Path f = file(yaml.replace("\\n", "\n"));
    Run r = jipamd(Map.of(), "--check-config", f.toString());
    assertEquals(2, r.exit, r.out + r.err);
    assertTrue(r.err.contains(expected), r.err);
  }

  @Test
  void start_withConfigFile_servesWhereTheFileSays() throws Exception {
    Path socket = dir.resolve("from-file.sock");
    Path f = file("socket: " + socket + "\nstore: file\ndata-dir: " + dir.resolve("data") + "\n");
    try (JipamdProcess jipamd = ServerJipamd.start(dir, "--config", f.toString());
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      remote.allocate(IpamServerTest.pool("cfg", "198.18.2.0/24"), AllocationRequest.of(new Attachment("c1", "eth0")));
      assertTrue(Files.exists(dir.resolve("data/cfg/198.18.2.2")), "allocated into the file's data dir");
    }
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"''", "'# only a comment\n'", "'\n\n# two\n# comments\n'", "'---\n'"})
  void checkConfig_emptyOrCommentsOnly_noSettingsDefaultsApply(String yaml) throws Exception {
    Path f = file(yaml.replace("\\n", "\n"));
    Run r = jipamd(Map.of(), "--check-config", f.toString());
    assertEquals(0, r.exit, r.out + r.err);
    assertTrue(r.out.contains("store file, socket /run/jipam/jipam.sock"), r.out);
  }

  @Test
  void checkConfig_unreadableFile_messageSaysWhy() throws Exception {
    Path missing = dir.resolve("missing.yaml");
    Run r = jipamd(Map.of(), "--check-config", missing.toString());
    assertEquals(2, r.exit, r.err);
    assertEquals("jipamd: cannot read config " + missing + ": " + missing + ": no such file or directory",
        r.err.strip());
    Path latin1 = dir.resolve("latin1.yaml");
    Files.write(latin1, new byte[] {'s', 't', 'o', 'r', 'e', ':', ' ', (byte) 0xe9, '\n'});
    Run bad = jipamd(Map.of(), "--check-config", latin1.toString());
    assertEquals(2, bad.exit, bad.err);
    assertTrue(bad.err.contains("cannot read config " + latin1 + ": not valid UTF-8"), bad.err);
    assertTrue(!bad.err.contains("Input length"), bad.err);
  }

  /** At start, not only with --check-config: exit 2 naming the bound, no OutOfMemoryError. */
  @Test
  void start_hugeQueue_exit2NoOutOfMemoryError() throws Exception {
    JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "memory", "--socket",
        dir.resolve("q.sock").toString(), "--queue", "2000000000");
    assertEquals(2, run.exit(), run.output());
    assertEquals("jipamd: --queue 2000000000 is not 1 to 65536", run.output().strip());
  }

  @Test
  void start_dataDirIsARegularFile_exit1AtStart() throws Exception {
    Path file = dir.resolve("not-a-dir");
    Files.writeString(file, "x");
    JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "file", "--data-dir", file.toString(),
        "--socket", dir.resolve("d.sock").toString());
    assertEquals(1, run.exit(), run.output());
    assertEquals("jipamd: --data-dir " + file + " is not a directory", run.output().strip());
  }

  /**
   * A data dir jipamd cannot write stops it at start (exit 1, naming the dir and why), not at its
   * first call: under a regular file; on a read-only mount (as root, which the permission bits do
   * not stop).
   */
  @Test
  void start_dataDirNotWritable_exit1AtStartNamingIt() throws Exception {
    Files.writeString(dir.resolve("file"), "x");
    Path underFile = dir.resolve("file/data");
    JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "file", "--data-dir", underFile.toString(),
        "--socket", dir.resolve("f.sock").toString());
    assertEquals(1, run.exit(), run.output());
    assertEquals("jipamd: --data-dir " + underFile + " cannot be written: Not a directory", run.output().strip());
    assertFalse(run.output().contains("ready"), run.output());
    if (!Exec.isRoot()) {
      return;
    }
    Path readOnly = Files.createDirectory(dir.resolve("ro"));
    Exec.Result mount = Exec.run(List.of("mount", "-t", "tmpfs", "-o", "ro,size=1m", "jipam-test-ro", readOnly.toString()),
        Map.of(), "", Duration.ofSeconds(10));
    assertEquals(0, mount.exit(), mount.toString());
    try {
      run = ServerJipamd.runToExit(dir, "--store", "file", "--data-dir", readOnly.toString(),
          "--socket", dir.resolve("r.sock").toString());
      assertEquals(1, run.exit(), run.output());
      assertEquals("jipamd: --data-dir " + readOnly + " cannot be written: Read-only file system", run.output().strip());
    } finally {
      Exec.run(List.of("umount", readOnly.toString()), Map.of(), "", Duration.ofSeconds(10));
    }
  }

  /** A listener that cannot start: one "jipamd:" prefix, and the reason. */
  @Test
  void start_tcpPortTaken_onePrefixAndTheReason() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      JipamdProcess.Finished run = ServerJipamd.runToExit(dir, "--store", "memory", "--no-socket", "--insecure",
          "--listen", "127.0.0.1:" + taken.getLocalPort());
      assertEquals(1, run.exit(), run.output());
      String line = run.output().strip();
      assertTrue(line.startsWith("jipamd: listening on 127.0.0.1:" + taken.getLocalPort() + " failed: ")
          && !line.contains("jipamd: jipamd:") && line.contains("in use"), line);
    }
  }
}
