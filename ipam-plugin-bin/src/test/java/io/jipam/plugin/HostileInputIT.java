package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.cni.JsonFields;
import io.jipam.core.cni.JsonReader;
import io.jipam.testkit.Exec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The catalogue of hostile input (issue 7): the real {@code dist/bin/jipam}, started as a
 * runtime would start it under systemd (an environment holding only {@code PATH} and the CNI
 * variables: no {@code LANG}, no {@code LC_ALL}), one row per class of input. A failing row must
 * exit non-zero with the expected CNI code and a message naming the value, never 999, and leave
 * the data dir byte for byte as it was (jipam's index and stamp included). The classes that
 * need more than one call (names that collide, stray entries, stdout that cannot be written, the
 * log pointed at stdout) have their own tests below.
 *
 * <p>Variables are handed over as bytes (through {@code sh} and {@code printf}), so names that
 * are not UTF-8 reach the plugin exactly as a runtime would set them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputIT {
  /**
   * This class's own directory, from {@link #warmUp}'s parameter: a static {@code @TempDir} field
   * would be shared with the daemon subclass running beside it, each class's start overwriting it.
   */
  Path tmp;
  Path dataDir;

  @BeforeAll
  void warmUp(@TempDir Path dir) throws Exception {
    tmp = dir;
    assertTrue(Files.isExecutable(CniExec.JIPAM), CniExec.JIPAM + " is missing: build with ./mvnw package");
    dataDir = tmp.resolve("data");
    // the store exists and holds something, so that a failing call has something to spoil
    assertEquals(0, call(vars("ADD", "warm", "eth0"), conf("")).exit);
    assertEquals(0, call(vars("ADD", "warm", "eth0"), full("")).exit); // "full" holds its one address
  }

  // ------------------------------------------------------------------ running the plugin

  /** What a call printed and how it exited. */
  record Out(int exit, String stdout, String stderr) {
    @Override
    public String toString() {
      return "exit " + exit + "\nstdout: " + stdout + "\nstderr: " + stderr;
    }

    Map<String, Object> json() {
      return JsonFields.asObject(JsonReader.parse(stdout.getBytes(StandardCharsets.UTF_8)), "stdout");
    }
  }

  /** CNI variables for a call, as bytes. */
  static Map<String, byte[]> vars(String command, String containerId, String ifname) {
    Map<String, byte[]> v = new LinkedHashMap<>();
    v.put("CNI_COMMAND", command.getBytes(StandardCharsets.UTF_8));
    v.put("CNI_CONTAINERID", containerId.getBytes(StandardCharsets.UTF_8));
    v.put("CNI_IFNAME", ifname.getBytes(StandardCharsets.UTF_8));
    v.put("CNI_NETNS", "/var/run/netns/x".getBytes(StandardCharsets.UTF_8));
    v.put("CNI_PATH", "/opt/cni/bin".getBytes(StandardCharsets.UTF_8));
    return v;
  }

  static Map<String, byte[]> with(Map<String, byte[]> v, String name, byte[] value) {
    Map<String, byte[]> out = new LinkedHashMap<>(v);
    out.put(name, value);
    return out;
  }

  static byte[] b(String s, int... more) {
    byte[] head = s.getBytes(StandardCharsets.UTF_8);
    byte[] out = Arrays.copyOf(head, head.length + more.length);
    for (int i = 0; i < more.length; i++) {
      out[head.length + i] = (byte) more[i];
    }
    return out;
  }

  /** {@code printf} octal escapes for every byte: the script stays ASCII whatever the bytes. */
  static String octal(byte[] bytes) {
    StringBuilder s = new StringBuilder();
    for (byte x : bytes) {
      s.append('\\').append(Integer.toOctalString(x & 0xFF));
    }
    return s.toString();
  }

  Out call(Map<String, byte[]> vars, byte[] stdin) {
    return call(vars, stdin, "", CniExec.JIPAM.toString());
  }

  Out call(Map<String, byte[]> vars, String stdin) {
    return call(vars, stdin.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Runs {@code command} through {@code sh} with exactly these variables (plus PATH), set from
   * their bytes; {@code redirect} is appended to the exec (for example {@code >&-}).
   */
  static Out call(Map<String, byte[]> vars, byte[] stdin, String redirect, String command) {
    StringBuilder script = new StringBuilder();
    for (Map.Entry<String, byte[]> e : vars.entrySet()) {
      // the trailing "." keeps a trailing newline of the value from command substitution
      script.append(e.getKey()).append("=\"$(printf '").append(octal(e.getValue())).append(".')\"; ")
          .append(e.getKey()).append("=\"${").append(e.getKey()).append("%.}\"; export ").append(e.getKey()).append("; ");
    }
    script.append("exec ").append(command).append(' ').append(redirect);
    Exec.Result r = Exec.run(null, List.of("/bin/sh", "-c", script.toString()), Map.of("PATH", Exec.PATH), stdin,
        Duration.ofSeconds(60));
    return new Out(r.exit(), r.stdout(), r.stderr());
  }

  /** Every file and directory under the data dir with its bytes; directories as "dir". */
  static Map<String, String> snapshot(Path dir) {
    Map<String, String> out = new TreeMap<>();
    if (!Files.exists(dir)) {
      return out;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        out.put(dir.relativize(p).toString(), Files.isRegularFile(p) ? Arrays.toString(Files.readAllBytes(p))
            : Files.isDirectory(p) ? "dir" : "other");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  // ------------------------------------------------------------------ configs

  String conf(String extraIpam) {
    return conf("1.0.0", "hostile", "'ranges':[[{'subnet':'198.18.40.0/29'}]]" + extraIpam, "");
  }

  /** A network with one address, held by the warm-up. */
  String full(String extraIpam) {
    return conf("1.0.0", "full", "'ranges':[[{'subnet':'198.18.41.0/24','rangeStart':'198.18.41.10',"
        + "'rangeEnd':'198.18.41.10'}]]" + extraIpam, "");
  }

  String conf(String version, String name, String ipamBody, String extraTop) {
    return ("{'cniVersion':'" + version + "','name':'" + name + "','type':'bridge'" + extraTop
        + ",'ipam':{'type':'jipam','dataDir':'" + dataDir + "'," + ipamBody + "}}").replace('\'', '"');
  }

  static String repeat(String item, int times) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < times; i++) {
      s.append(i == 0 ? "" : ",").append(item);
    }
    return s.toString();
  }

  // ------------------------------------------------------------------ the catalogue

  Stream<Arguments> failures() throws IOException {
    Path fifo = tmp.resolve("fifo");
    if (!Files.exists(fifo)) {
      assertEquals(0, CniExec.sh("mkfifo", fifo.toString()).length());
    }
    Path big = tmp.resolve("big-resolv.conf");
    Files.write(big, new byte[70_000]);
    Map<String, byte[]> add = vars("ADD", "c1", "eth0");
    List<Arguments> rows = new ArrayList<>();
    // defect 1 and 2: names checked on bytes, refused rather than merged (code 4)
    rows.add(row("ifname not UTF-8 (a\\xff)", with(add, "CNI_IFNAME", b("a", 0xff)), conf(""), 4, "CNI_IFNAME \"a\\xff\""));
    rows.add(row("ifname of nine \u00e9 (18 bytes)", with(add, "CNI_IFNAME", b("\u00e9".repeat(9))), conf(""), 4, "18 bytes"));
    rows.add(row("ifname with byte 0xA0 (kernel space)", with(add, "CNI_IFNAME", b("\u00e0")), conf(""), 4, "0xa0"));
    rows.add(row("container ID not UTF-8", with(add, "CNI_CONTAINERID", b("c", 0xfe)), conf(""), 4, "CNI_CONTAINERID \"c\\xfe\""));
    // defect 3: failed ADDs change nothing
    rows.add(row("pool exhausted", add, full(""), 100, "no IP addresses available"));
    rows.add(row("requested address taken", with(add, "CNI_ARGS", b("IP=198.18.41.10")), full(""), 101, "198.18.41.10"));
    // defect 5: resolvConf bounded
    rows.add(row("resolvConf /dev/zero", add, conf(",'resolvConf':'/dev/zero'"), 7, "/dev/zero is not a regular file"));
    rows.add(row("resolvConf a FIFO", add, conf(",'resolvConf':'" + fifo + "'"), 7, "is not a regular file"));
    rows.add(row("resolvConf a directory", add, conf(",'resolvConf':'/tmp'"), 7, "/tmp is not a regular file"));
    rows.add(row("resolvConf too large", add, conf(",'resolvConf':'" + big + "'"), 7, "larger than 65536"));
    // defect 8: NUL in paths
    rows.add(row("NUL in dataDir", add, conf("").replace(dataDir.toString(), dataDir + "\\u0000x"), 7, "ipam.dataDir"));
    rows.add(row("NUL in resolvConf", add, conf(",'resolvConf':'/etc/resolv.conf\\u0000'"), 7, "ipam.resolvConf"));
    // defect 9: malformed CNI_CONTAINERID / CNI_IFNAME
    for (String bad : List.of("a/b", "a\nb", "..", "-a", "a b")) {
      rows.add(row("CNI_CONTAINERID " + bad.replace("\n", "\\n"), with(add, "CNI_CONTAINERID", b(bad)), conf(""), 4, "CNI_CONTAINERID"));
    }
    for (String bad : List.of("a/b", "a\nb", "..", ".", "a:b", "sixteen-bytes-xx")) {
      rows.add(row("CNI_IFNAME " + bad.replace("\n", "\\n"), with(add, "CNI_IFNAME", b(bad)), conf(""), 4, "CNI_IFNAME"));
    }
    rows.add(row("DEL with CNI_IFNAME ..", with(vars("DEL", "c1", ".."), "CNI_NETNS", b("")), conf(""), 4, "CNI_IFNAME"));
    // defect 10: caps
    rows.add(row("50,000 one-range range sets", add,
        conf("1.0.0", "hostile", "'ranges':[" + repeat("[{'subnet':'198.18.40.0/29'}]", 50_000) + "]", ""), 7, "at most 64"));
    rows.add(row("config over 4 MiB", add, conf("1.0.0", "hostile", "'subnet':'198.18.40.0/29','x':'"
        + "a".repeat(5 << 20) + "'", ""), 7, "larger than 4194304"));
    // issue 17 item 13: the same limits as gRPC, from ipam-core
    rows.add(row("1,025 ranges in one range set", add, conf("1.0.0", "hostile", "'ranges':[["
        + repeat("{'subnet':'198.18.40.0/29'}", 1025) + "]]", ""), 7, "has 1025 ranges; jipam allows at most 1024"));
    rows.add(row("2,000 excludes", add, conf(",'exclude':[" + repeat("'198.18.40.3'", 2000) + "]"), 7, "at most 1024"));
    // defect 11: IP= that names no address
    for (String ip : List.of("IP=", "IP=,", "IP=198.18.40.3,", "IP=nope")) {
      rows.add(row("CNI_ARGS " + ip, with(add, "CNI_ARGS", b(ip)), conf(""), 4, "CNI_ARGS: IP"));
    }
    // CHECK as host-local: without prevResult, an attachment holding nothing is code 3
    rows.add(row("CHECK without prevResult, nothing held", vars("CHECK", "nobody", "eth0"), conf(""), 3, "nobody/eth0"));
    // classes the earlier probe found well handled
    rows.add(row("malformed JSON", add, "{\"cniVersion\":", 6, "line 1"));
    rows.add(row("not JSON at all", add, "\u00ff\u00fe garbage", 6, ""));
    rows.add(row("empty stdin", add, "", 6, "empty input"));
    rows.add(row("JSON nested 10,000 deep", add, "[".repeat(10_000), 6, "deeper"));
    rows.add(row("network name escaping via JSON escapes", add,
        conf("1.0.0", "\\u002e\\u002e/x", "'subnet':'198.18.40.0/29'", ""), 7, "../x"));
    rows.add(row("wrong type: ranges a string", add, conf("1.0.0", "hostile", "'ranges':'198.18.40.0/29'", ""), 7, "ranges"));
    rows.add(row("wrong type: subnet a number", add, conf("1.0.0", "hostile", "'subnet':42", ""), 7, "42"));
    rows.add(row("bad CIDR", add, conf("1.0.0", "hostile", "'subnet':'198.18.40.0/33'", ""), 7, "198.18.40.0/33"));
    rows.add(row("overlapping ranges", add, conf("1.0.0", "hostile",
        "'ranges':[[{'subnet':'198.18.40.0/29'}],[{'subnet':'198.18.40.0/30'}]]", ""), 7, "overlap"));
    rows.add(row("unsupported cniVersion", add, conf("9.9.9", "hostile", "'subnet':'198.18.40.0/29'", ""), 1, "9.9.9"));
    rows.add(row("unknown store type", add, conf(",'store':{'type':'redis'}"), 2, "redis"));
    rows.add(row("missing CNI_COMMAND", Map.of("CNI_PATH", b("/opt")), conf(""), 4, "CNI_COMMAND"));
    rows.add(row("unknown CNI_COMMAND", with(add, "CNI_COMMAND", b("EXPLODE")), conf(""), 4, "EXPLODE"));
    rows.add(row("missing CNI_NETNS on ADD", without(add, "CNI_NETNS"), conf(""), 4, "CNI_NETNS"));
    rows.add(row("unknown CNI_ARGS key", with(add, "CNI_ARGS", b("FOO=1")), conf(""), 4, "FOO"));
    // issue 17 item 3: pod namespace and name are Kubernetes names, refused (code 4) otherwise
    String k8s = "IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u;";
    rows.add(row("K8S_POD_NAMESPACE with escape codes", with(add, "CNI_ARGS",
        b(k8s + "K8S_POD_NAMESPACE=\u001b[2J\u001b[31mx;K8S_POD_NAME=web")), conf(""), 4,
        "CNI_ARGS: K8S_POD_NAMESPACE \"\\x1b[2J\\x1b[31mx\" is not a Kubernetes namespace"));
    rows.add(row("K8S_POD_NAME with a newline", with(add, "CNI_ARGS",
        b(k8s + "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web\nkube-system 198.18.0.1")), conf(""), 4,
        "CNI_ARGS: K8S_POD_NAME \"web\\x0akube-system 198.18.0.1\" is not a Kubernetes pod name"));
    rows.add(row("K8S_POD_NAMESPACE of 64 characters", with(add, "CNI_ARGS",
        b(k8s + "K8S_POD_NAMESPACE=" + "n".repeat(64) + ";K8S_POD_NAME=web")), conf(""), 4,
        "it is 64 characters long; at most 63"));
    rows.add(row("K8S_POD_NAME of 20,000 characters", with(add, "CNI_ARGS",
        b(k8s + "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=" + "p".repeat(20_000))), conf(""), 4,
        "(20000 characters) is not a Kubernetes pod name: it is 20000 characters long; at most 253"));
    rows.add(row("K8S_POD_NAME with uppercase and '_'", with(add, "CNI_ARGS",
        b(k8s + "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=Web_1")), conf(""), 4, "K8S_POD_NAME \"Web_1\""));
    issue22Rows(add, rows);
    return rows.stream();
  }

  /**
   * Issue 22: {@code sticky} and {@code reuseDelaySeconds} of the wrong type, shape or range, unknown
   * keys in {@code sticky} and in a {@code subPools} entry, a network name holding the sub-pool
   * separator (code 7).
   */
  private void issue22Rows(Map<String, byte[]> add, List<Arguments> rows) {
    String pods = "'pods':['db/*'],";
    String[][] cases = {
        {"sticky a string", "'sticky':'db/*'", "ipam.sticky must be an object, not \"db/*\""},
        {"sticky without pods", "'sticky':{}", "ipam.sticky.pods is missing or empty"},
        {"sticky.pods a string", "'sticky':{'pods':'db/*'}", "ipam.sticky.pods must be a list, not \"db/*\""},
        {"sticky.pods empty", "'sticky':{'pods':[]}", "ipam.sticky.pods is missing or empty"},
        {"sticky.pods entry a number", "'sticky':{'pods':[42]}", "ipam.sticky.pods entries must be strings, not 42"},
        {"sticky.pods glob uppercase", "'sticky':{'pods':['DB/*']}", "ipam.sticky.pods[0]: pattern \"DB/*\": namespace \"DB\""},
        {"sticky.pods glob without /", "'sticky':{'pods':['db']}", "pod pattern \"db\" must be NAMESPACE/NAME"},
        {"sticky.pods glob with two /", "'sticky':{'pods':['db/*','db/a/b']}", "ipam.sticky.pods[1]: pod pattern \"db/a/b\""},
        {"sticky.pods glob empty namespace", "'sticky':{'pods':['/web-*']}", "pattern \"/web-*\" has an empty namespace"},
        {"sticky.pods glob empty name", "'sticky':{'pods':['db/']}", "pattern \"db/\" has an empty name"},
        {"sticky.pods glob namespace of 300 characters", "'sticky':{'pods':['" + "n".repeat(300) + "/*']}",
            "(302 characters): its namespace is 300 characters long; at most 253"},
        {"sticky.pods glob name of 300 characters", "'sticky':{'pods':['db/" + "p".repeat(300) + "']}",
            "(303 characters): its name is 300 characters long; at most 253"},
        {"sticky.pods of 257 patterns", "'sticky':{'pods':[" + repeat("'db/web-*'", 257) + "]}",
            "ipam.sticky.pods has 257 patterns; jipam allows at most 256"},
        {"sticky.holdSeconds 0", "'sticky':{" + pods + "'holdSeconds':0}", "ipam.sticky.holdSeconds 0 is out of range: 1 to 2592000"},
        {"sticky.holdSeconds 2592001", "'sticky':{" + pods + "'holdSeconds':2592001}", "holdSeconds 2592001 is out of range"},
        {"sticky.holdSeconds a string", "'sticky':{" + pods + "'holdSeconds':'10'}", "holdSeconds must be an integer, not \"10\""},
        {"sticky.holdSeconds 1.5", "'sticky':{" + pods + "'holdSeconds':1.5}", "holdSeconds must be an integer, not 1.5"},
        {"sticky.holdSeconds 1e20", "'sticky':{" + pods + "'holdSeconds':99999999999999999999}", "holdSeconds must be an integer, not 1.0E20"},
        {"sticky.maxHeldPercent 0", "'sticky':{" + pods + "'maxHeldPercent':0}", "ipam.sticky.maxHeldPercent 0 is out of range: 1 to 100"},
        {"sticky.maxHeldPercent 101", "'sticky':{" + pods + "'maxHeldPercent':101}", "maxHeldPercent 101 is out of range: 1 to 100"},
        {"sticky.maxHeldPercent a list", "'sticky':{" + pods + "'maxHeldPercent':[25]}", "ipam.sticky.maxHeldPercent must be an integer"},
        {"reuseDelaySeconds -1", "'reuseDelaySeconds':-1", "ipam.reuseDelaySeconds -1 is out of range: 0 to 86400"},
        {"reuseDelaySeconds 86401", "'reuseDelaySeconds':86401", "ipam.reuseDelaySeconds 86401 is out of range: 0 to 86400"},
        {"reuseDelaySeconds a string", "'reuseDelaySeconds':'5'", "ipam.reuseDelaySeconds must be an integer, not \"5\""},
        {"reuseDelaySeconds 1e20", "'reuseDelaySeconds':1e20", "ipam.reuseDelaySeconds must be an integer, not 1.0E20"},
        {"reuseDelaySeconds true", "'reuseDelaySeconds':true", "ipam.reuseDelaySeconds must be an integer, not true"},
        {"sticky unknown key", "'sticky':{" + pods + "'hold':60}",
            "ipam.sticky: unknown key \"hold\"; sticky has pods, holdSeconds and maxHeldPercent"},
        {"sticky unknown key with escape codes", "'sticky':{" + pods + "'x\\u001b[2J':1}",
            "ipam.sticky: unknown key \"x\\x1b[2J\""},
        {"subPools entry unknown key", "'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.42.0/29'}]],'namespace':['db']}]",
            "ipam.subPools[0]: unknown key \"namespace\"; a sub-pool has name, ranges, namespaces, pods and nodes"},
    };
    for (String[] c : cases) {
      rows.add(row(c[0], add, conf("," + c[1]), 7, c[2]));
    }
    rows.add(row("network name holding the sub-pool separator", add, conf("1.0.0", "net+db",
        "'ranges':[[{'subnet':'198.18.40.0/29'}]]", ""), 7, "invalid network name \"net+db\""));
  }

  static Map<String, byte[]> without(Map<String, byte[]> v, String name) {
    Map<String, byte[]> out = new LinkedHashMap<>(v);
    out.remove(name);
    return out;
  }

  static Arguments row(String name, Map<String, byte[]> vars, String stdin, int code, String fragment) {
    return Arguments.of(name, vars, stdin, code, fragment);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("failures")
  void hostileInput_fails_withCodeNamingValue_dataDirUnchanged(String name, Map<String, byte[]> vars,
      String stdin, int code, String fragment) {
    Map<String, String> before = snapshot(dataDir);
    Out out = call(vars, stdin);
    assertNotEquals(0, out.exit, out::toString);
    Map<String, Object> error = out.json();
    assertEquals((long) code, error.get("code"), out::toString);
    assertTrue(((String) error.get("msg")).contains(fragment), () -> "message should contain " + fragment + ": " + out);
    assertEquals(before, snapshot(dataDir), "the data dir changed");
    assertFalse(out.stderr.contains("Exception"), out::toString);
  }

  // ------------------------------------------------------------------ classes needing several calls

  /** Defect 1: non-ASCII names and data dir without any locale, and files host-local wrote for them. */
  @Test
  void nonAsciiNames_withoutLocale_workAndHostLocalFilesDoNotBlockTheNetwork() throws Exception {
    Path d = tmp.resolve("d\u00e9j\u00e0");
    String c = conf("1.0.0", "ne", "'subnet':'198.18.42.0/29'", "").replace(dataDir.toString(), d.toString());
    Out add = call(vars("ADD", "c1", "\u00e9th0"), c);
    assertEquals(0, add.exit, add::toString);
    assertArrayEquals(b("c1\r\n\u00e9th0"), Files.readAllBytes(d.resolve("ne/198.18.42.2")));
    // a file host-local wrote for an interface name that is not UTF-8 does not stop the network
    Files.write(d.resolve("ne/198.18.42.5"), b("c9\r\na", 0xff));
    Out add2 = call(vars("ADD", "c2", "eth0"), c);
    assertEquals(0, add2.exit, add2::toString);
    assertEquals(0, call(with(vars("DEL", "c1", "\u00e9th0"), "CNI_NETNS", b("")), c).exit);
    assertFalse(Files.exists(d.resolve("ne/198.18.42.2")));
    assertTrue(Files.exists(d.resolve("ne/198.18.42.5")), "host-local's file is not jipam's to delete");
  }

  /** Defect 1: the JVM started without the launcher and without a locale: a non-ASCII data dir is code 7, not 999. */
  @Test
  void nonAsciiDataDir_jvmWithoutLauncherOrLocale_code7NamingDataDir() throws Exception {
    StringBuilder cp = new StringBuilder();
    try (Stream<Path> jars = Files.list(CniExec.DIST.resolve("lib"))) {
      for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
        cp.append(cp.length() == 0 ? "" : ":").append(jar);
      }
    }
    String java = ProcessHandle.current().info().command().orElse("java");
    String direct = java + " -cp " + cp + " io.jipam.plugin.JipamPlugin";
    String c = conf("").replace(dataDir.toString(), tmp.resolve("caf\u00e9").toString());
    Out out = call(vars("ADD", "c1", "eth0"), c.getBytes(StandardCharsets.UTF_8), "", direct);
    assertEquals(1, out.exit, out::toString);
    assertEquals(7L, out.json().get("code"), out::toString);
    assertTrue(((String) out.json().get("msg")).contains("ipam.dataDir"), out::toString);
    // an ASCII data dir works without the launcher, whatever the interface name's bytes
    Out ok = call(vars("ADD", "c7", "\u00e9\u00e9"), conf("").getBytes(StandardCharsets.UTF_8), "", direct);
    assertEquals(0, ok.exit, ok::toString);
    assertEquals(0, call(with(vars("DEL", "c7", "\u00e9\u00e9"), "CNI_NETNS", b("")), conf("")).exit);
  }

  /** Defect 2: a\xff, a\xfe and U+FFFD are three names; '*' and eth0 of one container two attachments. */
  @Test
  void collidingNames_keptApart() {
    String c = conf("1.0.0", "apart", "'subnet':'198.18.43.0/24'", "");
    Out star = call(vars("ADD", "c1", "*"), c);
    Out eth0 = call(vars("ADD", "c1", "eth0"), c);
    Out fffd = call(vars("ADD", "c1", "a\uFFFD"), c);
    assertEquals(0, star.exit + eth0.exit + fffd.exit, star + "\n" + eth0 + "\n" + fffd);
    assertNotEquals(address(star), address(eth0));
    assertNotEquals(address(eth0), address(fffd));
    assertEquals(4L, call(with(vars("ADD", "c1", ""), "CNI_IFNAME", b("a", 0xff)), c).json().get("code"));
    assertEquals(0, call(with(vars("DEL", "c1", "eth0"), "CNI_NETNS", b("")), c).exit);
    assertEquals(0, call(vars("CHECK", "c1", "*"), c).exit, "* keeps its address after eth0's DEL");
    assertEquals(0, call(vars("CHECK", "c1", "a\uFFFD"), c).exit);
  }

  static String address(Out out) {
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> ips = (List<Map<String, Object>>) out.json().get("ips");
    return (String) ips.get(0).get("address");
  }

  /** Defect 3: twenty failed ADDs, each followed by DEL, leave the data dir as it was. */
  @Test
  void failedAddThenDel_twentyCycles_dataDirUnchanged() {
    Map<String, String> before = snapshot(dataDir);
    for (int i = 0; i < 20; i++) {
      assertEquals(100L, call(vars("ADD", "late" + i, "eth0"), full("")).json().get("code"));
      assertEquals(0, call(with(vars("DEL", "late" + i, "eth0"), "CNI_NETNS", b("")), full("")).exit);
    }
    assertEquals(before, snapshot(dataDir));
  }

  /** Defect 4: a result that cannot be written is a failure (stdout closed, stdout a full device). */
  @Test
  void stdoutUnwritable_exitNonZero() {
    String c = conf("1.0.0", "mute", "'subnet':'198.18.44.0/24'", "");
    Out closed = call(vars("ADD", "c1", "eth0"), c.getBytes(StandardCharsets.UTF_8), ">&-", CniExec.JIPAM.toString());
    assertNotEquals(0, closed.exit, closed::toString);
    assertTrue(closed.stderr.contains("could not be written to stdout"), closed::toString);
    Out devFull = call(vars("ADD", "c2", "eth0"), c.getBytes(StandardCharsets.UTF_8), ">/dev/full", CniExec.JIPAM.toString());
    assertNotEquals(0, devFull.exit, devFull::toString);
    Out version = call(vars("VERSION", "c2", "eth0"), new byte[0], ">&-", CniExec.JIPAM.toString());
    assertNotEquals(0, version.exit, version::toString);
  }

  /**
   * stdin closed: the shim and the JVM launcher both answer code 6 "empty input" (the JVM alone
   * would read a file it opened itself on fd 0 as the network config), and nothing is written.
   */
  @Test
  void stdinClosed_shimAndJvmLauncher_code6EmptyInput() {
    Map<String, String> before = snapshot(dataDir);
    for (Path launcher : List.of(CniExec.JIPAM, CniExec.DIST.resolve("bin/jipam-jvm"))) {
      Out out = call(vars("ADD", "nostdin", "eth0"), new byte[0], "<&-", launcher.toString());
      assertEquals(1, out.exit, () -> launcher + ": " + out);
      assertEquals(6L, out.json().get("code"), () -> launcher + ": " + out);
      assertTrue(((String) out.json().get("msg")).contains("empty input"), () -> launcher + ": " + out);
    }
    assertEquals(before, snapshot(dataDir), "the data dir changed");
  }

  /** Defect 5: a resolv.conf with a Latin-1 comment is read. */
  @Test
  void resolvConfWithLatin1Comment_read() throws Exception {
    Path resolv = tmp.resolve("latin1.conf");
    Files.write(resolv, "# r\u00e9solveur\nnameserver 198.18.0.53\n".getBytes(StandardCharsets.ISO_8859_1));
    Out out = call(vars("ADD", "dns1", "eth0"), conf("1.0.0", "dns", "'subnet':'198.18.45.0/24','resolvConf':'" + resolv + "'", ""));
    assertEquals(0, out.exit, out::toString);
    assertTrue(out.stdout.contains("198.18.0.53"), out::toString);
  }

  /** Defect 6: a directory named like the next address is skipped, kept, and GC still works. */
  @Test
  void strayDirectoryInNetworkDir_skippedNotFatal() throws Exception {
    String c = conf("1.1.0", "stray", "'subnet':'198.18.46.0/24'", "");
    assertEquals(0, call(vars("ADD", "s1", "eth0"), c).exit);
    Files.createDirectories(dataDir.resolve("stray/198.18.46.3/inside"));
    Out next = call(vars("ADD", "s2", "eth0"), c);
    assertEquals(0, next.exit, next::toString);
    assertEquals("198.18.46.4/24", address(next));
    String gc = conf("1.1.0", "stray", "'subnet':'198.18.46.0/24'",
        ",'cni.dev/valid-attachments':[{'containerID':'s1','ifname':'eth0'}]");
    Out collected = call(Map.of("CNI_COMMAND", b("GC"), "CNI_PATH", b("/opt")), gc);
    assertEquals(0, collected.exit, collected::toString);
    assertTrue(Files.isDirectory(dataDir.resolve("stray/198.18.46.3/inside")));
    assertFalse(Files.exists(dataDir.resolve("stray/198.18.46.4")), "GC released s2");
  }

  /** Defect 7: the log pointed at stdout (by config or environment) never reaches stdout. */
  @Test
  void logFileIsStdout_resultStaysClean() {
    for (String target : List.of("/dev/stdout", "/proc/self/fd/1", "/dev/fd/1")) {
      Out byConfig = call(vars("ADD", "log1", "eth0"), conf(",'logFile':'" + target + "'"));
      assertEquals(0, byConfig.exit, byConfig::toString);
      assertEquals(java.util.Set.of("cniVersion", "ips", "dns"), byConfig.json().keySet(), byConfig::toString);
      Out byEnv = call(with(vars("ADD", "log1", "eth0"), "JIPAM_LOG_FILE", b(target)), conf(""));
      assertEquals(0, byEnv.exit, byEnv::toString);
      byEnv.json();
    }
    assertEquals(0, call(with(vars("DEL", "log1", "eth0"), "CNI_NETNS", b("")), conf("")).exit);
  }

  /** CHECK without prevResult, as host-local: success when the attachment holds its addresses. */
  @Test
  void checkWithoutPrevResult_heldAttachment_succeeds() {
    Out out = call(vars("CHECK", "warm", "eth0"), conf(""));
    assertEquals(0, out.exit, out::toString);
    assertEquals("", out.stdout);
  }
}
