package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.cni.JsonReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conformance: the same configs and environments given to the reference host-local
 * ({@code /usr/lib/cni/host-local}) and to jipam give the same results, call by call. Where
 * host-local answers its generic code 999, jipam must answer a specific code instead; where
 * jipam deliberately differs, the test says so.
 */
class HostLocalConformanceIT {
  private static final String K8S_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod";
  /** The network name of every config here. */
  static final String NETWORK = "conf-net";

  @TempDir Path tmp;

  @BeforeAll
  static void referencePluginPresent() {
    boolean present = Files.isExecutable(CniExec.HOST_LOCAL);
    if (CniExec.underCi()) {
      assertTrue(present, CniExec.HOST_LOCAL + " is missing: apt-get install containernetworking-plugins");
    }
    assumeTrue(present, CniExec.HOST_LOCAL + " is missing: apt-get install containernetworking-plugins");
    assertTrue(Files.isExecutable(CniExec.JIPAM), CniExec.JIPAM + " is missing: build with ./mvnw package");
  }

  /** A network config for both plugins; {@code DATADIR} and {@code TYPE} are filled in per plugin. */
  private static String conf(String version, String ipamBody, String extraTop) {
    return ("{'cniVersion':'" + version + "','name':'" + NETWORK + "','type':'bridge'" + extraTop
        + ",'ipam':{'type':'TYPE','dataDir':'DATADIR'," + ipamBody + "}}").replace('\'', '"');
  }

  static Stream<Arguments> scenarios() {
    List<Arguments> all = new ArrayList<>();
    for (String v : List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0")) {
      all.add(Arguments.of("single v4, round-robin after release, cniVersion " + v,
          conf(v, "'subnet':'198.18.0.0/24'", ""),
          List.of("ADD c1", "ADD c2", "DEL c1", "ADD c3", "DEL unknown", "DEL c2", "ADD c4")));
    }
    all.add(Arguments.of("dual stack with routes",
        conf("1.0.0", "'ranges':[[{'subnet':'198.18.2.0/24'}],[{'subnet':'fd00:18:2::/64'}]],"
            + "'routes':[{'dst':'0.0.0.0/0'},{'dst':'::/0','gw':'fd00:18:2::1'}]", ""),
        List.of("ADD a", "ADD b", "DEL a", "ADD c")));
    all.add(Arguments.of("several subnets in one range set, bounds, exhaustion",
        conf("0.4.0", "'ranges':[[{'subnet':'198.18.3.0/24','rangeStart':'198.18.3.250','rangeEnd':'198.18.3.252'},"
            + "{'subnet':'198.18.4.0/24','rangeStart':'198.18.4.10','rangeEnd':'198.18.4.11','gateway':'198.18.4.254'}]]", ""),
        List.of("ADD a", "ADD b", "ADD c", "ADD d", "ADD e", "ADD f", "DEL c", "ADD g", "ADD h")));
    all.add(Arguments.of("legacy top-level subnet with gateway and rangeStart",
        conf("0.3.1", "'subnet':'198.18.5.0/28','gateway':'198.18.5.14','rangeStart':'198.18.5.12'", ""),
        List.of("ADD a", "ADD b", "ADD c", "DEL a", "ADD d")));
    all.add(Arguments.of("requested address through CNI_ARGS IP",
        conf("1.0.0", "'subnet':'198.18.6.0/24'", ""),
        List.of("ADD a IP=198.18.6.77", "ADD b", "ADD c IP=198.18.6.77", "ADD d IP=198.18.7.1", "ADD e IP=198.18.6.1")));
    all.add(Arguments.of("requested address through runtimeConfig.ips",
        conf("1.0.0", "'subnet':'198.18.8.0/24'", ",'runtimeConfig':{'ips':['198.18.8.40/24']}"),
        List.of("ADD a", "DEL a", "ADD b")));
    all.add(Arguments.of("requested address through args.cni.ips",
        conf("1.0.0", "'subnet':'198.18.9.0/24'", ",'args':{'cni':{'ips':['198.18.9.41']}}"),
        List.of("ADD a", "ADD b")));
    all.add(Arguments.of("gateways outside their subnets: a routed IPv4 one and an IPv6 link-local one",
        conf("1.0.0", "'ranges':[[{'subnet':'198.18.11.0/29','gateway':'169.254.1.1'}],"
            + "[{'subnet':'fd00:18:b::/120','gateway':'fe80::1'}]]", ""),
        List.of("ADD a", "ADD b", "DEL a", "ADD c")));
    all.add(Arguments.of("IPv6 only, /120",
        conf("1.0.0", "'ranges':[[{'subnet':'fd00:18:a::/120','rangeStart':'fd00:18:a::fd'}]]", ""),
        List.of("ADD a", "ADD b", "ADD c", "ADD d", "DEL b", "ADD e")));
    // explicit bounds at the network address or the IPv4 broadcast: host-local hands them out
    // (only the gateway is skipped) and accepts them when asked for
    all.add(Arguments.of("explicit bounds at network and broadcast, /29",
        conf("1.0.0", "'ranges':[[{'subnet':'198.18.14.0/29','rangeStart':'198.18.14.0','rangeEnd':'198.18.14.7'}]]", ""),
        List.of("ADD a", "ADD b", "ADD c", "ADD d", "ADD e", "ADD f", "ADD g", "ADD h", "DEL a", "ADD i")));
    all.add(Arguments.of("explicit rangeEnd at the broadcast of a /8",
        conf("1.0.0", "'ranges':[[{'subnet':'198.0.0.0/8','rangeStart':'198.255.255.254','rangeEnd':'198.255.255.255'}]]", ""),
        List.of("ADD a", "ADD b", "ADD c")));
    all.add(Arguments.of("IPv6 rangeStart at the subnet-router address, /126",
        conf("1.0.0", "'ranges':[[{'subnet':'fd00:18:c::/126','rangeStart':'fd00:18:c::'}]]", ""),
        List.of("ADD a", "ADD b", "ADD c", "ADD d")));
    all.add(Arguments.of("/30 with a gateway outside it and rangeStart at the network address",
        conf("1.0.0", "'ranges':[[{'subnet':'198.18.15.0/30','rangeStart':'198.18.15.0','gateway':'169.254.1.1'}]]", ""),
        List.of("ADD a", "ADD b", "ADD c", "ADD d")));
    all.add(Arguments.of("network and broadcast asked for inside explicit bounds, and the gateway",
        conf("1.0.0", "'subnet':'198.18.16.0/29','rangeStart':'198.18.16.0','rangeEnd':'198.18.16.7'", ""),
        List.of("ADD a IP=198.18.16.0", "ADD b IP=198.18.16.7", "ADD c IP=198.18.16.1", "DEL a", "ADD d IP=198.18.16.0")));
    all.add(Arguments.of("network asked for through runtimeConfig.ips inside explicit bounds",
        conf("1.0.0", "'ranges':[[{'subnet':'fd00:18:d::/120','rangeStart':'fd00:18:d::'}]]",
            ",'runtimeConfig':{'ips':['fd00:18:d::/120']}"),
        List.of("ADD a", "ADD b", "DEL a", "ADD c")));
    // (no ADD after these refusals: host-local moves its cursor over the address it allocated and
    // released for the refused call, which jipam does not)
    all.add(Arguments.of("network and broadcast asked for outside the default bounds",
        conf("1.0.0", "'subnet':'198.18.17.0/29'", ""),
        List.of("ADD a IP=198.18.17.0", "ADD b IP=198.18.17.7")));
    return all.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("scenarios")
  void sequence_sameCallsToBothPlugins_sameResults(String name, String conf, List<String> steps)
      throws Exception {
    Path resolv = tmp.resolve("resolv.conf");
    Files.writeString(resolv, "nameserver 198.18.0.53\nsearch conf.test\n");
    Plugin reference = new Plugin(CniExec.HOST_LOCAL, "host-local", tmp.resolve("reference"));
    Plugin jipam = jipam(tmp.resolve("jipam"));
    for (String step : steps) {
      CniExec.Result want = reference.call(conf, step);
      CniExec.Result got = jipam.call(conf, step);
      String context = name + " / " + step + "\nhost-local: " + want + "\njipam: " + got;
      assertEquals(want.exit() == 0, got.exit() == 0, context);
      Map<String, Object> wantJson = json(want.stdout());
      Map<String, Object> gotJson = json(got.stdout());
      if (want.exit() == 0) {
        assertEquals(wantJson, gotJson, context);
      } else {
        assertErrorCodesAgree(wantJson, gotJson, context);
      }
    }
    // both stores hold the same addresses for the same containers at the end
    assertEquals(addressFiles(reference), addressFiles(jipam), name);
  }

  static Stream<Arguments> badInputs() {
    return Stream.of(
        Arguments.of("host bits set", conf("1.0.0", "'subnet':'198.18.0.5/24'", ""), Map.of(), 7, "198.18.0.0"),
        Arguments.of("unsupported cniVersion", conf("0.9.9", "'subnet':'198.18.0.0/24'", ""), Map.of(), 1, "0.9.9"),
        Arguments.of("not JSON", "{\"cniVersion\": ", Map.of(), 6, "JSON"),
        Arguments.of("rangeStart outside subnet", conf("1.0.0", "'subnet':'198.18.0.0/24','rangeStart':'198.19.0.1'", ""),
            Map.of(), 7, "198.19.0.1"),
        Arguments.of("overlapping range sets",
            conf("1.0.0", "'ranges':[[{'subnet':'198.18.0.0/24'}],[{'subnet':'198.18.0.0/25'}]]", ""), Map.of(), 7, "overlaps"),
        Arguments.of("no CNI_CONTAINERID", conf("1.0.0", "'subnet':'198.18.0.0/24'", ""),
            Map.of("CNI_CONTAINERID", ""), 4, "CNI_CONTAINERID"),
        Arguments.of("no CNI_IFNAME", conf("1.0.0", "'subnet':'198.18.0.0/24'", ""),
            Map.of("CNI_IFNAME", ""), 4, "CNI_IFNAME"),
        Arguments.of("unknown CNI_ARGS key", conf("1.0.0", "'subnet':'198.18.0.0/24'", ""),
            Map.of("CNI_ARGS", "FOO=bar"), 4, "FOO"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInputs")
  void add_badInput_bothFail_jipamWithSpecCodeNamingValue_nothingWritten(String name, String conf,
      Map<String, String> envChanges, int jipamCode, String named) throws Exception {
    Plugin reference = new Plugin(CniExec.HOST_LOCAL, "host-local", tmp.resolve("reference"));
    Plugin jipam = jipam(tmp.resolve("jipam"));
    CniExec.Result want = reference.call(conf, "ADD c1", envChanges);
    CniExec.Result got = jipam.call(conf, "ADD c1", envChanges);
    assertNotEquals(0, want.exit(), "host-local accepted " + name + ": " + want);
    assertNotEquals(0, got.exit(), "jipam accepted " + name + ": " + got);
    Map<String, Object> error = json(got.stdout());
    assertEquals((long) jipamCode, error.get("code"), got.toString());
    assertTrue(((String) error.get("msg")).contains(named), got.toString());
    assertErrorCodesAgree(json(want.stdout()), error, name);
    assertEquals(List.of(), addressFiles(jipam), "jipam wrote an allocation for bad input");
  }

  @Test
  void add_repeatedForSameAttachment_hostLocalRefuses_jipamReturnsHeldAddress() throws Exception {
    // A deliberate difference: runtimes retry ADD after timeouts, and host-local's refusal leaves
    // the runtime without the result of an allocation that exists; jipam returns it again.
    String conf = conf("1.0.0", "'subnet':'198.18.11.0/24'", "");
    Plugin reference = new Plugin(CniExec.HOST_LOCAL, "host-local", tmp.resolve("reference"));
    Plugin jipam = jipam(tmp.resolve("jipam"));
    CniExec.Result firstJipam = jipam.call(conf, "ADD a");
    assertEquals(0, reference.call(conf, "ADD a").exit());
    assertNotEquals(0, reference.call(conf, "ADD a").exit(), "host-local refuses a repeated ADD");
    CniExec.Result again = jipam.call(conf, "ADD a");
    assertEquals(0, again.exit(), again.toString());
    assertEquals(json(firstJipam.stdout()), json(again.stdout()));
    assertEquals(1, addressFiles(jipam).size());
  }

  @Test
  void add_resolvConf_dnsSectionMatches() throws Exception {
    Path resolv = tmp.resolve("resolv.conf");
    // hand-edited lines as host-local reads them: a trailing comment or token, a bare domain line,
    // a no-break space (Go's white space), a carriage return
    Files.writeString(resolv, "nameserver 198.18.0.53\nnameserver  fd00::53  # c\nnameserver 198.18.0.54 extra\r\n"
        + "domain conf.test\ndomain\nsearch a.conf.test b.conf.test\noptions ndots:3 timeout:1\n"
        + "nameserver 198.18.0.55\u00a0# nbsp\n");
    String conf = conf("1.0.0", "'subnet':'198.18.12.0/24','resolvConf':'" + resolv + "'", "");
    CniExec.Result want = new Plugin(CniExec.HOST_LOCAL, "host-local", tmp.resolve("r")).call(conf, "ADD a");
    CniExec.Result got = jipam(tmp.resolve("j")).call(conf, "ADD a");
    assertEquals(0, got.exit(), got.toString());
    assertEquals(json(want.stdout()), json(got.stdout()));
  }

  @Test
  void switchingPlugins_sameDataDir_neitherLosesNorDuplicates() throws Exception {
    String conf = conf("1.0.0", "'subnet':'198.18.13.0/24'", "");
    Plugin jipam = jipam(tmp.resolve("shared"));
    Plugin reference = jipam.sharing(CniExec.HOST_LOCAL, "host-local");
    String a = firstAddress(reference.call(conf, "ADD a"));
    String b = firstAddress(jipam.call(conf, "ADD b"));
    String c = firstAddress(reference.call(conf, "ADD c"));
    String d = firstAddress(jipam.call(conf, "ADD d"));
    assertEquals(List.of("198.18.13.2/24", "198.18.13.3/24", "198.18.13.4/24", "198.18.13.5/24"),
        List.of(a, b, c, d), "round-robin continues across plugins");
    assertEquals(0, reference.call(conf, "DEL b").exit());
    assertEquals(0, jipam.call(conf, "DEL c").exit());
    assertEquals(List.of("198.18.13.2", "198.18.13.5"), addressFiles(jipam));
    // jipam must see that host-local released b's address, and hand it out again in turn
    assertEquals(0, jipam.call(conf, "DEL a").exit());
    assertEquals(List.of("198.18.13.5"), addressFiles(jipam));
  }

  private static String firstAddress(CniExec.Result r) {
    assertEquals(0, r.exit(), r.toString());
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> ips = (List<Map<String, Object>>) json(r.stdout()).get("ips");
    return (String) ips.get(0).get("address");
  }

  private static void assertErrorCodesAgree(Map<String, Object> want, Map<String, Object> got, String context) {
    long wantCode = (Long) want.get("code");
    long gotCode = (Long) got.get("code");
    if (wantCode == 999) {
      // host-local's catch-all: jipam must say something specific
      assertNotEquals(999L, gotCode, context);
    } else {
      assertEquals(wantCode, gotCode, context);
    }
    assertTrue(got.get("msg") instanceof String s && !s.isBlank(), context);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> json(String text) {
    return text.isBlank() ? Map.of() : (Map<String, Object>) JsonReader.parse(text.getBytes());
  }

  /** The address files of the plugin's network in its data dir (host-local's layout), sorted. */
  static List<String> addressFiles(Plugin plugin) throws Exception {
    Path dir = plugin.dataDir().resolve(plugin.network());
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    Set<String> notAddresses = Set.of("lock");
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString())
          .filter(n -> !notAddresses.contains(n) && !n.startsWith("last_reserved_ip") && !n.startsWith("."))
          .sorted().toList();
    }
  }

  /** jipam with its own data dir; {@link HostLocalConformanceDaemonIT} runs it in daemon mode. */
  Plugin jipam(Path dataDir) throws Exception {
    return new Plugin(CniExec.JIPAM, "jipam", dataDir);
  }

  /**
   * One plugin with its data dir and the name its calls give the network ({@link #NETWORK} in
   * every config above, unless a plugin shares a data dir with other tests' networks). With {@code
   * daemon} (an {@code ipam.daemon} value), the config names it; with {@code twin}, every call also
   * runs through that executable, which must print the same bytes and exit the same (the call's
   * repeat changes nothing: see {@link HostLocalConformanceDaemonIT}).
   */
  record Plugin(Path executable, String type, Path dataDir, String daemon, Path twin, String network) {
    Plugin(Path executable, String type, Path dataDir) {
      this(executable, type, dataDir, null, null, NETWORK);
    }

    /** Another plugin on this one's data dir and network. */
    Plugin sharing(Path otherExecutable, String otherType) {
      return new Plugin(otherExecutable, otherType, dataDir, null, null, network);
    }

    CniExec.Result call(String conf, String step) {
      return call(conf, step, Map.of());
    }

    CniExec.Result call(String conf, String step, Map<String, String> envChanges) {
      String[] parts = step.split(" ");
      Map<String, String> env = CniExec.env(parts[0], parts[1], "eth0", "/var/run/netns/" + parts[1]);
      env.put("CNI_ARGS", parts.length > 2 ? K8S_ARGS + ";" + parts[2] : K8S_ARGS);
      env.putAll(envChanges);
      env.values().removeIf(String::isEmpty);
      String stdin = conf.replace("\"name\":\"" + NETWORK + "\"", "\"name\":\"" + network + "\"")
          .replace("DATADIR", dataDir.toString()).replace("\"TYPE\"",
          daemon == null ? "\"" + type + "\"" : "\"" + type + "\",\"daemon\":" + daemon);
      CniExec.Result result = CniExec.run(executable, env, stdin);
      if (twin != null) {
        CniExec.Result again = CniExec.run(twin, env, stdin);
        String context = step + "\n" + executable + ": " + result + "\n" + twin + ": " + again;
        assertEquals(again.exit(), result.exit(), context);
        assertEquals(again.stdout(), result.stdout(), context);
      }
      return result;
    }
  }
}
