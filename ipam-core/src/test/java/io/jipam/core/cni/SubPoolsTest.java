package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Sub-pools: parsing and its errors, the choice of pool per pod and node, and DEL, CHECK, GC, STATUS across them. */
class SubPoolsTest {
  private final IpamStore store = MemoryStores.open();

  /** A network with default ranges 198.18.0.0/28 and three sub-pools; {@code defaults} false: sub-pools only. */
  static String conf(boolean defaults, String subPools) {
    return ("{'cniVersion':'1.1.0','name':'net','ipam':{'type':'jipam',"
        + (defaults ? "'ranges':[[{'subnet':'198.18.0.0/28'}]]," : "")
        + "'subPools':" + subPools + "}}").replace('\'', '"');
  }

  static final String THREE = "["
      + "{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['db-*','data']},"
      + "{'name':'web','ranges':[[{'subnet':'198.18.2.0/28'}]],'pods':['*/web-*'],'nodes':['edge-?','node-a*']},"
      + "{'name':'any-db','ranges':[[{'subnet':'198.18.3.0/28'}]],'pods':['db-*/*']}]";

  static NetworkConfig config(String json) {
    return NetworkConfig.from(JsonReader.parse(json.getBytes(StandardCharsets.UTF_8)));
  }

  /** Table: namespace, pod name, node -> the pool chosen ("-" for an unknown part). */
  @ParameterizedTest(name = "{0}/{1} on {2} -> {3}")
  @CsvSource({
      // namespace globs: "db-*" and "data"
      "db-1, x, node-z, net+db",
      "data, x, node-z, net+db",
      "datas, x, node-z, net",
      // overlapping rules: db-* matches both db and any-db; the first wins
      "db-2, web-0, node-a1, net+db",
      // pod name glob and node glob both needed (ANDed)
      "shop, web-0, node-a1, net+web",
      "shop, web-0, edge-1, net+web",
      "shop, web-0, edge-10, net",
      "shop, web-0, node-b, net",
      "shop, api-0, node-a1, net",
      // unknown pod: no namespace or pod selector matches
      "-, -, node-a1, net",
      // unknown node: no node selector matches
      "shop, web-0, -, net",
  })
  void select_byNamespaceNameAndNode_firstMatchElseDefault(String ns, String name, String node, String expected) {
    NetworkPools pools = config(conf(true, THREE)).ipam().pools();
    PodRef pod = ns.equals("-") ? PodRef.UNKNOWN : new PodRef(ns, name);
    String nodeName = node.equals("-") ? null : node;
    assertEquals(expected, pools.select(pod, () -> nodeName).name());
  }

  /** Table: the plugin's own node name (no jipamd): the etcd store's node, else the environment's chain. */
  @ParameterizedTest(name = "store node {0}, env {1}={2} -> {3}")
  @CsvSource({
      "-, JIPAM_NODE_NAME, node-a1, net+web",
      "-, NODE_NAME, edge-1, net+web",
      "-, NODE_NAME, core-1, net",
      "edge-2, NODE_NAME, core-1, net+web",
      "core-2, JIPAM_NODE_NAME, edge-1, net",
  })
  void localNode_storeNodeElseEnvironment_choosesTheSubPool(String storeNode, String variable, String value,
      String expected) {
    String json = conf(true, THREE);
    if (!storeNode.equals("-")) {
      json = json.replace("\"subPools\"", "\"store\":{\"type\":\"etcd\",\"endpoints\":[\"http://127.0.0.1:2379\"],"
          + "\"node\":\"" + storeNode + "\"},\"subPools\"");
    }
    NetworkConfig c = config(json);
    CniHandler.LocalNode node = new CniHandler.LocalNode(c, Map.of(variable, value));
    assertEquals(expected, c.ipam().pools().select(new PodRef("shop", "web-0"), node).name());
  }

  @Test
  void select_noMatchWithoutDefault_isInvalidConfigNamingPodAndNode() {
    NetworkPools pools = config(conf(false, THREE)).ipam().pools();
    assertNull(pools.defaultPool());
    IpamException e = assertThrows(IpamException.class, () -> pools.select(new PodRef("shop", "api-0"), () -> "n1"));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertEquals("no sub-pool of network \"net\" matches pod \"shop/api-0\" on node \"n1\", and the network has"
        + " no ranges of its own to fall back on", e.getMessage());
    assertEquals("net+db", pools.select(new PodRef("db-1", "x"), () -> null).name());
  }

  @Test
  void select_withoutNodeSelectors_neverAsksForTheNodeName() {
    NetworkPools pools = config(conf(true, "[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['db']}]"))
        .ipam().pools();
    assertEquals("net", pools.select(new PodRef("x", "y"), () -> {
      throw new AssertionError("node name asked");
    }).name());
  }

  @Test
  void parse_subPool_takesNetworkOrderAndExcludeAndNamesItsStorePool() {
    NetworkConfig c = config(("{'cniVersion':'1.1.0','name':'net','ipam':{'type':'jipam','order':'lowest-free',"
        + "'exclude':['198.18.1.2'],'ranges':[[{'subnet':'198.18.0.0/28'}]],'subPools':"
        + "[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}],[{'subnet':'198.18.9.0/28'}]]}]}}").replace('\'', '"'));
    Pool sub = c.ipam().subPools().get(0).pool();
    assertEquals("net+db", sub.name());
    assertEquals(2, sub.rangeSets().size());
    assertEquals(c.ipam().pool().order(), sub.order());
    assertTrue(sub.rangeSets().get(0).ranges().get(0).isReserved(io.jipam.core.net.IpAddress.parse("198.18.1.2")));
    assertEquals(List.of("net", "net+db"), c.ipam().pools().all().stream().map(Pool::name).toList());
  }

  /** Table: a bad sub-pool list -> its CNI code 7 message. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "[{'ranges':[[{'subnet':'198.18.1.0/28'}]]}] | ipam.subPools[0].name is missing",
      "[{'name':'a/b','ranges':[[{'subnet':'198.18.1.0/28'}]]}] | ipam.subPools[0].name \"a/b\" must start with a letter"
          + " or digit followed by letters, digits, '_', '.' or '-' (at most 63)",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]]},{'name':'a','ranges':[[{'subnet':'198.18.2.0/28'}]]}]"
          + " | ipam.subPools[1].name \"a\" is also the name of ipam.subPools[0]",
      "[{'name':'a'}] | ipam.subPools[0].ranges is missing: a sub-pool needs at least one range set",
      "[{'name':'a','ranges':[[{'subnet':'198.18.0.8/29'}]]}] | ipam.subPools[0]: range 198.18.0.9-198.18.0.14"
          + " overlaps range 198.18.0.1-198.18.0.14 of the network's own ranges",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]]},{'name':'b','ranges':[[{'subnet':'198.18.1.0/24'}]]}]"
          + " | ipam.subPools[1]: range 198.18.1.1-198.18.1.254 overlaps range 198.18.1.1-198.18.1.14 of ipam.subPools[0]",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['DB']}] | ipam.subPools[0].namespaces:"
          + " pattern \"DB\": namespace \"DB\" may hold only lowercase letters, digits, '-', '.', '*' and '?'",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['']}] | ipam.subPools[0].namespaces:"
          + " pattern \"\" has an empty namespace; use \"*\" for any",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'pods':['web-*']}] | ipam.subPools[0].pods: pod pattern"
          + " \"web-*\" must be NAMESPACE/NAME with globs, e.g. \"db/*\"",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'pods':['x/[ab]']}] | ipam.subPools[0].pods: pattern"
          + " \"x/[ab]\": name \"[ab]\" may hold only lowercase letters, digits, '-', '.', '*' and '?'",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'nodes':['node/1']}] | ipam.subPools[0].nodes: node"
          + " pattern \"node/1\" may hold only letters, digits, '_', '.', '-', '*' and '?'",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'nodes':[5]}] | ipam.subPools[0].nodes entries must be"
          + " strings, not 5",
      "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespace':['db']}] | ipam.subPools[0]: unknown key"
          + " \"namespace\"; a sub-pool has name, ranges, namespaces, pods and nodes",
      "[5] | ipam.subPools[0] must be an object, not 5",
      "{} | ipam.subPools must be a list, not an object",
  })
  void parse_badSubPool_isCode7NamingTheValue(String subPools, String message) {
    IpamException e = assertThrows(IpamException.class, () -> config(conf(true, subPools)));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
    assertEquals(7, e.code().cniCode());
    assertEquals(message, e.getMessage());
  }

  /** Table: an unknown key inside {@code sticky} -> code 7 naming the key, escaped. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{'pods':['db/*'],'hold':60} | ipam.sticky: unknown key \"hold\"; sticky has pods, holdSeconds and maxHeldPercent",
      "{'pods':['db/*'],'maxHeld\\u001b[2J':5} | ipam.sticky: unknown key \"maxHeld\\x1b[2J\"; sticky has pods,"
          + " holdSeconds and maxHeldPercent",
  })
  void parse_unknownStickyKey_isCode7NamingTheKey(String sticky, String message) {
    String json = ("{'cniVersion':'1.1.0','name':'net','ipam':{'type':'jipam','ranges':[[{'subnet':'198.18.0.0/28'}]],"
        + "'sticky':" + sticky + "}}").replace('\'', '"');
    IpamException e = assertThrows(IpamException.class, () -> config(json));
    assertEquals(7, e.code().cniCode(), e.getMessage());
    assertEquals(message, e.getMessage());
  }

  /**
   * Network {@code net.db} and sub-pool {@code db} of network {@code net} are different pools: an
   * ADD to each lands in its own pool of one store, and a network name holding the separator is
   * refused.
   */
  @Test
  void add_networkNamedLikeASubPool_neverSharesItsPool() {
    String withSub = conf(false, "[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]]}]");
    String dotted = "{\"cniVersion\":\"1.1.0\",\"name\":\"net.db\",\"ipam\":{\"type\":\"jipam\","
        + "\"ranges\":[[{\"subnet\":\"198.18.2.0/28\"}]]}}";
    Pool sub = config(withSub).ipam().subPools().get(0).pool();
    Pool network = config(dotted).ipam().pool();
    assertEquals("net+db", sub.name());
    assertEquals("net.db", network.name());
    run(env("ADD", "c1", "db-1", "a"), withSub, "n1");
    run(env("ADD", "c2", "db-1", "b"), dotted, "n1");
    assertEquals(List.of(new Attachment("c1", "eth0")), store.list(sub).stream().map(Allocation::attachment).toList());
    assertEquals(List.of(new Attachment("c2", "eth0")), store.list(network).stream().map(Allocation::attachment).toList());
    IpamException e = assertThrows(IpamException.class, () -> config(dotted.replace("net.db", "net+db")));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertEquals("invalid network name \"net+db\": it must start with a letter or digit followed by letters, digits,"
        + " '_', '.' or '-'", e.getMessage());
    assertEquals("net", config(withSub).ipam().pools().network());
    assertEquals("net", config(withSub).ipam().subPools().get(0).network());
  }

  // ---- the CNI commands across sub-pools ----

  static Map<String, String> env(String command, String id, String ns, String name) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_NETNS", "/var/run/netns/x");
    env.put("CNI_PATH", "/opt/cni/bin");
    if (id != null) {
      env.put("CNI_CONTAINERID", id);
      env.put("CNI_IFNAME", "eth0");
    }
    if (ns != null) {
      env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + name);
    }
    return env;
  }

  private byte[] run(Map<String, String> env, String json, String node) {
    return CniHandler.handle(CniEnvironment.from(env), config(json), store, () -> node);
  }

  private List<Allocation> everywhere(String json) {
    List<Allocation> out = new ArrayList<>();
    for (Pool p : config(json).ipam().pools().all()) {
      out.addAll(store.list(p));
    }
    return out;
  }

  @Test
  void add_goesToTheMatchingSubPool_andDelReleasesItAfterTheSelectorsChanged() {
    String before = conf(true, THREE);
    String out = new String(run(env("ADD", "c1", "db-1", "p"), before, "n1"), StandardCharsets.UTF_8);
    assertTrue(out.contains("198.18.1.2/28"), out);
    assertEquals(1, store.list(config(before).ipam().subPools().get(0).pool()).size());
    // the db namespaces move to the default pool: DEL still finds and releases the address
    String after = conf(true, THREE.replace("'db-*','data'", "'nothing'"));
    run(env("DEL", "c1", "db-1", "p"), after, "n1");
    assertEquals(List.of(), everywhere(before));
  }

  @Test
  void check_findsTheAttachmentInItsSubPool_andFailsCode3WhenNowhere() {
    String json = conf(true, THREE);
    run(env("ADD", "c1", "shop", "web-0"), json, "node-a1");
    run(env("CHECK", "c1", "shop", "web-0"), json, "node-a1");
    IpamException e = assertThrows(IpamException.class, () -> run(env("CHECK", "c2", "shop", "web-0"), json, "node-a1"));
    assertEquals(ErrorCode.UNKNOWN_CONTAINER, e.code());
  }

  @Test
  void gc_releasesStaleAttachmentsInEverySubPool() {
    String json = conf(true, THREE);
    run(env("ADD", "keep", "db-1", "a"), json, "n1");
    run(env("ADD", "gone1", "db-1", "b"), json, "n1");
    run(env("ADD", "gone2", "shop", "web-1"), json, "edge-1");
    run(env("ADD", "gone3", "shop", "api"), json, "n1");
    String gc = json.substring(0, json.length() - 1) + ",\"cni.dev/valid-attachments\":[{\"containerID\":\"keep\","
        + "\"ifname\":\"eth0\"}]}";
    run(env("GC", null, null, null), gc, "n1");
    List<Allocation> left = everywhere(json);
    assertEquals(1, left.size(), left.toString());
    assertEquals(new Attachment("keep", "eth0"), left.get(0).attachment());
  }

  @Test
  void status_failsOnlyWhenTheDefaultIsFull_orWithoutDefaultWhenEverySubPoolIs() {
    String subsOnly = conf(false, "[{'name':'a','ranges':[[{'subnet':'198.18.1.0/30'}]],'namespaces':['a']},"
        + "{'name':'b','ranges':[[{'subnet':'198.18.2.0/30'}]],'namespaces':['b']}]");
    run(env("ADD", "a1", "a", "x"), subsOnly, "n1"); // a is full: a /30 has one address besides the gateway
    run(env("STATUS", null, null, null), subsOnly, "n1");
    run(env("ADD", "b1", "b", "x"), subsOnly, "n1");
    IpamException e = assertThrows(IpamException.class, () -> run(env("STATUS", null, null, null), subsOnly, "n1"));
    assertEquals(ErrorCode.NOT_AVAILABLE, e.code());
    assertEquals(Set.of("net.a", "net.b"), Set.copyOf(everywhere(subsOnly).stream()
        .map(al -> al.address().toString().startsWith("198.18.1.") ? "net.a" : "net.b").toList()));
  }
}
