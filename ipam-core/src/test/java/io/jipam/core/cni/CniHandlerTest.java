package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.memory.MemoryStores;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CniHandlerTest {
  private final IpamStore store = MemoryStores.open();

  private static String conf(String version, String extra) {
    return ("{'cniVersion':'" + version + "','name':'net','ipam':{'type':'jipam',"
        + "'ranges':[[{'subnet':'198.18.0.0/29'}],[{'subnet':'fd00:20::/64'}]],"
        + "'routes':[{'dst':'0.0.0.0/0'}]}" + extra + "}").replace('\'', '"');
  }

  private static Map<String, String> env(String command, String id, String args) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", id);
    env.put("CNI_NETNS", "/var/run/netns/x");
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    if (args != null) {
      env.put("CNI_ARGS", args);
    }
    return env;
  }

  private Map<String, Object> run(Map<String, String> env, String conf) {
    NetworkConfig config = NetworkConfig.from(JsonReader.parse(conf.getBytes(StandardCharsets.UTF_8)));
    byte[] out = CniHandler.handle(CniEnvironment.from(env), config, store);
    return out.length == 0 ? Map.of() : JsonFields.asObject(JsonReader.parse(out), "output");
  }

  private IpamException fails(Map<String, String> env, String conf) {
    return assertThrows(IpamException.class, () -> run(env, conf));
  }

  private static List<String> addresses(Map<String, Object> result) {
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> ips = (List<Map<String, Object>>) (Object) result.get("ips");
    return ips.stream().map(ip -> (String) ip.get("address")).toList();
  }

  @Test
  void add_dualStack_returnsOneAddressPerSetWithGatewayAndRoutes() {
    Map<String, Object> result = run(env("ADD", "c1", null), conf("1.0.0", ""));
    assertEquals(List.of("198.18.0.2/29", "fd00:20::2/64"), addresses(result));
    assertEquals("1.0.0", result.get("cniVersion"));
    assertTrue(result.containsKey("routes"));
    assertTrue(result.containsKey("dns"));
  }

  @Test
  void add_repeated_returnsSameAddressesWithoutLeak() {
    var first = addresses(run(env("ADD", "c1", null), conf("1.0.0", "")));
    var second = addresses(run(env("ADD", "c1", null), conf("1.0.0", "")));
    assertEquals(first, second);
    assertEquals(2, store.list(NetworkConfig.from(JsonReader.parse(conf("1.0.0", "").getBytes())).ipam().pool()).size());
  }

  @Test
  void add_requestedThroughCniArgsWithKubeletKeys_getsItAndKeepsPod() {
    var result = run(env("ADD", "c1",
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-0;K8S_POD_INFRA_CONTAINER_ID=c1;IP=198.18.0.5"),
        conf("1.0.0", ""));
    assertEquals("198.18.0.5/29", addresses(result).get(0));
    var pool = NetworkConfig.from(JsonReader.parse(conf("1.0.0", "").getBytes())).ipam().pool();
    assertEquals(new PodRef("shop", "cart-0"), store.find(pool, new Attachment("c1", "eth0")).get(0).pod());
  }

  @Test
  void add_requestedThroughRuntimeConfigTakenByOther_failsNamingAddressAndHolder() {
    run(env("ADD", "c1", null), conf("1.0.0", ",'runtimeConfig':{'ips':['198.18.0.4/29']}".replace('\'', '"')));
    IpamException e = fails(env("ADD", "c2", null),
        conf("1.0.0", ",'args':{'cni':{'ips':['198.18.0.4']}}".replace('\'', '"')));
    assertEquals(ErrorCode.ADDRESS_UNAVAILABLE, e.code());
    assertTrue(e.getMessage().contains("198.18.0.4") && e.getMessage().contains("c1/eth0"), e.getMessage());
  }

  @Test
  void add_requestedOutsideRanges_failsNamingAddress() {
    IpamException e = fails(env("ADD", "c1", "IP=198.19.9.9"), conf("1.0.0", ""));
    assertEquals(ErrorCode.ADDRESS_UNAVAILABLE, e.code());
    assertTrue(e.getMessage().contains("198.19.9.9"), e.getMessage());
  }

  @Test
  void add_poolExhausted_failsWithCode100AndWritesNothing() {
    for (int i = 0; i < 5; i++) {
      run(env("ADD", "c" + i, null), conf("1.0.0", ""));
    }
    IpamException e = fails(env("ADD", "last", null), conf("1.0.0", ""));
    assertEquals(ErrorCode.POOL_EXHAUSTED, e.code());
    assertEquals(100, e.code().cniCode());
    assertTrue(e.getMessage().contains("198.18.0.1-198.18.0.6") || e.getMessage().contains("198.18.0"), e.getMessage());
    var pool = NetworkConfig.from(JsonReader.parse(conf("1.0.0", "").getBytes())).ipam().pool();
    assertEquals(List.of(), store.find(pool, new Attachment("last", "eth0")));
  }

  /** An exhausted range set with an address held for a sticky pod says so: not every address is allocated. */
  @Test
  void add_poolExhaustedWithAHeldAddress_messageCountsTheClaim() {
    String sticky = ("{'cniVersion':'1.0.0','name':'net','ipam':{'type':'jipam','subnet':'198.18.0.0/29',"
        + "'sticky':{'pods':['db/*']}}}").replace('\'', '"');
    String db0 = "K8S_POD_NAMESPACE=db;K8S_POD_NAME=web-0";
    run(env("ADD", "db0", db0), sticky);
    run(env("DEL", "db0", db0), sticky);
    for (int i = 0; i < 4; i++) {
      run(env("ADD", "c" + i, null), sticky);
    }
    IpamException e = fails(env("ADD", "last", null), sticky);
    assertEquals(ErrorCode.POOL_EXHAUSTED, e.code());
    assertEquals("no IP addresses available in range set 0 [198.18.0.1-198.18.0.6] of network net; 1 of them is held"
        + " for sticky pods or reserved for others, not allocated (jipamctl list, jipamctl reservations)", e.getMessage());
  }

  @Test
  void del_unknownAttachmentWithoutNetns_succeeds() {
    Map<String, String> env = env("DEL", "nobody", null);
    env.remove("CNI_NETNS");
    assertEquals(Map.of(), run(env, conf("1.0.0", "")));
  }

  @Test
  void del_afterAdd_releasesAddresses() {
    run(env("ADD", "c1", null), conf("0.4.0", ""));
    run(env("DEL", "c1", null), conf("0.4.0", ""));
    var pool = NetworkConfig.from(JsonReader.parse(conf("1.0.0", "").getBytes())).ipam().pool();
    assertEquals(List.of(), store.list(pool));
  }

  @Test
  void check_matchingPrevResult_succeeds_missingAllocation_fails3_mismatch_fails102() {
    var result = run(env("ADD", "c1", null), conf("1.0.0", ""));
    String prev = ",'prevResult':{'cniVersion':'1.0.0','ips':[{'address':'" + addresses(result).get(0)
        + "'},{'address':'" + addresses(result).get(1) + "'}]}";
    assertEquals(Map.of(), run(env("CHECK", "c1", null), conf("1.0.0", prev.replace('\'', '"'))));
    assertEquals(ErrorCode.UNKNOWN_CONTAINER,
        fails(env("CHECK", "other", null), conf("1.0.0", prev.replace('\'', '"'))).code());
    String wrong = ",'prevResult':{'cniVersion':'1.0.0','ips':[{'address':'198.18.0.6/29'}]}";
    IpamException e = fails(env("CHECK", "c1", null), conf("1.0.0", wrong.replace('\'', '"')));
    assertEquals(ErrorCode.ALLOCATION_MISMATCH, e.code());
    assertTrue(e.getMessage().contains("198.18.0.2"), e.getMessage());
  }

  /** Issue 7: CHECK without prevResult answers as host-local does: success when the attachment holds its addresses. */
  @Test
  void check_withoutPrevResult_succeedsWhenHeld_fails3WhenNot() {
    run(env("ADD", "c1", null), conf("1.0.0", ""));
    assertEquals(Map.of(), run(env("CHECK", "c1", null), conf("1.0.0", "")));
    IpamException e = fails(env("CHECK", "other", null), conf("1.0.0", ""));
    assertEquals(ErrorCode.UNKNOWN_CONTAINER, e.code());
    assertTrue(e.getMessage().contains("other/eth0"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"CHECK,0.3.1", "GC,1.0.0", "STATUS,1.0.0"})
  void handle_commandNewerThanConfigVersion_failsWithCode1(String command, String version) {
    IpamException e = fails(env(command, "c1", null), conf(version, ""));
    assertEquals(ErrorCode.INCOMPATIBLE_VERSION, e.code());
    assertTrue(e.getMessage().contains(version), e.getMessage());
  }

  @Test
  void gc_validList_releasesOnlyStale() {
    for (String id : List.of("keep", "drop1", "drop2")) {
      run(env("ADD", id, null), conf("1.1.0", ""));
    }
    Map<String, String> env = Map.of("CNI_COMMAND", "GC", "CNI_PATH", "/opt/cni/bin");
    run(env, conf("1.1.0", ",'cni.dev/valid-attachments':[{'containerID':'keep','ifname':'eth0'}]"
        .replace('\'', '"')));
    var pool = NetworkConfig.from(JsonReader.parse(conf("1.1.0", "").getBytes())).ipam().pool();
    assertEquals(2, store.list(pool).size());
    assertFalse(store.find(pool, new Attachment("keep", "eth0")).isEmpty());
    assertEquals(ErrorCode.INVALID_CONFIG, fails(env, conf("1.1.0", "")).code());
  }

  @Test
  void status_freeAddresses_succeeds_exhausted_fails50() {
    Map<String, String> env = Map.of("CNI_COMMAND", "STATUS", "CNI_PATH", "/opt/cni/bin");
    assertEquals(Map.of(), run(env, conf("1.1.0", "")));
    for (int i = 0; i < 5; i++) {
      run(env("ADD", "c" + i, null), conf("1.1.0", ""));
    }
    IpamException e = fails(env, conf("1.1.0", ""));
    assertEquals(ErrorCode.NOT_AVAILABLE, e.code());
    assertEquals(50, e.code().cniCode());
  }

  /** A store whose probe fails (a file store's data dir that is a file): STATUS is 50 naming why, not a success. */
  @Test
  void status_storeProbeFails_fails50NamingWhy() {
    IpamStore unusable = new io.jipam.core.testing.ForwardingStore(MemoryStores.open()) {
      @Override
      public <T> java.util.Optional<T> capability(Class<T> ability) {
        if (ability == io.jipam.core.store.capability.Probe.class) {
          io.jipam.core.store.capability.Probe p = () -> {
            throw new IpamException(ErrorCode.TRY_AGAIN_LATER, "data dir \"/etc/hostname\" cannot be used");
          };
          return java.util.Optional.of(ability.cast(p));
        }
        return super.capability(ability);
      }
    };
    NetworkConfig config = NetworkConfig.from(JsonReader.parse(conf("1.1.0", "").getBytes(StandardCharsets.UTF_8)));
    IpamException e = assertThrows(IpamException.class, () -> CniHandler.handle(
        CniEnvironment.from(Map.of("CNI_COMMAND", "STATUS", "CNI_PATH", "/opt/cni/bin")), config, unusable));
    assertEquals(50, e.code().cniCode());
    assertTrue(e.getMessage().contains("/etc/hostname"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "CNI_COMMAND|", "CNI_COMMAND|FROB", "CNI_CONTAINERID|", "CNI_IFNAME|", "CNI_NETNS|", "CNI_PATH|"})
  void environment_missingOrBadVariable_fails4NamingIt(String variable, String value) {
    Map<String, String> env = env("ADD", "c1", null);
    if (value == null) {
      env.remove(variable);
    } else {
      env.put(variable, value);
    }
    IpamException e = assertThrows(IpamException.class, () -> CniEnvironment.from(env));
    assertEquals(ErrorCode.INVALID_ENVIRONMENT, e.code());
    assertTrue(e.getMessage().contains(value == null ? variable : value), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "FOO=bar|FOO", "K8S_POD_NAME|K8S_POD_NAME", "IP=1.2.3|1.2.3",
      // issue 7, defect 11: an empty or malformed requested address is an error, never "any"
      "IP=|IP \"\"", "'IP=,'|IP \"\"", "'IP=198.18.0.5,'|IP \"\"", "'IP=,198.18.0.5'|IP \"\"",
      "IP=198.18.0.5/33|198.18.0.5/33", "IP=x|IP \"x\"", "'IgnoreUnknown=1;IP= '|IP \"\"",
      // more than one per range set, counted before any is parsed (a long list took quadratic time)
      "'IP=198.18.0.1,198.18.0.2,198.18.0.3,198.18.0.4,198.18.0.5,198.18.0.6,198.18.0.7,198.18.0.8,198.18.0.9,"
          + "198.18.0.10,198.18.0.11,198.18.0.12,198.18.0.13,198.18.0.14,198.18.0.15,198.18.0.16,198.18.0.17,"
          + "198.18.0.18,198.18.0.19,198.18.0.20,198.18.0.21,198.18.0.22,198.18.0.23,198.18.0.24,198.18.0.25,"
          + "198.18.0.26,198.18.0.27,198.18.0.28,198.18.0.29,198.18.0.30,198.18.0.31,198.18.0.32,198.18.0.33,"
          + "198.18.0.34,198.18.0.35,198.18.0.36,198.18.0.37,198.18.0.38,198.18.0.39,198.18.0.40,198.18.0.41,"
          + "198.18.0.42,198.18.0.43,198.18.0.44,198.18.0.45,198.18.0.46,198.18.0.47,198.18.0.48,198.18.0.49,"
          + "198.18.0.50,198.18.0.51,198.18.0.52,198.18.0.53,198.18.0.54,198.18.0.55,198.18.0.56,198.18.0.57,"
          + "198.18.0.58,198.18.0.59,198.18.0.60,198.18.0.61,198.18.0.62,198.18.0.63,198.18.0.64,x'"
          + "|IP= lists 65 addresses; jipam allows at most 64"})
  void cniArgs_malformedOrUnknownWithoutIgnore_fails4(String args, String named) {
    IpamException e = assertThrows(IpamException.class, () -> CniArgs.parse(args));
    assertEquals(ErrorCode.INVALID_ENVIRONMENT, e.code());
    assertTrue(e.getMessage().contains(named), e.getMessage());
  }

  @Test
  void cniArgs_unknownWithIgnoreUnknown_accepted() {
    CniArgs args = CniArgs.parse("IgnoreUnknown=true;FOO=bar;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p");
    assertEquals(new PodRef("ns", "p"), args.pod());
  }

  @Test
  void environment_containerIdEscapingDataDir_failsWithCode4() {
    IpamException e = fails(env("ADD", "../../etc", null), conf("1.0.0", ""));
    assertEquals(ErrorCode.INVALID_ENVIRONMENT, e.code());
    assertTrue(e.getMessage().contains("CNI_CONTAINERID \"../../etc\""), e.getMessage());
  }

  /** Defect 9 of issue 7: bad CNI_CONTAINERID or CNI_IFNAME is code 4 naming the variable, for every command. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "ADD|CNI_CONTAINERID|a/b", "DEL|CNI_CONTAINERID|a/b", "CHECK|CNI_CONTAINERID|a\\nb",
      "ADD|CNI_CONTAINERID|..", "ADD|CNI_CONTAINERID|-x", "ADD|CNI_CONTAINERID|caf\\u00e9",
      "ADD|CNI_IFNAME|a/b", "DEL|CNI_IFNAME|a\\nb", "ADD|CNI_IFNAME|..", "ADD|CNI_IFNAME|.",
      "ADD|CNI_IFNAME|a:b", "ADD|CNI_IFNAME|a b", "ADD|CNI_IFNAME|sixteen-bytes-xx",
      "ADD|CNI_IFNAME|\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9",
      "ADD|CNI_IFNAME|a\\u00a0", "ADD|CNI_IFNAME|\\u00e0", "ADD|CNI_IFNAME|a\\udcff"})
  void environment_malformedNameVariable_failsWithCode4NamingIt(String command, String variable, String value) {
    Map<String, String> env = env(command, "c1", null);
    env.put(variable, unescape(value));
    IpamException e = assertThrows(IpamException.class, () -> CniEnvironment.from(env));
    assertEquals(ErrorCode.INVALID_ENVIRONMENT, e.code(), e.getMessage());
    assertTrue(e.getMessage().startsWith(variable + " \""), e.getMessage());
  }

  /** The kernel's rules on bytes: these are interface names it accepts, so jipam does too. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"*", "eth0", "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9",
      "a\\u0001", "fifteen-bytes-x", "%41", "?", "\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac"})
  void environment_kernelValidIfname_accepted(String ifname) {
    Map<String, String> env = env("ADD", "c1", null);
    env.put("CNI_IFNAME", unescape(ifname));
    assertEquals(unescape(ifname), CniEnvironment.from(env).attachment().ifname());
  }

  private static String unescape(String csv) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < csv.length(); i++) {
      char c = csv.charAt(i);
      if (c == '\\' && csv.charAt(i + 1) == 'n') {
        b.append('\n');
        i++;
      } else if (c == '\\' && csv.charAt(i + 1) == 'u') {
        b.append((char) Integer.parseInt(csv.substring(i + 2, i + 6), 16));
        i += 5;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
