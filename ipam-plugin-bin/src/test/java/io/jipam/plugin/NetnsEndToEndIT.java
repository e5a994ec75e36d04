package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.cni.JsonReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * End to end: the real {@code bridge} and {@code ptp} plugins from /usr/lib/cni, run inside a node
 * network namespace this test creates, delegate to {@code jipam} as their ipam type and wire pod
 * namespaces it also creates. Nothing touches the root namespace; addresses come from
 * 198.18.0.0/15 and fd00::/8. Needs root; under CI a missing prerequisite fails the test.
 */
class NetnsEndToEndIT {
  private static final String TAG = "jipam" + ProcessHandle.current().pid();
  private final String node = TAG + "-node";
  private final List<String> namespaces = new ArrayList<>();

  @TempDir Path dataDir;

  @BeforeAll
  static void prerequisites() {
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean plugins = Files.isExecutable(Path.of("/usr/lib/cni/bridge")) && Files.isExecutable(Path.of("/usr/lib/cni/ptp"));
    boolean ip = onPath("ip") && onPath("ping");
    String why = !root ? "network namespaces need root" : !plugins ? "apt-get install containernetworking-plugins"
        : "apt-get install iproute2 iputils-ping";
    if (CniExec.underCi()) {
      assertTrue(root && plugins && ip, why);
    }
    assumeTrue(root && plugins && ip, why);
  }

  private static boolean onPath(String command) {
    for (String dir : List.of("/usr/sbin", "/usr/bin", "/sbin", "/bin")) {
      if (Files.isExecutable(Path.of(dir, command))) {
        return true;
      }
    }
    return false;
  }

  @BeforeEach
  void createNodeNamespace() {
    addNamespace(node);
    CniExec.sh("ip", "netns", "exec", node, "ip", "link", "set", "lo", "up");
  }

  @AfterEach
  void deleteNamespaces() {
    for (String ns : namespaces) {
      try {
        CniExec.sh("ip", "netns", "delete", ns);
      } catch (RuntimeException | AssertionError ignored) {
        // already gone
      }
    }
  }

  private String addNamespace(String name) {
    CniExec.sh("ip", "netns", "add", name);
    namespaces.add(name);
    return name;
  }

  private String conf(String pluginType, int third) {
    String plugin = pluginType.equals("bridge")
        ? "'type':'bridge','bridge':'jbr" + third + "','isGateway':true,'ipMasq':false"
        : "'type':'ptp','ipMasq':false";
    return ("{'cniVersion':'1.0.0','name':'e2e-" + pluginType + "'," + plugin + ",'ipam':{'type':'jipam',"
        + "'dataDir':'" + dataDir + "','ranges':[[{'subnet':'198.18." + third + ".0/24'}],"
        + "[{'subnet':'fd00:18:" + third + "::/64'}]],'routes':[{'dst':'0.0.0.0/0'}]}}").replace('\'', '"');
  }

  private CniExec.Result inNode(String pluginType, String command, String pod, String conf) {
    Map<String, String> env = CniExec.env(command, pod, "eth0", "/var/run/netns/" + pod);
    env.put("JIPAM_LOG_FILE", dataDir.resolve("jipam.log").toString());
    return CniExec.run(List.of("ip", "netns", "exec", node), Path.of("/usr/lib/cni/" + pluginType), env, conf);
  }

  @ParameterizedTest
  @ValueSource(strings = {"bridge", "ptp"})
  void addDel_throughRealPlugin_podGetsAddressAndRoute_delFreesIt(String pluginType) throws Exception {
    int third = pluginType.equals("bridge") ? 100 : 101;
    String conf = conf(pluginType, third);
    String pod1 = addNamespace(TAG + "-p1");
    String pod2 = addNamespace(TAG + "-p2");

    CniExec.Result add1 = inNode(pluginType, "ADD", pod1, conf);
    assertEquals(0, add1.exit(), add1 + "\nlog: " + log());
    CniExec.Result add2 = inNode(pluginType, "ADD", pod2, conf);
    assertEquals(0, add2.exit(), add2 + "\nlog: " + log());

    String v4 = "198.18." + third + ".";
    String addr1 = CniExec.sh("ip", "netns", "exec", pod1, "ip", "-o", "addr", "show", "dev", "eth0");
    String addr2 = CniExec.sh("ip", "netns", "exec", pod2, "ip", "-o", "addr", "show", "dev", "eth0");
    String pod1v4 = addressIn(add1, v4);
    String pod2v4 = addressIn(add2, v4);
    assertTrue(addr1.contains(pod1v4), addr1);
    assertTrue(addr2.contains(pod2v4), addr2);
    assertTrue(addr1.contains("fd00:18:" + third + "::"), addr1);
    assertFalse(pod1v4.equals(pod2v4), "two pods, one address: " + pod1v4);
    String routes = CniExec.sh("ip", "netns", "exec", pod1, "ip", "-4", "route", "show");
    assertTrue(routes.contains("default via"), routes);
    // the pods reach each other through the node namespace
    CniExec.sh("ip", "netns", "exec", pod1, "ping", "-c", "1", "-W", "5", pod2v4.substring(0, pod2v4.indexOf('/')));

    CniExec.Result del1 = inNode(pluginType, "DEL", pod1, conf);
    assertEquals(0, del1.exit(), del1.toString());
    String after = CniExec.sh("ip", "netns", "exec", pod1, "ip", "-o", "link", "show");
    assertFalse(after.contains("eth0"), after);
    Path network = dataDir.resolve("e2e-" + pluginType);
    assertFalse(Files.exists(network.resolve(pod1v4.substring(0, pod1v4.indexOf('/')))), "address file kept after DEL");
    assertTrue(Files.exists(network.resolve(pod2v4.substring(0, pod2v4.indexOf('/')))));
    // DEL again, now with the namespace gone, still succeeds
    CniExec.sh("ip", "netns", "delete", pod1);
    CniExec.Result again = inNode(pluginType, "DEL", pod1, conf);
    assertEquals(0, again.exit(), again.toString());
    assertEquals(0, inNode(pluginType, "DEL", pod2, conf).exit());
  }

  @SuppressWarnings("unchecked")
  private static String addressIn(CniExec.Result add, String prefix) {
    Map<String, Object> result = (Map<String, Object>) JsonReader.parse(add.stdout().getBytes());
    for (Map<String, Object> ip : (List<Map<String, Object>>) result.get("ips")) {
      String address = (String) ip.get("address");
      if (address.startsWith(prefix)) {
        return address;
      }
    }
    throw new AssertionError("no " + prefix + "* address in " + add.stdout());
  }

  private String log() {
    try {
      Path log = dataDir.resolve("jipam.log");
      return Files.exists(log) ? Files.readString(log) : "(none)";
    } catch (Exception e) {
      return e.toString();
    }
  }
}
