package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class NetworkConfigTest {

  static NetworkConfig parse(String json) {
    return NetworkConfig.from(JsonReader.parse(json.replace('\'', '"').getBytes(StandardCharsets.UTF_8)));
  }

  static String repeat(String item, int times) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < times; i++) {
      b.append(i == 0 ? "" : ",").append(item);
    }
    return b.toString();
  }

  /** {@code n} distinct quoted addresses of 198.18.0.0/16, comma-separated. */
  static String ips(int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : ",").append("'198.18.").append(i / 250).append('.').append(i % 250 + 2).append('\'');
    }
    return b.toString();
  }

  static String conf(String ipamBody) {
    return "{'cniVersion':'1.0.0','name':'net1','type':'bridge','ipam':{'type':'jipam'," + ipamBody + "}}";
  }

  @Test
  void from_hostLocalStyleConfig_readsEveryKey(@TempDir Path dir) throws Exception {
    Path resolv = dir.resolve("resolv.conf");
    Files.writeString(resolv, "# comment\nnameserver 198.18.0.53\nnameserver fd00::53\n"
        + "domain example.test\nsearch a.test b.test\noptions ndots:2\n");
    NetworkConfig c = parse(conf("'ranges':[[{'subnet':'198.18.0.0/24','rangeStart':'198.18.0.10',"
        + "'rangeEnd':'198.18.0.20','gateway':'198.18.0.254'}],[{'subnet':'fd00:10::/64'}]],"
        + "'routes':[{'dst':'0.0.0.0/0'},{'dst':'198.19.0.0/16','gw':'198.18.0.254'}],"
        + "'resolvConf':'" + resolv + "','dataDir':'/tmp/x','order':'lowest-free'"));
    assertEquals(CniVersion.V1_0_0, c.cniVersion());
    assertEquals("net1", c.ipam().pool().name());
    assertEquals(2, c.ipam().pool().rangeSets().size());
    var range = c.ipam().pool().rangeSets().get(0).ranges().get(0);
    assertEquals(IpAddress.parse("198.18.0.10"), range.rangeStart());
    assertEquals(IpAddress.parse("198.18.0.254"), range.gateway());
    var v6 = c.ipam().pool().rangeSets().get(1).ranges().get(0);
    assertEquals(IpAddress.parse("fd00:10::1"), v6.gateway());
    assertEquals(IpAddress.parse("fd00:10::ffff:ffff:ffff:ffff"), v6.rangeEnd());
    assertEquals(AllocationOrder.LOWEST_FREE, c.ipam().pool().order());
    assertEquals(2, c.ipam().routes().size());
    assertNull(c.ipam().routes().get(0).gw());
    assertEquals(List.of("198.18.0.53", "fd00::53"), c.ipam().dns().nameservers());
    assertEquals("example.test", c.ipam().dns().domain());
    assertEquals(List.of("a.test", "b.test"), c.ipam().dns().search());
    assertEquals(List.of("ndots:2"), c.ipam().dns().options());
    assertEquals(Path.of("/tmp/x"), c.ipam().dataDir());
    assertEquals("host-local", c.ipam().storeType());
  }

  @Test
  void from_legacyTopLevelSubnet_becomesFirstRangeSet() {
    NetworkConfig c = parse(conf("'subnet':'198.18.1.0/24','rangeStart':'198.18.1.100',"
        + "'ranges':[[{'subnet':'fd00:11::/120'}]]"));
    assertEquals(2, c.ipam().pool().rangeSets().size());
    assertEquals(IpAddress.parse("198.18.1.100"),
        c.ipam().pool().rangeSets().get(0).ranges().get(0).rangeStart());
    assertEquals(IpAddress.parse("198.18.1.254"),
        c.ipam().pool().rangeSets().get(0).ranges().get(0).rangeEnd());
    assertEquals(IpamConfig.DEFAULT_DATA_DIR, c.ipam().dataDir());
  }

  @Test
  void from_requestedIpsInRuntimeConfigAndArgs_collectedWithoutDuplicates() {
    NetworkConfig c = NetworkConfig.from(JsonReader.parse(("{'cniVersion':'1.0.0','name':'n','ipam':{"
        + "'type':'jipam','subnet':'198.18.0.0/24'},'runtimeConfig':{'ips':['198.18.0.5/24']},"
        + "'args':{'cni':{'ips':['198.18.0.5','fd00::7']}}}").replace('\'', '"').getBytes()));
    assertEquals(List.of(IpAddress.parse("198.18.0.5"), IpAddress.parse("fd00::7")), c.requestedIps());
  }

  @Test
  void from_gcAttachmentsUnderEitherKey_readsBoth() {
    for (String key : List.of("cni.dev/valid-attachments", "cni.dev/attachments")) {
      NetworkConfig c = NetworkConfig.from(JsonReader.parse(("{'cniVersion':'1.1.0','name':'n','ipam':{"
          + "'type':'jipam','subnet':'198.18.0.0/24'},'" + key + "':[{'containerID':'abc','ifname':'eth0'}]}")
          .replace('\'', '"').getBytes()));
      assertEquals(Set.of(new Attachment("abc", "eth0")), c.validAttachments(), key);
    }
  }

  static Stream<Arguments> badConfigs() {
    return Stream.of(
        Arguments.of("{", ErrorCode.DECODE_FAILURE, "invalid JSON"),
        Arguments.of("[1]", ErrorCode.DECODE_FAILURE, "a list"),
        Arguments.of("{'name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'}}",
            ErrorCode.INCOMPATIBLE_VERSION, "no cniVersion"),
        Arguments.of("{'cniVersion':'0.2.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'}}",
            ErrorCode.INCOMPATIBLE_VERSION, "0.2.0"),
        Arguments.of("{'cniVersion':'1.0.0','ipam':{'type':'jipam','subnet':'198.18.0.0/24'}}",
            ErrorCode.INVALID_CONFIG, "no network name"),
        Arguments.of("{'cniVersion':'1.0.0','name':'../etc','ipam':{'type':'jipam','subnet':'198.18.0.0/24'}}",
            ErrorCode.INVALID_CONFIG, "../etc"),
        Arguments.of("{'cniVersion':'1.0.0','name':'n'}", ErrorCode.INVALID_CONFIG, "no ipam section"),
        Arguments.of(conf("'x':1").replace("'type':'jipam',", ""), ErrorCode.INVALID_CONFIG, "ipam.type"),
        Arguments.of(conf("'routes':[]"), ErrorCode.INVALID_CONFIG, "no ranges"),
        Arguments.of(conf("'subnet':'198.18.0.5/24'"), ErrorCode.INVALID_CONFIG, "198.18.0.0"),
        Arguments.of(conf("'subnet':'198.18.0.0/33'"), ErrorCode.INVALID_CONFIG, "198.18.0.0/33"),
        Arguments.of(conf("'subnet':'banana'"), ErrorCode.INVALID_CONFIG, "banana"),
        Arguments.of(conf("'subnet':'198.18.0.0/31'"), ErrorCode.INVALID_CONFIG, "198.18.0.0/31"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','rangeStart':'198.18.1.5'"), ErrorCode.INVALID_CONFIG, "198.18.1.5"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','rangeStart':'198.18.0.50','rangeEnd':'198.18.0.40'"),
            ErrorCode.INVALID_CONFIG, "198.18.0.50"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','gateway':'fd00::1'"), ErrorCode.INVALID_CONFIG, "fd00::1"), // a gateway outside the subnet is taken (host-local), not one of another family
        Arguments.of(conf("'subnet':'198.18.0.0/24','rangeEnd':'x.y'"), ErrorCode.INVALID_CONFIG, "x.y"),
        Arguments.of(conf("'ranges':[[{'subnet':'198.18.0.0/24'},{'subnet':'fd00::/64'}]]"),
            ErrorCode.INVALID_CONFIG, "fd00::/64"),
        Arguments.of(conf("'ranges':[[{'subnet':'198.18.0.0/24'},{'subnet':'198.18.0.0/25'}]]"),
            ErrorCode.INVALID_CONFIG, "overlap"),
        Arguments.of(conf("'ranges':[[{'subnet':'198.18.0.0/24'}],[{'subnet':'198.18.0.128/25'}]]"),
            ErrorCode.INVALID_CONFIG, "198.18.0.129-198.18.0.254"),
        Arguments.of(conf("'ranges':[]]"), ErrorCode.DECODE_FAILURE, "line 1"),
        Arguments.of(conf("'ranges':[[]]"), ErrorCode.INVALID_CONFIG, "ipam.ranges[0]"),
        Arguments.of(conf("'ranges':['198.18.0.0/24']"), ErrorCode.INVALID_CONFIG, "ipam.ranges[0]"),
        Arguments.of(conf("'ranges':[[{'rangeStart':'198.18.0.1'}]]"), ErrorCode.INVALID_CONFIG, "subnet is missing"),
        Arguments.of(conf("'ranges':[[{'subnet':42}]]"), ErrorCode.INVALID_CONFIG, "42"),
        Arguments.of(conf("'subnet':'fd00::/32'"), ErrorCode.INVALID_CONFIG, "2^64"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','order':'random'"), ErrorCode.INVALID_CONFIG, "random"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','exclude':['198.18.0.7/24']"), ErrorCode.INVALID_CONFIG, "198.18.0.7/24"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','routes':[{'dst':'nowhere'}]"), ErrorCode.INVALID_CONFIG, "nowhere"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','routes':[{'gw':'198.18.0.1'}]"), ErrorCode.INVALID_CONFIG, "dst"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','resolvConf':'/nonexistent/resolv.conf'"),
            ErrorCode.INVALID_CONFIG, "/nonexistent/resolv.conf"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','store':'etcd'"), ErrorCode.INVALID_CONFIG, "ipam.store"),
        Arguments.of("{'cniVersion':'1.0.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'},"
            + "'runtimeConfig':{'ips':['198.18.0.300']}}", ErrorCode.INVALID_CONFIG, "198.18.0.300"),
        Arguments.of("{'cniVersion':'1.1.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'},"
            + "'cni.dev/valid-attachments':[{'containerID':'a/b','ifname':'eth0'}]}", ErrorCode.INVALID_CONFIG, "a/b"),
        // issue 7, defect 8: a NUL in a path is code 7 naming the key, not 999
        Arguments.of(conf("'subnet':'198.18.0.0/24','dataDir':'/tmp/a\\u0000b'"), ErrorCode.INVALID_CONFIG, "ipam.dataDir"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','resolvConf':'/etc/\\u0000'"), ErrorCode.INVALID_CONFIG, "ipam.resolvConf"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','logFile':'/tmp/\\u0000'"), ErrorCode.INVALID_CONFIG, "ipam.logFile"),
        // issue 7, defect 10: caps on the config's lists
        Arguments.of(conf("'ranges':[" + repeat("[{'subnet':'198.18.0.0/24'}]", IpamConfig.MAX_RANGE_SETS + 1) + "]"),
            ErrorCode.INVALID_CONFIG, "ipam.ranges has 65 range sets; jipam allows at most 64"),
        Arguments.of(conf("'ranges':[[" + repeat("{'subnet':'198.18.0.0/24'}", IpamConfig.MAX_RANGES_PER_SET + 1) + "]]"),
            ErrorCode.INVALID_CONFIG, "ipam.ranges[0] has 1025 ranges"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','exclude':[" + repeat("'198.18.0.9'", IpamConfig.MAX_EXCLUDES + 1) + "]"),
            ErrorCode.INVALID_CONFIG, "ipam.exclude has 1025 entries"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','routes':[" + repeat("{'dst':'0.0.0.0/0'}", IpamConfig.MAX_ROUTES + 1) + "]"),
            ErrorCode.INVALID_CONFIG, "ipam.routes has 1025 routes"),
        // requested addresses: jipamd de-duplicated tens of thousands in quadratic time on its event loop
        Arguments.of("{'cniVersion':'1.0.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/16'},"
            + "'runtimeConfig':{'ips':[" + ips(Limits.MAX_REQUESTED_IPS + 1) + "]}}", ErrorCode.INVALID_CONFIG,
            "runtimeConfig.ips has 65 entries; jipam allows at most 64"),
        Arguments.of("{'cniVersion':'1.0.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/16'},"
            + "'args':{'cni':{'ips':[" + ips(40_000) + "]}}}", ErrorCode.INVALID_CONFIG,
            "args.cni.ips has 40000 entries; jipam allows at most 64"),
        // issue 7, defect 5: resolvConf must be a regular file
        Arguments.of(conf("'subnet':'198.18.0.0/24','resolvConf':'/dev/zero'"), ErrorCode.INVALID_CONFIG, "/dev/zero is not a regular file"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','resolvConf':'/tmp'"), ErrorCode.INVALID_CONFIG, "/tmp is not a regular file"),
        Arguments.of("{'cniVersion':'1.1.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'},"
            + "'cni.dev/valid-attachments':[{'containerID':'a','ifname':'a\\udcff'}]}", ErrorCode.INVALID_CONFIG, "a\\xff"),
        // a GC entry without a key named the missing value "null"
        Arguments.of("{'cniVersion':'1.1.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'},"
            + "'cni.dev/valid-attachments':[{'containerID':'a'}]}", ErrorCode.INVALID_CONFIG,
            "cni.dev/valid-attachments[0] has no \"ifname\": each entry names a containerID and an ifname"),
        Arguments.of("{'cniVersion':'1.1.0','name':'n','ipam':{'type':'jipam','subnet':'198.18.0.0/24'},"
            + "'cni.dev/attachments':[{'containerID':'a','ifname':'eth0'},{'ifname':'eth0'}]}", ErrorCode.INVALID_CONFIG,
            "cni.dev/attachments[1] has no \"containerID\""),
        // issue 22: sticky and reuseDelaySeconds
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{}"), ErrorCode.INVALID_CONFIG,
            "ipam.sticky.pods is missing or empty"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/[a]']}"), ErrorCode.INVALID_CONFIG,
            "ipam.sticky.pods[0]: pattern \"db/[a]\": name \"[a]\" may hold only"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db']}"), ErrorCode.INVALID_CONFIG,
            "pod pattern \"db\" must be NAMESPACE/NAME"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['/x']}"), ErrorCode.INVALID_CONFIG,
            "has an empty namespace"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':[5]}"), ErrorCode.INVALID_CONFIG,
            "ipam.sticky.pods entries must be strings, not 5"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/*'],'holdSeconds':0}"), ErrorCode.INVALID_CONFIG,
            "ipam.sticky.holdSeconds 0 is out of range: 1 to 2592000"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/*'],'holdSeconds':'1h'}"),
            ErrorCode.INVALID_CONFIG, "ipam.sticky.holdSeconds must be an integer"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/*'],'maxHeldPercent':0}"),
            ErrorCode.INVALID_CONFIG, "ipam.sticky.maxHeldPercent 0 is out of range: 1 to 100"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/*'],'maxHeldPercent':9999999999}"),
            ErrorCode.INVALID_CONFIG, "ipam.sticky.maxHeldPercent 9999999999 is out of range"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','sticky':true"), ErrorCode.INVALID_CONFIG,
            "ipam.sticky must be an object, not true"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','reuseDelaySeconds':-1"), ErrorCode.INVALID_CONFIG,
            "ipam.reuseDelaySeconds -1 is out of range: 0 to 86400"),
        Arguments.of(conf("'subnet':'198.18.0.0/24','reuseDelaySeconds':1.5"), ErrorCode.INVALID_CONFIG,
            "ipam.reuseDelaySeconds must be an integer"));
  }

  @ParameterizedTest(name = "[{index}] {2}")
  @MethodSource("badConfigs")
  void from_badConfig_failsWithCodeAndNamesValue(String json, ErrorCode code, String named) {
    IpamException e = assertThrows(IpamException.class, () -> parse(json));
    assertEquals(code, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains(named), () -> "message \"" + e.getMessage() + "\" should name " + named);
  }

  /** Issue 22: sticky and reuseDelaySeconds become the pool's policy; absent, the pool has none. */
  @Test
  void from_stickyAndReuseDelay_becomeThePoolsPolicy() {
    NetworkConfig config = parse(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/*','*/web-?'],"
        + "'holdSeconds':60,'maxHeldPercent':10},'reuseDelaySeconds':30"));
    io.jipam.core.store.AddressPolicy policy = config.ipam().pool().policy();
    assertEquals(List.of(io.jipam.core.store.PodPattern.parse("db/*"), io.jipam.core.store.PodPattern.parse("*/web-?")),
        policy.sticky().pods());
    assertEquals(java.time.Duration.ofSeconds(60), policy.sticky().hold());
    assertEquals(10, policy.sticky().maxHeldPercent());
    assertEquals(java.time.Duration.ofSeconds(30), policy.reuseDelay());
    io.jipam.core.store.AddressPolicy defaults = parse(conf("'subnet':'198.18.0.0/24','sticky':{'pods':['db/*']}"))
        .ipam().pool().policy();
    assertEquals(java.time.Duration.ofSeconds(900), defaults.sticky().hold());
    assertEquals(25, defaults.sticky().maxHeldPercent());
    assertEquals(java.time.Duration.ZERO, defaults.reuseDelay());
    assertTrue(parse(conf("'subnet':'198.18.0.0/24'")).ipam().pool().policy().isNone());
  }

  /** Issue 7, defect 5: a resolv.conf with bytes that are not UTF-8 in a comment is read. */
  @Test
  void fromResolvConf_latin1Comment_read(@TempDir Path dir) throws Exception {
    Path resolv = dir.resolve("resolv.conf");
    Files.write(resolv, "# caf\u00e9 in Latin-1\nnameserver 198.18.0.53\nsearch d\u00e9.test\n".getBytes(StandardCharsets.ISO_8859_1));
    Dns dns = Dns.fromResolvConf(resolv);
    assertEquals(List.of("198.18.0.53"), dns.nameservers());
    assertEquals(List.of("d\uFFFD.test"), dns.search());
  }

  /** Issue 7, defect 5: a resolv.conf beyond the limit, or a FIFO, fails at once with code 7. */
  @Test
  void fromResolvConf_tooLargeOrFifo_failsFastWithCode7(@TempDir Path dir) throws Exception {
    Path big = dir.resolve("big.conf");
    Files.write(big, new byte[Dns.MAX_RESOLV_CONF_BYTES + 1]);
    IpamException e = assertThrows(IpamException.class, () -> Dns.fromResolvConf(big));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains(big.toString()) && e.getMessage().contains("larger"), e.getMessage());
    Path fifo = dir.resolve("fifo");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    IpamException f = assertThrows(IpamException.class, () -> Dns.fromResolvConf(fifo));
    assertEquals(ErrorCode.INVALID_CONFIG, f.code());
  }
}
