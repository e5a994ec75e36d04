package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.testkit.ClassArchive;
import io.jipam.testkit.JipamdProcess;
import io.vertx.core.json.JsonArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * Hostile input and careless operators at the level issue 17 found them: a real jipamd (child
 * process, file store) and the built {@code dist/bin/jipamctl} as a process, each call's exit
 * code, stdout and stderr checked, and the data dir compared before and after a refused call.
 */
@Order(1) // among the module's longest: started first, not last
@Execution(ExecutionMode.CONCURRENT) // its tests run side by side: each has its own temp dir, jipamd and socket; most of their time is jipamctl JVMs starting
@Timeout(240)
class JipamctlProcessIT {
  static final Path JIPAMCTL = Path.of(System.getProperty("jipam.dist", "../dist")).toAbsolutePath().normalize()
      .resolve("bin/jipamctl");
  static final Pool POOL = IpamServerTest.pool("pods", "198.18.60.0/24");
  /** jipamctl's classes (the built launcher on the PATH's JVM): about halves each run's start. */
  static final ClassArchive CTL_CLASSES = ClassArchive.ofLauncher("jipamctl");

  @TempDir Path dir;
  Path data;
  Path socket;
  JipamdProcess jipamd;
  RemoteStore grpc;

  /** What a jipamctl run printed and how it exited. */
  record Ctl(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
  }

  @BeforeEach
  void start() throws Exception {
    assertTrue(Files.isExecutable(JIPAMCTL), JIPAMCTL + " is missing: build with ./mvnw package");
    data = dir.resolve("data");
    socket = dir.resolve("jipam.sock");
  }

  /** jipamd on the data dir, and a gRPC client that has named the pool (so jipamd knows it). */
  /** jipamd on the data dir, knowing POOL as after serving it before (a read no longer defines a pool). */
  void startJipamd() throws Exception {
    JipamdOverDataDir.knowPools(data, POOL);
    jipamd = ServerJipamd.start(dir, "--store", "file", "--data-dir", data.toString(), "--socket", socket.toString());
    grpc = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
  }

  @AfterEach
  void stop() throws Exception {
    if (grpc != null) {
      grpc.close();
    }
    if (jipamd != null) {
      jipamd.close();
    }
  }

  /** The built jipamctl against this jipamd, stdin closed (as under a script or cron). */
  Ctl ctl(String... args) throws Exception {
    return ctlAs(List.of(), args);
  }

  Ctl ctlAs(List<String> prefix, String... args) throws Exception {
    List<String> command = new ArrayList<>(prefix);
    command.add(JIPAMCTL.toString());
    boolean direct = List.of(args).contains("--data-dir") || List.of(args).contains("--etcd-config");
    if (!direct) { // jipamctl refuses --server where it opens a store itself
      command.add("--server");
      command.add("unix:" + socket);
    }
    if (!List.of(args).contains("--timeout")) {
      // the default 5 s bounds a whole call, this JVM's start included: a loaded machine (other
      // modules' tests beside this one) has taken longer
      command.add("--timeout");
      command.add("60");
    }
    command.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "ctl", ".out");
    Path err = Files.createTempFile(dir, "ctl", ".err");
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    // the launcher's JVM maps the classes of an earlier jipamctl run; not under a prefix, which may
    // name another JVM or user
    List<String> archive = prefix.isEmpty() ? CTL_CLASSES.options() : List.of();
    builder.environment().put("JIPAMCTL_JAVA_OPTS", String.join(" ", archive));
    Process p = builder.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      CTL_CLASSES.ended(archive, p.exitValue());
      throw new IllegalStateException("jipamctl " + command + " did not finish within 120 s");
    }
    CTL_CLASSES.ended(archive, p.exitValue()); // kept from a run that exited 0 only
    return new Ctl(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  /** Every file under the data dir with its content: a refused call changes none. */
  Map<String, String> snapshot() throws IOException {
    Map<String, String> out = new TreeMap<>();
    if (!Files.exists(data)) {
      return out;
    }
    try (Stream<Path> files = Files.walk(data)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        out.put(data.relativize(f).toString(), Files.isRegularFile(f) ? Files.readString(f,
            java.nio.charset.StandardCharsets.ISO_8859_1) : "(dir)");
      }
    }
    return out;
  }

  static void noStackTrace(Ctl r) {
    assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), r::toString);
  }

  // ------------------------------------------------------------------ item 3: pod references

  @Test
  void allocate_podNotKubernetesNames_invalidArgumentNothingWrittenCtlStillWorks() throws Exception {
    startJipamd();
    grpc.allocate(POOL, new AllocationRequest(new Attachment("ok", "eth0"), List.of(), new PodRef("default", "web-0")));
    Map<String, String> before = snapshot();
    String huge = "n".repeat(3_900_000);
    List<PodRef> bad = new ArrayList<>(List.of(new PodRef("\u001b[2J\u001b[31mred", "web"),
        new PodRef("default", "web\nkube-system/fake 198.18.60.9"), new PodRef("n".repeat(64), "web"),
        new PodRef("default", "p".repeat(254)), new PodRef("Default", "web"), new PodRef("default", "web_1")));
    for (int i = 0; i < 5; i++) {
      bad.add(new PodRef(huge, "web-" + i)); // the case: five 3.9 MB namespaces
    }
    for (int i = 0; i < bad.size(); i++) {
      PodRef pod = bad.get(i);
      Attachment a = new Attachment("bad" + i, "eth0");
      IpamException e = assertThrows(IpamException.class,
          () -> grpc.allocate(POOL, new AllocationRequest(a, List.of(), pod)));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains(Printable.quote(pod.namespace()) + " is not a Kubernetes namespace")
          || e.getMessage().contains(Printable.quote(pod.name()) + " is not a Kubernetes pod name"), e.getMessage());
      assertTrue(e.getMessage().length() < 400, "the message quotes a shortened value: " + e.getMessage().length());
    }
    assertEquals(before, snapshot(), "a refused Allocate writes nothing");
    assertEquals(1, grpc.list(POOL).size());

    for (String[] args : List.of(new String[] {"check"}, new String[] {"list"}, new String[] {"show", "ok"},
        new String[] {"list", "-o", "json"})) {
      Ctl r = ctl(args);
      assertEquals(0, r.exit(), () -> String.join(" ", args) + ": " + r);
      assertTrue(r.out().contains("ok/eth0") || r.out().contains("\"ok\"") || r.out().contains("clean"), r::toString);
      noStackTrace(r);
    }
  }

  @Test
  void list_oldDataWithControlCharacters_textEscapesThemJsonKeepsThem() throws Exception {
    String namespace = "\u001b[2J\u001b[31mevil";
    String name = "web\nforged 198.18.60.99 someone/eth0";
    try (IpamStore old = HostLocalStores.open(data)) {
      old.allocate(POOL, new AllocationRequest(new Attachment("old", "eth0"), List.of(), new PodRef(namespace, name)));
    }
    startJipamd();
    for (String[] args : List.of(new String[] {"list"}, new String[] {"show", "old"}, new String[] {"show", "198.18.60.2"})) {
      Ctl r = ctl(args);
      assertEquals(0, r.exit(), r::toString);
      assertFalse(r.out().contains("\u001b"), "an escape character reached the terminal: " + r);
      assertTrue(r.out().contains("\\x1b[2J\\x1b[31mevil/web\\x0aforged"), r::toString);
      assertFalse(r.out().lines().anyMatch(l -> l.startsWith("forged")), "a forged line: " + r);
    }
    Ctl json = ctl("list", "-o", "json");
    assertEquals(name, new JsonArray(json.out()).getJsonObject(0).getString("podName"), json::toString);
  }

  // ------------------------------------------------------------------ item 7: gc asks first

  void threeAllocations() throws Exception {
    startJipamd();
    for (int i = 0; i < 3; i++) {
      grpc.allocate(POOL, new AllocationRequest(new Attachment("c" + i, "eth0"), List.of(), new PodRef("default", "web-" + i)));
    }
  }

  @Test
  void gc_emptyValidListStdinClosed_releasesNothingUnlessAllowEmptyAndYes() throws Exception {
    threeAllocations();
    Path empty = dir.resolve("empty.txt");
    Files.writeString(empty, "# nothing is valid\n\n");
    Map<String, String> before = snapshot();

    Ctl refused = ctl("gc", "--pool", "pods", "--valid", empty.toString());
    assertEquals(2, refused.exit(), refused::toString);
    assertEquals(1, refused.err().lines().count(), refused::toString);
    assertTrue(refused.err().contains("names no attachment") && refused.err().contains("--allow-empty"), refused::toString);

    Ctl unasked = ctl("gc", "--pool", "pods", "--valid", empty.toString(), "--allow-empty");
    assertEquals(1, unasked.exit(), unasked::toString);
    assertTrue(unasked.err().contains("nothing released (stdin is closed"), unasked::toString);
    assertEquals(3, unasked.err().lines().filter(l -> l.startsWith("would release ")).count(), unasked::toString);

    Ctl dry = ctl("gc", "--pool", "pods", "--valid", empty.toString(), "--allow-empty", "--dry-run");
    assertEquals(0, dry.exit(), dry::toString);
    assertEquals(3, dry.out().lines().filter(l -> l.startsWith("would release ")).count(), dry::toString);
    assertEquals(before, snapshot(), "nothing released without --yes");
    assertEquals(3, grpc.list(POOL).size());

    Path valid = dir.resolve("valid.txt");
    Files.writeString(valid, "c0/eth0\n");
    Ctl json = ctl("-o", "json", "gc", "--pool", "pods", "--valid", valid.toString(), "--yes");
    assertEquals(0, json.exit(), json::toString);
    io.vertx.core.json.JsonObject answer = new io.vertx.core.json.JsonObject(json.out());
    assertEquals(2, answer.getJsonArray("released").size(), json::toString);
    assertFalse(answer.getBoolean("dryRun"));
    assertEquals(1, grpc.list(POOL).size());
  }

  // ------------------------------------------------------------------ item 16: output and usage errors

  @Test
  void jsonOutput_releaseAndGcWithAndWithoutDryRun_areJson() throws Exception {
    threeAllocations();
    Path valid = dir.resolve("valid.txt");
    Files.writeString(valid, "c0/eth0\n");
    io.vertx.core.json.JsonObject dryRelease = json(ctl("release", "c1/eth0", "--dry-run", "-o", "json"));
    assertTrue(dryRelease.getBoolean("dryRun") && dryRelease.getJsonArray("released").size() == 1, dryRelease::encode);
    io.vertx.core.json.JsonObject dryGc = json(ctl("-o", "json", "gc", "--pool", "pods", "--valid", valid.toString(),
        "--dry-run"));
    assertEquals(2, dryGc.getJsonArray("released").size(), dryGc::encode);
    assertEquals(3, grpc.list(POOL).size(), "dry runs change nothing");
    io.vertx.core.json.JsonObject release = json(ctl("release", "198.18.60.3", "--yes", "-o", "json"));
    assertEquals("198.18.60.3", release.getJsonArray("released").getJsonObject(0).getString("address"), release::encode);
    io.vertx.core.json.JsonObject gc = json(ctl("-o", "json", "gc", "--pool", "pods", "--valid", valid.toString(),
        "--yes"));
    assertEquals(1, gc.getJsonArray("released").size(), gc::encode);
    assertEquals(1, grpc.list(POOL).size());
  }

  io.vertx.core.json.JsonObject json(Ctl r) {
    assertEquals(0, r.exit(), r::toString);
    return new io.vertx.core.json.JsonObject(r.out());
  }

  @Test
  void usageErrors_exit2OneLineNoStackTrace() throws Exception {
    startJipamd();
    Map<String[], String> cases = new java.util.LinkedHashMap<>();
    cases.put(new String[] {"-o", "yaml", "pools"}, "'yaml'");
    cases.put(new String[] {"--timeout", "-1", "pools"}, "--timeout -1");
    cases.put(new String[] {"--timeout", "0", "pools"}, "--timeout 0");
    cases.put(new String[] {"gc", "--pool", "pods", "--valid", "/nonexistent"}, "--valid \"/nonexistent\": cannot read: no such file");
    cases.put(new String[] {"--timeout", "abc", "pools"}, "'abc'");
    cases.put(new String[] {"reclaim-node", "../../x"}, "invalid node name \"../../x\"");
    for (Map.Entry<String[], String> c : cases.entrySet()) {
      Ctl r = ctl(c.getKey());
      assertEquals(2, r.exit(), r::toString);
      assertEquals(1, r.err().lines().count(), r::toString);
      assertTrue(r.err().contains(c.getValue()) && !r.err().contains("no jipamd answers"), r::toString);
      noStackTrace(r);
    }
  }

  /**
   * The launcher forces a UTF-8 locale, as the plugin's does: under LC_ALL=C (cron, systemd, a bare
   * container) the JVM decoded arguments and file names as ASCII, so a non-ASCII interface name
   * matched nothing and a non-ASCII --data-dir was "Malformed input".
   */
  @Test
  void launcher_lcAllC_nonAsciiArgumentsAndPathsStillWork() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue("UTF-8".equals(System.getProperty("sun.jnu.encoding")),
        "this JVM cannot pass a non-ASCII argument to a process");
    Path accented = dir.resolve("d\u00e9/data");
    try (IpamStore store = HostLocalStores.open(accented)) {
      store.allocate(POOL, new AllocationRequest(new Attachment("u1", "eth\u00e9"), List.of(), new PodRef("ns", "p1")));
    }
    Path conf = Files.writeString(dir.resolve("pods.conflist"), ("{'cniVersion':'1.0.0','name':'pods','plugins':[{'type':"
        + "'bridge','ipam':{'type':'host-local','ranges':[[{'subnet':'198.18.60.0/24'}]]}}]}").replace('\'', '"'));
    Ctl r = ctlAs(List.of("env", "LC_ALL=C", "LANG=C"), "show", "u1/eth\u00e9", "--data-dir", accented.toString(),
        "--conf", conf.toString());
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("u1/eth\u00e9 "), r::toString);
    noStackTrace(r);
  }

  // ------------------------------------------------------------------ item 17: access failures

  @Test
  void nonRootUser_socket0600_permissionDeniedNamingTheSocket() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "no setpriv");
    org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
    startJipamd();
    // nobody must reach the socket's directory to be refused by the socket's own mode
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Ctl r = ctlAs(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"), "pools");
    assertEquals(1, r.exit(), r::toString);
    assertTrue(r.err().contains("permission denied on " + socket + " (run as root"), r::toString);
    assertFalse(r.err().contains("no jipamd answers"), r::toString);
    noStackTrace(r);
  }

  // ------------------------------------------------------------------ item 19: launchers quiet on every JDK

  @Test
  void launchers_jdk25AndJdk17_workWithoutUnsafeWarnings() throws Exception {
    Path jipamdLauncher = JIPAMCTL.resolveSibling("jipamd");
    int tried = 0;
    for (String jvm : List.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java")) {
      if (!Files.isExecutable(Path.of(jvm))) {
        continue;
      }
      tried++;
      Path log = Files.createTempFile(dir, "jipamd-launcher", ".log");
      Path s = dir.resolve("l" + tried + ".sock");
      ProcessBuilder pb = new ProcessBuilder(jipamdLauncher.toString(), "--store", "memory", "--socket", s.toString())
          .redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().put("JIPAM_JAVA", jvm);
      Process d = pb.start();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(log).contains(" jipamd ready")) {
          assertTrue(d.isAlive() && System.nanoTime() < deadline, () -> jvm + ": jipamd not ready: " + read(log));
          Thread.sleep(20);
        }
        socket = s;
        Ctl r = ctlAs(List.of("env", "JIPAM_JAVA=" + jvm), "-o", "json", "usage");
        assertEquals(0, r.exit(), () -> jvm + ": " + r);
        assertFalse(r.err().contains("sun.misc.Unsafe"), () -> jvm + ": " + r);
        assertFalse(read(log).contains("sun.misc.Unsafe"), () -> jvm + ": " + read(log));
      } finally {
        d.destroy();
        if (!d.waitFor(20, TimeUnit.SECONDS)) {
          d.destroyForcibly().waitFor();
        }
      }
    }
    assertTrue(tried > 0, "no JDK 25 or 17 under /usr/lib/jvm");
  }

  static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      return e.toString();
    }
  }
}
