package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The bundle unpacked into an empty folder runs on a machine without a JDK: every call gets an
 * environment with only the CNI variables (no JAVA_HOME, a PATH with nothing on it) and, as root,
 * runs where /usr/lib/jvm is empty.
 */
class BundleIT {
  @TempDir static Path dir;
  @TempDir Path tmp;
  static Path emptyPath;

  @BeforeAll
  static void unpack() throws Exception {
    Bundle.requireBuilt();
    Bundle.unpack(Files.createDirectory(dir.resolve("bin")));
    emptyPath = Files.createDirectory(dir.resolve("empty-path"));
  }

  private static Path bin() {
    return dir.resolve("bin");
  }

  @Test
  void unpack_emptyDir_launcherBesideOneVersionFolder() throws Exception {
    assertTrue(Files.isExecutable(bin().resolve("jipam")));
    Path link = bin().resolve("jipam.d/current");
    assertTrue(Files.isSymbolicLink(link));
    assertFalse(Files.readSymbolicLink(link).isAbsolute(), "current must be relative: " + Files.readSymbolicLink(link));
    Path v = Bundle.current(bin());
    for (String f : List.of("runtime/bin/java", "lib/jipam.aot", "lib/jvm.sh", "lib/jvm.env", "lib/ipam-plugin-bin.jar",
        "lib/etcd/ipam-etcd.jar", "bin/jipam", "bin/jipam-jvm", "bin/jipam-install", "BUILD")) {
      assertTrue(Files.exists(v.resolve(f)), "missing " + f + " in " + v);
    }
    assertFalse(Files.exists(v.resolve("bin/jipam-train-cache")), "the dev-tree trainer does not belong in a bundle");
    try (var names = Files.list(bin())) {
      assertEquals(List.of("jipam", "jipam.d"), names.map(p -> p.getFileName().toString()).sorted().toList());
    }
    String build = Files.readString(v.resolve("BUILD"));
    assertTrue(v.getFileName().toString().startsWith("0.") && build.contains("build="), build);
  }

  /**
   * jipamd and jipamctl started through {@code jipam.d/current}, as a host's systemd unit or a
   * DaemonSet starts them, run from the version folder itself: no path of the process names
   * {@code current}, so a jipam-install that switches it while they run changes nothing they open
   * later.
   */
  @Test
  void launchers_startedThroughCurrent_runFromTheVersionFolder() throws Exception {
    Path viaCurrent = bin().resolve("jipam.d/current/bin");
    String version = Bundle.current(bin()).toString();
    try (JipamdProcess jipamd = JipamdProcess.start(tmp, JipamdProcess.launcher(viaCurrent.resolve("jipamd"),
        "--socket", tmp.resolve("j.sock").toString(), "--store", "memory"))) {
      List<String> argv = List.of(Files.readString(Path.of("/proc", Long.toString(jipamd.pid()), "cmdline")).split("\0"));
      assertFalse(String.join(" ", argv).contains("/current/"), "jipamd runs through current: " + argv);
      Path firstJar = Path.of(argv.get(argv.indexOf("-cp") + 1).split(":")[0]).normalize();
      assertEquals(Path.of(version, "lib/server"), firstJar.getParent(), "jipamd's class path: " + argv);
    }
    // jipamctl: the JVM prints its settings, class path included, and exits
    Exec.Result settings = Exec.run(List.of(viaCurrent.resolve("jipamctl").toString(), "--version"),
        Map.of("JIPAMCTL_JAVA_OPTS", "-XshowSettings:properties"), "", Duration.ofSeconds(60));
    assertEquals(0, settings.exit(), settings.toString());
    String classPath = settings.stderr().lines().filter(l -> l.strip().startsWith("java.class.path"))
        .findFirst().orElse("");
    assertFalse(classPath.contains("/current/"), "jipamctl's class path: " + classPath);
    Path firstJar = Path.of(classPath.substring(classPath.indexOf('=') + 1).strip()).normalize();
    assertEquals(Path.of(version, "lib/server"), firstJar.getParent(), "jipamctl's class path: " + classPath);
  }

  /** The bundle's jipamd names the version it was built as, not "dev". */
  @Test
  void jipamdVersion_bundle_printsTheBuiltVersion() {
    Path v = Bundle.current(bin());
    Exec.Result version = Exec.run(List.of(v.resolve("bin/jipamd").toString(), "--version"), Map.of(), "",
        java.time.Duration.ofSeconds(60));
    assertEquals(0, version.exit(), version.toString());
    String built = v.getFileName().toString().substring(0, v.getFileName().toString().lastIndexOf('-'));
    assertEquals("jipamd " + built, version.stdout().strip(), version.toString());
  }

  /**
   * The bundle's jipamd serves on Netty's native epoll transport, which lib/server ships, and on the
   * JDK's NIO where that library cannot be unpacked (here: Netty's work dir is not a directory);
   * either way it answers a CNI call through the shim, and prints nothing but its own lines (JDK
   * 24+ warns when a library is loaded without native access allowed).
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"epoll, ''", "nio, -Dio.netty.native.workdir=/dev/null/none"})
  void jipamd_bundle_servesOnTheNativeTransportOrNio(String transport, String jvmOptions) throws Exception {
    Path v = Bundle.current(bin());
    Path data = Files.createDirectory(tmp.resolve("data"));
    Path socket = tmp.resolve("jipamd.sock");
    try (JipamdProcess jipamd = JipamdProcess.launchOnSocket(v.resolve("bin/jipamd"), socket,
        List.of("--store", "file", "--data-dir", data.toString()), jvmOptions.isEmpty() ? List.of() : List.of(jvmOptions))) {
      jipamd.awaitReady(Duration.ofSeconds(60));
      String maps = Files.readString(Path.of("/proc", Long.toString(jipamd.pid()), "maps"));
      assertEquals(transport.equals("epoll"), maps.contains("netty_transport_native_epoll"),
          "Netty's native transport loaded: " + maps.contains("netty_transport_native_epoll"));
      Exec.Result add = Bundle.call(bin().resolve("jipam"), Bundle.env("ADD", "c1", emptyPath),
          "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":\"jipam\",\"daemon\":{\"socket\":\""
              + socket + "\"},\"subnet\":\"198.18.0.0/24\"}}");
      assertEquals(0, add.exit(), add.toString());
      assertTrue(Files.exists(data.resolve("n/198.18.0.2")), "allocated by jipamd's file store");
      assertEquals(0, jipamd.stop(), jipamd.output());
      assertEquals(List.of(), jipamd.output().lines().filter(l -> !l.contains(" jipamd ")).toList(),
          "lines jipamd did not write");
    }
  }

  /**
   * The bundle's jipamd and jipamctl start with the AOT cache they share (lib/server/server.aot,
   * trained with the bundled runtime on both): {@code -XX:AOTMode=on} stops a JVM that cannot map
   * its cache, and the launcher's main class and picocli's classes come from it.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "jipamd, JIPAMD_JAVA_OPTS, --version, server.aot, io.jipam.server.Jipamd",
      "jipamctl, JIPAMCTL_JAVA_OPTS, --help, server.aot, io.jipam.ctl.Jipamctl"})
  void launcher_bundle_startsFromItsAotCache(String launcher, String options, String arg, String cache,
      String mainClass) throws Exception {
    Path v = Bundle.current(bin());
    assertTrue(Files.size(v.resolve("lib/server/" + cache)) > 0);
    Path log = tmp.resolve(launcher + "-classes.txt");
    Exec.Result run = Exec.run(List.of(v.resolve("bin/" + launcher).toString(), arg),
        Map.of(options, "-XX:AOTMode=on -Xlog:class+load:file=" + log), "", Duration.ofSeconds(60));
    assertEquals(0, run.exit(), "the AOT cache is not used by bin/" + launcher + ": " + run);
    List<String> loaded = Files.readAllLines(log);
    assertTrue(loaded.stream().anyMatch(l -> l.contains(" " + mainClass + " source: shared objects file")),
        mainClass + " from the cache");
    // picocli is compiled for Java 5, which an AOT cache leaves out; the build rewrites it as class
    // version 52 (ipam-server's RetargetOldClasses), so its classes come from the cache too
    assertTrue(loaded.stream().anyMatch(l -> l.contains(" picocli.CommandLine source: shared objects file")),
        "picocli.CommandLine from the cache");
    assertEquals(List.of(), loaded.stream().filter(l -> l.contains("picocli.jar")).toList(),
        "classes loaded from picocli.jar instead of the cache");
  }

  @Test
  void jarsOfTwoClassPaths_storedOnce() throws Exception {
    Path lib = Bundle.current(bin()).resolve("lib");
    for (String jar : List.of("etcd/guava.jar", "etcd/jetcd-core.jar", "etcd/netty-common.jar", "ipam-core.jar")) {
      assertTrue(Files.isSameFile(lib.resolve(jar), lib.resolve("server").resolve(Path.of(jar).getFileName())),
          jar + " is a copy, not a link to lib/server's");
    }
  }

  @Test
  void runtime_hasOnlyTheModulesItWasLinkedWith() {
    Path v = Bundle.current(bin());
    Exec.Result modules = Exec.run(List.of(v.resolve("runtime/bin/java").toString(), "--list-modules"),
        Map.of("PATH", emptyPath.toString()), "", Duration.ofSeconds(30)).ok();
    List<String> names = modules.stdout().lines().map(l -> l.substring(0, l.indexOf('@'))).sorted().toList();
    assertTrue(names.contains("java.base") && names.contains("java.naming") && names.contains("jdk.unsupported"),
        names.toString());
    // the JDK's tools never belong in a runtime; java.desktop, java.sql and java.compiler are left
    // out although jdeps lists them (only unused optional paths of the libraries reach them:
    // build-bundle.sh), and with them java.xml and java.prefs: the other tests of this module run
    // every launcher on this runtime
    for (String absent : List.of("jdk.compiler", "jdk.jlink", "jdk.jshell", "jdk.jdeps", "java.desktop", "java.sql",
        "java.compiler", "java.xml", "java.prefs")) {
      assertFalse(names.contains(absent), absent + " is in the runtime: " + names);
    }
  }

  @Test
  void versionAddCheckDel_noJdkAnywhere_succeedAndReleaseEverything() {
    Path plugin = bin().resolve("jipam");
    Exec.Result version = Bundle.call(plugin, Bundle.env("VERSION", null, emptyPath), "");
    assertEquals(0, version.exit(), version.toString());
    assertTrue(Bundle.json(version.stdout()).get("supportedVersions").toString().contains("1.0.0"), version.stdout());

    Path data = tmp.resolve("data");
    String conf = Bundle.conf("bundle-net", data, "198.18.40.0/24");
    Exec.Result add = Bundle.call(plugin, Bundle.env("ADD", "c1", emptyPath), conf);
    assertEquals(0, add.exit(), add.toString());
    assertEquals("", add.stderr(), add.toString());
    JsonNode ips = Bundle.json(add.stdout()).get("ips");
    assertEquals("198.18.40.2/24", ips.get(0).get("address").asText(), add.stdout());
    assertEquals(List.of("198.18.40.2"), Bundle.addressFiles(data, "bundle-net"));

    String check = conf.substring(0, conf.length() - 1) + ",\"prevResult\":" + add.stdout() + "}";
    Exec.Result checked = Bundle.call(plugin, Bundle.env("CHECK", "c1", emptyPath), check);
    assertEquals(0, checked.exit(), checked.toString());

    Exec.Result del = Bundle.call(plugin, Bundle.env("DEL", "c1", emptyPath), conf);
    assertEquals(0, del.exit(), del.toString());
    assertEquals("", del.stdout() + del.stderr(), del.toString());
    assertEquals(List.of(), Bundle.addressFiles(data, "bundle-net"));
  }

  @Test
  void etcdStore_noJdkAnywhere_addAndDelThroughTheBundledRuntime() throws Exception {
    // the etcd client (gRPC, Netty, Vert.x) loads only for this store: the runtime's modules must
    // be enough for it, and for nothing else does the plugin leave java.base
    assumeTrue(Exec.underCi() || Etcd.binary() != null, "apt-get install etcd-server");
    try (Etcd etcd = Etcd.single()) {
      String conf = ("{'cniVersion':'1.0.0','name':'bundle-etcd','ipam':{'type':'jipam',"
          + "'ranges':[[{'subnet':'198.18.44.0/24'}]],'store':{'type':'etcd','endpoints':['" + etcd.endpoint()
          + "'],'node':'node-a','timeoutMillis':5000,'prefix':'/bundle-it'}}}").replace('\'', '"');
      Path plugin = bin().resolve("jipam");
      // the shim hints the launcher that this config is on etcd: the JVM starts from the bundle's
      // etcd cache (AOTMode=on: it would refuse to start without it), the client's classes from it
      Map<String, String> env = new java.util.HashMap<>(Bundle.env("ADD", "e1", emptyPath));
      // a name not yet taken: -Xlog would first move an existing file aside (to classes.log.0)
      Path classes = tmp.resolve("etcd-classes.log");
      env.put("JIPAM_JAVA_OPTS", "-XX:AOTMode=on -Xlog:class+load=info:file=" + classes);
      Exec.Result add = Bundle.call(plugin, env, conf);
      assertEquals(0, add.exit(), add.toString());
      assertEquals("", add.stderr(), add.toString());
      String client = Files.readAllLines(classes).stream().filter(l -> l.contains(" io.etcd.jetcd.impl.ClientImpl "))
          .findFirst().orElse("(not loaded)");
      Files.delete(classes);
      assertTrue(client.contains("source: shared objects file"), "the etcd client did not come from the cache: " + client);
      assertTrue(Bundle.json(add.stdout()).get("ips").get(0).get("address").asText().startsWith("198.18.44."),
          add.stdout());
      Exec.Result again = Bundle.call(plugin, Bundle.env("ADD", "e1", emptyPath), conf);
      assertEquals(add.stdout(), again.stdout(), "a repeated ADD returns the held address");
      Exec.Result del = Bundle.call(plugin, Bundle.env("DEL", "e1", emptyPath), conf);
      assertEquals(0, del.exit(), del.toString());
    }
  }

  @Test
  void badConfig_noJdkAnywhere_cniErrorOnStdout() {
    Exec.Result add = Bundle.call(bin().resolve("jipam"), Bundle.env("ADD", "c1", emptyPath),
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":\"jipam\"}}");
    assertEquals(1, add.exit(), add.toString());
    assertEquals(7, Bundle.json(add.stdout()).get("code").asInt(), add.toString());
  }

  @Test
  void startupCache_launchersOfTheBundle_useIt() {
    // AOTMode=on makes the JVM exit with an error when it cannot use the cache
    Path v = Bundle.current(bin());
    Map<String, String> env = new java.util.HashMap<>(Bundle.env("VERSION", null, emptyPath));
    env.put("JIPAM_JAVA_OPTS", "-XX:AOTMode=on");
    Exec.Result version = Bundle.call(v.resolve("bin/jipam-jvm"), env, "");
    assertEquals(0, version.exit(), "the AOT cache is not used by bin/jipam-jvm: " + version);
    // through the shims (the CNI bin dir's and the version's), which exec the JVM plugin in direct mode
    for (Path shim : List.of(bin().resolve("jipam"), v.resolve("bin/jipam"))) {
      Map<String, String> add = new java.util.HashMap<>(Bundle.env("ADD", "c1", emptyPath));
      add.put("JIPAM_JAVA_OPTS", "-XX:AOTMode=on");
      Exec.Result bad = Bundle.call(shim, add, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":\"jipam\"}}");
      assertEquals(7, Bundle.json(bad.stdout()).get("code").asInt(), "the AOT cache is not used through " + shim + ": " + bad);
    }
  }

  @Test
  void launcherAlone_noVersionFolder_cniErrorNamingTheFolder() throws Exception {
    Path lonely = Files.createDirectory(tmp.resolve("lonely"));
    Files.copy(bin().resolve("jipam"), lonely.resolve("jipam"));
    Exec.Result add = Bundle.call(lonely.resolve("jipam"), Bundle.env("ADD", "c1", emptyPath), "{}");
    assertEquals(1, add.exit(), add.toString());
    JsonNode error = Bundle.json(add.stdout());
    assertEquals(999, error.get("code").asInt(), add.toString());
    assertTrue(error.get("details").asText().contains(lonely + "/jipam.d/current"), add.toString());
  }
}
