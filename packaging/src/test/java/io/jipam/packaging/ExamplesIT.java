package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.jipam.testkit.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every conflist under examples/ run through the real plugins it names, by containerd's
 * {@code ctr run --cni} ({@link BundleNode}): the container gets an address from jipam (the
 * store's round-robin cursor names it) and reaches its gateway where the example has one, and its
 * removal releases the address. Each example runs as written except for what must be the test's
 * own: its subnet (moved into 198.18.0.0/15), its data dir, bridge names and the macvlan parent (a
 * veth in the node's namespace).
 */
class ExamplesIT {
  static final Path EXAMPLES = Bundle.ROOT.resolve("examples");
  static BundleNode node;
  static String parent;
  static final AtomicInteger RUNS = new AtomicInteger();
  static final int BASE = 100 + ThreadLocalRandom.current().nextInt(100);

  @BeforeAll
  static void startNode() throws Exception {
    BundleNode.requirePrerequisites("ExamplesIT");
    node = new BundleNode();
    parent = "jm" + node.suffix;
    // the macvlan parent: one end of a veth pair in the node's namespace (a "namespace-made" eth1)
    Exec.sh("ip", "-n", node.netns, "link", "add", parent, "type", "veth", "peer", "name", "jp" + node.suffix);
    Exec.sh("ip", "-n", node.netns, "link", "set", parent, "up");
    Exec.sh("ip", "-n", node.netns, "link", "set", "jp" + node.suffix, "up");
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"bridge-kubenet.conflist", "ptp.conflist", "macvlan.conflist", "bridge-portmap.conflist"})
  void conflist_runByContainerd_addressFromJipamReleasedOnRemoval(String file) throws Exception {
    ObjectNode conflist = (ObjectNode) Bundle.json(Files.readString(EXAMPLES.resolve(file)));
    run(conflist, !file.startsWith("macvlan"));
  }

  @Test
  void multusNetworkAttachment_itsConfigRunByContainerd() throws Exception {
    JsonNode nad = new YAMLMapper().readTree(EXAMPLES.resolve("multus/net-attach-def.yaml").toFile());
    assertEquals("NetworkAttachmentDefinition", nad.path("kind").asText());
    ObjectNode config = (ObjectNode) Bundle.json(nad.path("spec").path("config").asText());
    // Multus hands the config to libcni as a network of one plugin
    run(asConflist(config), false);
  }

  @Test
  void flannel_exampleSubnetEnv_delegateIsTheDocumentedOne() throws Exception {
    JsonNode flannel = Bundle.json(Files.readString(EXAMPLES.resolve("flannel/10-flannel.conflist")));
    ObjectNode delegate = flannelDelegate(flannel, subnetEnv(Files.readString(EXAMPLES.resolve("flannel/subnet.env"))));
    assertEquals(Bundle.json(Files.readString(EXAMPLES.resolve("flannel/delegate.json"))), delegate);
  }

  @Test
  void flannel_delegateJipamGets_runByContainerdWithFlannelsRoute() throws Exception {
    ObjectNode flannel = (ObjectNode) Bundle.json(Files.readString(EXAMPLES.resolve("flannel/10-flannel.conflist")));
    int octet = BASE + RUNS.incrementAndGet();
    ((ObjectNode) flannel.path("plugins").path(0).path("delegate")).put("bridge", "jf" + node.suffix);
    ((ObjectNode) flannel.path("plugins").path(0).path("ipam")).put("dataDir", node.dir.resolve("data").toString());
    ObjectNode delegate = flannelDelegate(flannel, subnetEnv("FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18."
        + octet + ".1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"));
    // flannel invokes bridge with the delegate as its whole config; bridge hands it to jipam
    String output = runAsIs(asConflist(delegate), "198.18." + octet + ".", true);
    assertTrue(output.contains("198.18.0.0/16 via 198.18." + octet + ".1"), "no route to FLANNEL_NETWORK: " + output);
  }

  private static ObjectNode asConflist(ObjectNode plugin) {
    ObjectNode conflist = Bundle.JSON.createObjectNode();
    conflist.set("cniVersion", plugin.remove("cniVersion"));
    conflist.set("name", plugin.remove("name"));
    conflist.putArray("plugins").add(plugin);
    return conflist;
  }

  /** The example, with its subnet, data dir, bridge names and macvlan parent made the test's own. */
  private static void run(ObjectNode conflist, boolean gateway) throws Exception {
    int octet = BASE + RUNS.incrementAndGet();
    String subnet = null;
    int i = 0;
    for (JsonNode p : conflist.path("plugins")) {
      ObjectNode plugin = (ObjectNode) p;
      switch (plugin.path("type").asText()) {
        case "bridge" -> plugin.put("bridge", "jb" + node.suffix + octet % 100 + i);
        case "macvlan" -> plugin.put("master", parent);
        default -> { }
      }
      if (plugin.has("ipam")) {
        ((ObjectNode) plugin.path("ipam")).put("dataDir", node.dir.resolve("data").toString());
        subnet = plugin.path("ipam").path("ranges").path(0).path(0).path("subnet").asText();
      }
      i++;
    }
    assertNotNull(subnet, "no ipam range in " + conflist);
    String prefix = subnet.substring(0, subnet.lastIndexOf('.') + 1);
    String ours = "198.18." + octet + ".";
    runAsIs((ObjectNode) Bundle.json(conflist.toString().replace("\"" + prefix, "\"" + ours)), ours, gateway);
  }

  /** Runs one container on {@code conflist}; returns what it printed. */
  private static String runAsIs(ObjectNode conflist, String prefix, boolean gateway) throws Exception {
    String network = conflist.path("name").asText();
    node.useConflist(conflist.toPrettyString());
    String id = "ex-" + node.suffix + "-" + RUNS.get();
    // the report goes to a file on the node (/out): ctr's copy of a task's output can lose what the
    // task wrote just before it exited (seen here: the address printed, the route and PING lines not)
    String report = "/out/" + id;
    String script = "{ ip -o -4 addr show dev eth0; ip route; "
        + (gateway ? "if ping -c 1 -W 5 " + prefix + "1 >/dev/null; then echo PING-OK; else echo PING-FAILED; fi; " : "")
        + "} > " + report + " 2>&1; cat " + report;
    Path out = node.dir.resolve(id + ".out");
    Process ctr = node.run(id, script, out);
    assertTrue(ctr.waitFor(90, TimeUnit.SECONDS), network + ": the container did not finish: " + Files.readString(out));
    Path written = node.out().resolve(id);
    String output = Files.exists(written) ? Files.readString(written) : "(no report written; ctr's output: "
        + Files.readString(out) + ")";
    assertEquals(0, ctr.exitValue(), network + ": ctr run failed: " + output + node.log());
    String address = BundleNode.inet(output);
    assertNotNull(address, network + ": no IPv4 address on eth0: " + output);
    assertTrue(address.startsWith(prefix), network + ": " + address + " is not from " + prefix + "0: " + output);
    if (gateway) {
      assertTrue(output.contains("PING-OK"), network + ": gateway " + prefix + "1 not reached: " + output);
    }
    Path data = node.dir.resolve("data");
    String cursor = Files.readString(data.resolve(network).resolve("last_reserved_ip.0")).strip();
    assertEquals(address.substring(0, address.indexOf('/')), cursor, network + ": jipam's store did not hand it out");
    assertEquals(List.of(), Bundle.addressFiles(data, network), network + ": removing the container released it");
    System.out.println(network + ": container got " + address + " from jipam");
    return output;
  }

  private static Map<String, String> subnetEnv(String text) {
    Map<String, String> env = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        env.put(line.substring(0, eq), line.substring(eq + 1).strip());
      }
    }
    return env;
  }

  /**
   * The config flannel's CNI plugin (flannel-io/cni-plugin) hands its delegate, from the first
   * plugin of a flannel conflist and subnet.env: the delegate's keys, then name (the network's),
   * type bridge, ipMasq the opposite of FLANNEL_IPMASQ, mtu FLANNEL_MTU, isGateway true for a
   * bridge, cniVersion (the network's), each unless the delegate sets it; and ipam: the flannel
   * config's ipam (type host-local unless given) with ranges set to FLANNEL_SUBNET's network and
   * routes to the ipam's routes plus FLANNEL_NETWORK.
   */
  static ObjectNode flannelDelegate(JsonNode conflist, Map<String, String> env) {
    JsonNode flannel = conflist.path("plugins").path(0);
    assertEquals("flannel", flannel.path("type").asText());
    ObjectNode delegate = flannel.has("delegate") ? ((ObjectNode) flannel.path("delegate")).deepCopy()
        : Bundle.JSON.createObjectNode();
    delegate.put("name", conflist.path("name").asText());
    if (!delegate.has("type")) {
      delegate.put("type", "bridge");
    }
    if (!delegate.has("ipMasq")) {
      delegate.put("ipMasq", !"true".equals(env.get("FLANNEL_IPMASQ")));
    }
    if (!delegate.has("mtu")) {
      delegate.put("mtu", Integer.parseInt(env.get("FLANNEL_MTU")));
    }
    if (delegate.path("type").asText().equals("bridge") && !delegate.has("isGateway")) {
      delegate.put("isGateway", true);
    }
    delegate.put("cniVersion", conflist.path("cniVersion").asText());
    ObjectNode ipam = flannel.has("ipam") ? ((ObjectNode) flannel.path("ipam")).deepCopy() : Bundle.JSON.createObjectNode();
    if (!ipam.has("type")) {
      ipam.put("type", "host-local");
    }
    ArrayNode ranges = ipam.putArray("ranges");
    ranges.addArray().addObject().put("subnet", network(env.get("FLANNEL_SUBNET")));
    ArrayNode routes = ipam.has("routes") ? (ArrayNode) ipam.path("routes") : ipam.putArray("routes");
    routes.addObject().put("dst", network(env.get("FLANNEL_NETWORK")));
    delegate.set("ipam", ipam);
    return delegate;
  }

  /** "10.244.1.1/24" -> "10.244.1.0/24" (IPv4, as Go's net.ParseCIDR returns the network). */
  static String network(String cidr) {
    String[] parts = cidr.split("/");
    int prefix = Integer.parseInt(parts[1]);
    String[] o = parts[0].split("\\.");
    long v = 0;
    for (String octet : o) {
      v = (v << 8) | Integer.parseInt(octet);
    }
    long mask = prefix == 0 ? 0 : (0xffffffffL << (32 - prefix)) & 0xffffffffL;
    v &= mask;
    return ((v >> 24) & 255) + "." + ((v >> 16) & 255) + "." + ((v >> 8) & 255) + "." + (v & 255) + "/" + prefix;
  }
}
