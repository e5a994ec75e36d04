package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built {@code dist/bin/jipam} in daemon mode against the built {@code dist/bin/jipamd} (file
 * store), both real processes: results, what lands on disk, a plugin in direct mode on the same
 * data dir, jipamd restarted between ADD and DEL, and jipamd missing or hung (CNI error 11).
 */
@Timeout(180)
class DaemonModeIT {
  @TempDir Path dir;
  Path socket;
  Path data;
  JipamdProcess jipamd;

  @BeforeEach
  void start() throws Exception {
    socket = dir.resolve("jipam.sock");
    data = dir.resolve("data");
    startJipamd();
  }

  void startJipamd() throws IOException, InterruptedException {
    jipamd = CniExec.fileJipamd(socket, data);
  }

  @AfterEach
  void stop() throws InterruptedException {
    stopJipamd();
  }

  void stopJipamd() throws InterruptedException {
    if (jipamd != null) {
      jipamd.close();
    }
  }

  String config(String daemon) {
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"pods\",\"type\":\"bridge\",\"ipam\":{\"type\":\"jipam\","
        + (daemon == null ? "" : "\"daemon\":" + daemon + ",")
        + "\"dataDir\":\"" + data + "\","
        + "\"ranges\":[[{\"subnet\":\"198.18.6.0/24\"}],[{\"subnet\":\"fd00:6::/64\"}]]}}";
  }

  /**
   * Daemon mode with a bound generous enough for a jipamd's first call on a loaded machine (1.6 s
   * at load 30 measured), which the tests other than the hung one must not mistake for a hang.
   */
  String daemon() {
    return daemon(30);
  }

  String daemon(int timeoutSeconds) {
    return "{\"socket\":\"" + socket + "\",\"timeoutSeconds\":" + timeoutSeconds + "}";
  }

  CniExec.Result call(String command, String id, String config) {
    return CniExec.run(CniExec.JIPAM, CniExec.env(command, id, "eth0", "/run/netns/" + id), config);
  }

  @Test
  void add_viaDaemon_resultPrintedAndWrittenInHostLocalLayout() throws Exception {
    CniExec.Result add = call("ADD", "c1", config(daemon()));
    assertEquals(0, add.exit(), add::toString);
    assertTrue(add.stdout().contains("\"198.18.6.2/24\"") && add.stdout().contains("\"fd00:6::2/64\""), add::toString);
    assertEquals("c1\r\neth0", Files.readString(data.resolve("pods/198.18.6.2")));
    String prev = config(daemon()).replace("\"ipam\"", "\"prevResult\":" + add.stdout() + ",\"ipam\"");
    CniExec.Result check = call("CHECK", "c1", prev);
    assertEquals(0, check.exit(), check::toString);
    CniExec.Result del = call("DEL", "c1", config(daemon()));
    assertEquals(0, del.exit(), del::toString);
    assertEquals("", del.stdout());
    assertFalse(Files.exists(data.resolve("pods/198.18.6.2")));
  }

  /**
   * The start-up cache holds a whole daemon-mode call: every class it loads comes from the cache
   * but the JDK's JFR event classes, which no cache holds. A class read from the jar instead (as
   * {@code DaemonClient.Reply} was while the training never parsed an answer) costs the opening and
   * verification of the jar on every call.
   */
  @Test
  void add_viaDaemon_loadsEveryClassFromTheStartUpCache() throws Exception {
    String jvmEnv = Files.readString(CniExec.DIST.resolve("lib/jvm.env")).replace("'", ""); // values quoted
    assumeTrue(jvmEnv.contains("-XX:AOTCache="), () -> "the build has no AOT cache: " + jvmEnv);
    Path log = dir.resolve("classes.txt");
    Map<String, String> env = CniExec.env("ADD", "c1", "eth0", "/run/netns/c1");
    env.put("JIPAM_JAVA_OPTS", "-Xlog:class+load:file=" + log);
    CniExec.Result add = CniExec.run(CniExec.JIPAM_JVM, env, config(daemon()));
    assertEquals(0, add.exit(), add::toString);
    List<String> loaded = Files.readAllLines(log);
    assertTrue(loaded.stream().anyMatch(l -> l.contains("io.jipam.plugin.DaemonClient$Reply ")), "class loading is logged");
    List<String> outside = loaded.stream()
        .filter(l -> !l.contains("source: shared objects file") && !l.contains(" jdk.internal.event.")).toList();
    assertEquals(List.of(), outside);
  }

  /**
   * The built jipamctl starts from the AOT cache it shares with jipamd (lib/server/server.aot, which
   * jvm.env names):
   * with {@code -XX:AOTMode=on} a JVM that cannot use it fails, and its classes, the gRPC client's
   * among them, come from the cache's "shared objects file".
   */
  @Test
  void jipamctl_built_startsFromItsAotCache() throws Exception {
    String jvmEnv = Files.readString(CniExec.DIST.resolve("lib/jvm.env")).replace("'", ""); // values quoted
    assumeTrue(jvmEnv.contains("JIPAMCTL_AOT_CACHE=/"), () -> "the build has no jipamctl AOT cache: " + jvmEnv);
    Path log = dir.resolve("jipamctl-classes.txt");
    Map<String, String> env = new java.util.HashMap<>(System.getenv());
    env.put("JIPAMCTL_JAVA_OPTS", "-XX:AOTMode=on -Xlog:class+load:file=" + log);
    Exec.Result r = Exec.run(dir, List.of(CniExec.JIPAMCTL.toString(), "--server", "unix:" + socket, "pools"), env,
        new byte[0], java.time.Duration.ofMinutes(2));
    assertEquals(0, r.exit(), r::toString);
    assertEquals("", r.stderr(), "nothing on stderr");
    List<String> loaded = Files.readAllLines(log);
    for (String name : List.of("io.jipam.ctl.Jipamctl", "io.jipam.ctl.Pools", "io.jipam.client.RemoteStore",
        "io.vertx.grpc.client.impl.GrpcClientRequestImpl")) {
      assertTrue(loaded.stream().anyMatch(l -> l.contains(" " + name + " source: shared objects file")),
          () -> name + " not from the cache: " + loaded.stream().filter(l -> l.contains(" " + name + " ")).toList());
    }
    long cached = loaded.stream().filter(l -> l.contains(" source: shared objects file")).count();
    long all = loaded.stream().filter(l -> l.contains(" source: ")).count();
    // the JVM leaves some classes out of a cache (a few of picocli's, Netty's OpenSSL probes): most come from it
    assertTrue(cached >= 0.9 * all, cached + " of " + all + " classes from the cache");
  }

  /**
   * The built jipamd starts with the AOT cache the build trained for it (jvm.env's
   * JIPAMD_AOT_CACHE): with {@code -XX:AOTMode=on}, which stops a JVM that cannot map its cache, it
   * serves a call, and its start and CNI path's classes come from the cache, not the jars.
   */
  @Test
  void jipamd_built_startsFromItsAotCache() throws Exception {
    String jvmEnv = Files.readString(CniExec.DIST.resolve("lib/jvm.env")).replace("'", ""); // values quoted
    assumeTrue(jvmEnv.contains("JIPAMD_AOT_CACHE=/"), () -> "the build has no jipamd AOT cache: " + jvmEnv);
    stopJipamd();
    Path log = dir.resolve("jipamd-classes.txt");
    jipamd = CniExec.jipamd(dir, Map.of("JIPAMD_JAVA_OPTS", "-XX:AOTMode=on -Xlog:class+load:file=" + log),
        "--socket", socket.toString(), "--store", "file", "--data-dir", data.toString());
    CniExec.Result add = call("ADD", "c1", config(daemon()));
    assertEquals(0, add.exit(), add::toString);
    List<String> loaded = Files.readAllLines(log);
    for (String name : List.of("io.jipam.server.Jipamd", "io.jipam.server.cni.CniEndpoint",
        "io.jipam.server.cni.CniFastPath", "io.jipam.hostlocal.WriteThroughStore")) {
      assertTrue(loaded.stream().anyMatch(l -> l.contains(" " + name + " source: shared objects file")),
          () -> name + " not from the cache: " + loaded.stream().filter(l -> l.contains(name)).toList());
    }
    // the plugin's request is served before Vert.x's HTTP server sees it: no HTTP/1 connection made
    String http1 = "io.vertx.core.http.impl.Http1xServerConnection ";
    assertTrue(loaded.stream().noneMatch(l -> l.contains(" " + http1)),
        () -> "the CNI call went through Vert.x's HTTP server: " + loaded.stream().filter(l -> l.contains(http1)).toList());
  }

  /**
   * The launcher's JIT and GC choice, read from the JVM's own command line: a node's jipamd (no
   * {@code listen}) runs C1 only, compiling at a tenth of the usual call counts, with the serial
   * GC; one given {@code --listen} (a central jipamd) keeps both compilers, the usual thresholds
   * and the JVM's default GC.
   */
  @Test
  void jipamd_launcher_nodeOnC1EarlyAndSerialGcCentralOnDefaults() throws Exception {
    stopJipamd();
    Map<String, String> noJvmOptions = Map.of("JIPAMD_JAVA_OPTS", "");
    jipamd = CniExec.jipamd(dir, noJvmOptions, "--socket", socket.toString(), "--store", "file", "--data-dir",
        data.toString());
    List<String> node = jvmArguments(jipamd.pid());
    assertTrue(node.contains("-XX:TieredStopAtLevel=1") && node.contains("-XX:CompileThresholdScaling=0.1")
        && node.contains("-XX:+UseSerialGC"), node::toString);
    stopJipamd();
    jipamd = CniExec.jipamd(dir, noJvmOptions, "--socket", socket.toString(), "--store", "file", "--data-dir",
        data.toString(), "--listen", "127.0.0.1:" + io.jipam.testkit.Ports.free(), "--insecure");
    List<String> central = jvmArguments(jipamd.pid());
    assertTrue(central.contains("io.jipam.server.Jipamd"), central::toString);
    assertFalse(central.stream().anyMatch(a -> a.startsWith("-XX:TieredStopAtLevel")
        || a.startsWith("-XX:CompileThresholdScaling") || a.endsWith("GC")), central::toString);
  }

  private static List<String> jvmArguments(long pid) throws IOException {
    return List.of(Files.readString(Path.of("/proc/" + pid + "/cmdline")).split("\0"));
  }

  @Test
  void directAndDaemonOnOneDataDir_neverOneAddressTwice() {
    List<String> seen = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      CniExec.Result r = call("ADD", "c" + i, config(i % 2 == 0 ? daemon() : null));
      assertEquals(0, r.exit(), r::toString);
      int at = r.stdout().indexOf("198.18.6.");
      seen.add(r.stdout().substring(at, r.stdout().indexOf('/', at)));
    }
    assertEquals(6, seen.stream().distinct().count(), seen::toString);
  }

  /**
   * docs/plugin.md: a repeated ADD returns the addresses the attachment holds, also when a sub-pool
   * that selects its pod was added to the config in between (the runtime's retry after a timeout);
   * both through jipamd and with the plugin on its own. Only a DEL moves it to the sub-pool.
   */
  @Test
  void add_repeatedAfterSubPoolAdded_daemonAndDirect_returnHeldAddressesAndAllocateNothing() throws Exception {
    String subPool = ",\"subPools\":[{\"name\":\"db\",\"ranges\":[[{\"subnet\":\"198.18.7.0/24\"}]],"
        + "\"namespaces\":[\"db\"]}]}}";
    String before = config(daemon());
    String after = before.substring(0, before.length() - 2) + subPool;
    String afterDirect = config(null).substring(0, config(null).length() - 2) + subPool;
    Map<String, String> env = CniExec.env("ADD", "c1", "eth0", "/run/netns/c1");
    env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=db;K8S_POD_NAME=db-0");
    CniExec.Result first = CniExec.run(CniExec.JIPAM, env, before);
    assertEquals(0, first.exit(), first::toString);
    assertTrue(first.stdout().contains("\"198.18.6.2/24\""), first::toString);
    for (String config : List.of(after, afterDirect)) {
      CniExec.Result again = CniExec.run(CniExec.JIPAM, env, config);
      assertEquals(0, again.exit(), again::toString);
      assertEquals(first.stdout(), again.stdout(), "the repeated ADD returns what the attachment holds");
    }
    assertTrue(Files.exists(data.resolve("pods/198.18.6.2")));
    assertFalse(Files.exists(data.resolve("pods+db/198.18.7.2")), "nothing allocated in the sub-pool");
    Map<String, String> del = new java.util.HashMap<>(env);
    del.put("CNI_COMMAND", "DEL");
    assertEquals(0, CniExec.run(CniExec.JIPAM, del, after).exit());
    CniExec.Result moved = CniExec.run(CniExec.JIPAM, env, after);
    assertTrue(moved.stdout().contains("\"198.18.7.2/24\""), moved::toString);
    assertFalse(Files.exists(data.resolve("pods/198.18.6.2")));
  }

  @Test
  void jipamdRestartedBetweenAddAndDel_delReleasesAndNothingIsLost() throws Exception {
    CniExec.Result add = call("ADD", "c1", config(daemon()));
    assertEquals(0, add.exit(), add::toString);
    stopJipamd();
    startJipamd();
    CniExec.Result again = call("ADD", "c1", config(daemon()));
    assertEquals(add.stdout(), again.stdout(), "a repeated ADD after the restart returns the same addresses");
    CniExec.Result del = call("DEL", "c1", config(daemon()));
    assertEquals(0, del.exit(), del::toString);
    assertFalse(Files.exists(data.resolve("pods/198.18.6.2")));
  }

  @Test
  void noJipamd_tryAgainLaterAndNothingWritten() throws Exception {
    stopJipamd();
    CniExec.Result add = call("ADD", "c1", config(daemon()));
    assertEquals(1, add.exit(), add::toString);
    assertTrue(add.stdout().replace(" ", "").contains("\"code\":11"), add::toString);
    assertFalse(Files.exists(data.resolve("pods/198.18.6.2")));
  }

  @Test
  void jipamdHung_tryAgainLaterWithinTheBound() throws Exception {
    CniExec.sh("kill", "-STOP", Long.toString(jipamd.pid()));
    try {
      long start = System.nanoTime();
      CniExec.Result add = call("ADD", "c1", config(daemon(2)));
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
      assertEquals(1, add.exit(), add::toString);
      assertTrue(add.stdout().contains("did not answer within 2 s"), add::toString);
      assertTrue(seconds < 10, "bounded by timeoutSeconds, took " + seconds + " s");
    } finally {
      CniExec.sh("kill", "-CONT", Long.toString(jipamd.pid()));
    }
  }
}
