package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Exec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * A StatefulSet-like restart (issue 22): two pods {@code db/web-0..1}, each ADDed, DELed and
 * ADDed again with a new container ID, get the same address back; a pod of another namespace
 * never gets a held address; when the hold ends the address goes back to the pool. With the etcd
 * store (one pod, {@code db/web-0}) the second ADD comes from another node and still gets the same address.
 *
 * <h2>How the calls are made</h2>
 * Debian's containerd 1.6 {@code ctr run --cni} cannot pass {@code CNI_ARGS} (it has neither
 * {@code --cni-args} nor labels that reach CNI), so a sticky pod's calls are made as libcni makes
 * them for kubelet's runtime: the reference {@code /usr/lib/cni/bridge} is exec'd in the node's
 * network namespace with the conflist's plugin config on stdin, {@code CNI_PATH} the node's CNI
 * bin dir (jipam installed there from the bundle, in direct mode) and {@code CNI_ARGS
 * IgnoreUnknown=1;K8S_POD_NAMESPACE=db;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=ID}; the
 * pod's sandbox is a network namespace made by the test (a new one per container ID, as a restarted
 * pod gets). The runtime leg: a container started by containerd with {@code ctr run --cni} on the
 * same conflist (and so on the same bridge and pool) while the holds stand; having no pod name, it
 * must get a free address, and ctr's {@code --rm} DEL must succeed.
 *
 * <h2>Why the hold is 10 s</h2>
 * A hold is set at DEL as now + {@code holdSeconds}. The checks made while the holds stand (another
 * pod's ADD, a container's start) must finish within it on a busy machine: they took 0.9 to 1.8 s
 * in suite runs, so the hold is five times that (the test fails, naming the cause, when they do
 * not); its end is then awaited as a condition (another pod's ADD gets the address), never slept
 * for.
 */
@Order(1) // among the module's longest (50 to 80 s in suite runs): started first, not last
@Execution(ExecutionMode.CONCURRENT) // the two tests wait out their holds side by side: own network, bridge, sandboxes
class StatefulSetRestartIT {
  private static final int HOLD_SECONDS = 10;
  /** Two pods on the file store: enough for distinct held addresses and a lowest one. */
  private static final List<String> PODS = List.of("web-0", "web-1");
  /**
   * One pod on etcd: the cross-node restart is the same for every pod, and on etcd in direct mode
   * each plugin call is a JVM starting the etcd client (about 0.7 s of CPU).
   */
  private static final List<String> ETCD_PODS = List.of("web-0");
  private static final Path BRIDGE = Path.of("/usr/lib/cni/bridge");
  private static final AtomicInteger NETWORKS = new AtomicInteger();
  private static final int BASE = ThreadLocalRandom.current().nextInt(200);
  private static BundleNode node;
  private final List<String> sandboxes = new ArrayList<>();
  private final AtomicInteger containers = new AtomicInteger();
  /** The other namespace's pods added by {@link #restartEachPod}: their address and container. */
  private final List<String[]> others = new ArrayList<>();
  private String network;
  /** This test's number among the class's networks: its names (network, bridge, sandboxes) carry it. */
  private int networkNumber;
  private String subnetPrefix;
  private String bridge;
  private Path data;
  private String ipam;

  @BeforeAll
  static void startNode() throws Exception {
    BundleNode.requirePrerequisites("StatefulSetRestartIT");
    assertTrue(Files.isExecutable(BRIDGE), BRIDGE + " is missing (apt-get install containernetworking-plugins)");
    node = new BundleNode();
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  @BeforeEach
  void newNetwork() throws Exception {
    int n = NETWORKS.incrementAndGet();
    networkNumber = n;
    network = "jipam-sts-" + node.suffix + "-" + n;
    subnetPrefix = "198.19." + (BASE + n) + ".";
    bridge = "js" + node.suffix + n;
    data = Files.createDirectories(node.dir.resolve("sts-data-" + n));
    node.resumeAll();
  }

  @AfterEach
  void removeSandboxes() {
    for (String sandbox : sandboxes) {
      Exec.run(List.of("ip", "netns", "del", sandbox), null, "", Duration.ofSeconds(30));
    }
    sandboxes.clear();
    others.clear();
  }

  /** DEL of every pod of {@link #others}: the {@code other/} pods named as {@code pods}, in order. */
  private void delOthers(List<String> pods) {
    for (String[] other : others) {
      del(other[1], "other", pods.get(others.indexOf(other)));
    }
  }

  /** The ipam section: {@code store} (e.g. {@code 'dataDir':'/x',}), sticky db pods, lowest-free order, a log file. */
  private String ipam(String store) {
    return "{'type':'jipam'," + store + "'logFile':'" + data.resolve("plugin.log") + "','order':'lowest-free',"
        + "'ranges':[[{'subnet':'" + subnetPrefix + "0/24'}]],'sticky':{'pods':['db/*'],'holdSeconds':" + HOLD_SECONDS
        + "}}";
  }

  /** The bridge plugin's config as libcni hands it over from the conflist (one plugin: no prevResult). */
  private String pluginConfig() {
    return ("{'cniVersion':'1.0.0','name':'" + network + "','type':'bridge','bridge':'" + bridge
        + "','isGateway':true,'ipam':" + ipam + "}").replace('\'', '"');
  }

  private String conflist() {
    return ("{'cniVersion':'1.0.0','name':'" + network + "','plugins':[{'type':'bridge','bridge':'" + bridge
        + "','isGateway':true,'ipam':" + ipam + "}]}").replace('\'', '"');
  }

  /** A new container ID with its sandbox (a network namespace of the test's own). */
  private String newContainer() {
    String id = "sts-" + node.suffix + "-" + networkNumber + "-" + containers.incrementAndGet();
    Exec.sh("ip", "netns", "add", id);
    sandboxes.add(id);
    return id;
  }

  /** One call of the bridge plugin in the node's namespace, as libcni makes it for pod {@code ns/name}. */
  private Exec.Result bridge(String command, String container, String ns, String name) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", container);
    env.put("CNI_NETNS", "/var/run/netns/" + container);
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", node.bin.toString());
    env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + name
        + ";K8S_POD_INFRA_CONTAINER_ID=" + container);
    return Exec.cni(List.of("ip", "netns", "exec", node.netns), BRIDGE, env,
        pluginConfig().getBytes(StandardCharsets.UTF_8));
  }

  /** ADD of pod {@code ns/name} in a new sandbox; its IPv4 address (without prefix length) and container ID. */
  private String[] add(String ns, String name) {
    String container = newContainer();
    Exec.Result r = bridge("ADD", container, ns, name);
    assertEquals(0, r.exit(), () -> "ADD " + container + " " + ns + "/" + name + ": " + r + pluginLog());
    String address = Bundle.json(r.stdout()).path("ips").path(0).path("address").asText();
    assertTrue(address.startsWith(subnetPrefix) && address.endsWith("/24"), address);
    return new String[] {address.substring(0, address.indexOf('/')), container};
  }

  /** DEL of pod {@code ns/name}'s container, then its sandbox goes. */
  private void del(String container, String ns, String name) {
    Exec.Result r = bridge("DEL", container, ns, name);
    assertEquals(0, r.exit(), () -> "DEL " + container + " " + ns + "/" + name + ": " + r + pluginLog());
    Exec.sh("ip", "netns", "del", container);
    sandboxes.remove(container);
  }

  private String pluginLog() {
    try {
      Path log = data.resolve("plugin.log");
      return "\nplugin log:\n" + (Files.exists(log) ? Files.readString(log) : "(none)");
    } catch (java.io.IOException e) {
      return "\nplugin log unreadable: " + e;
    }
  }

  /** The plugin's log line of the ADD of {@code container}. */
  private String addLine(String container) throws Exception {
    return Files.readAllLines(data.resolve("plugin.log")).stream().filter(l -> l.contains("ADD " + container + "/eth0 "))
        .reduce((a, b) -> b).orElseThrow(() -> new AssertionError("no log line for ADD " + container + pluginLog()));
  }

  /**
   * Each of {@code pods} (namespace {@code db}): ADD, DEL, an ADD of pod {@code other/<same name>}
   * (kept in {@link #others}), ADD with a new container ID: the same address, logged as STICKY;
   * returns each pod's address and the containers now holding them.
   */
  private List<String[]> restartEachPod(List<String> pods, String storeOfFirst, String storeOfSecond)
      throws Exception {
    List<String[]> held = new ArrayList<>();
    for (String pod : pods) {
      ipam = ipam(storeOfFirst);
      String[] first = add("db", pod);
      del(first[1], "db", pod);
      ipam = ipam(storeOfSecond);
      // between the restarts, a pod of another namespace with the same name: lowest-free would give it the address
      String[] other = add("other", pod);
      assertNotEquals(first[0], other[0], "other/" + pod + " got db/" + pod + "'s held address" + pluginLog());
      others.add(other);
      String[] second = add("db", pod);
      assertEquals(first[0], second[0], "db/" + pod + " restarted with container " + second[1] + pluginLog());
      assertTrue(addLine(second[1]).contains(" ok origin=STICKY"), addLine(second[1]));
      held.add(second);
    }
    List<String> addresses = held.stream().map(h -> h[0]).toList();
    assertEquals(pods.size(), new TreeSet<>(addresses).size(), "the pods' addresses are distinct: " + addresses);
    return held;
  }

  @Test
  void restart_statefulSetPodsOnFileStore_sameAddressOthersNeverHeldOnesFreeAfterHold() throws Exception {
    String store = "'dataDir':'" + data + "',";
    ipam = ipam(store);
    node.useConflist(conflist());
    List<String[]> pods = restartEachPod(PODS, store, store);
    List<String> held = new ArrayList<>();
    long holdsFrom = System.nanoTime();
    for (int i = 0; i < PODS.size(); i++) {
      del(pods.get(i)[1], "db", PODS.get(i));
      held.add(pods.get(i)[0]);
    }
    System.out.println("held for db/" + PODS + ": " + held);

    // while the holds stand: a pod of another namespace with the same name, and a container of the runtime
    String[] other = add("other", "web-9");
    assertFalse(held.contains(other[0]), "other/web-9 got a held address " + other[0] + pluginLog());
    assertTrue(addLine(other[1]).contains(" ok origin=FREE"), addLine(other[1]));
    String id = "sts-ctr-" + node.suffix;
    Path out = node.dir.resolve("ctr-run-" + id + ".out");
    Process run = node.run(id, "ip -o -4 addr show dev eth0; echo UP; while [ ! -e /ctl/stop ]; do sleep 0.2; done; "
        + "echo BYE", out);
    String output = Await.value(() -> {
      String text = Files.readString(out);
      if (!text.contains("UP") && !run.isAlive()) {
        throw new AssertionError("ctr run ended: " + text);
      }
      return text.contains("UP") ? text : null;
    }, Duration.ofSeconds(90), () -> "container " + id + " up" + node.log() + pluginLog());
    String inet = BundleNode.inet(output);
    assertNotNull(inet, output);
    String runtimeAddress = inet.substring(0, inet.indexOf('/'));
    assertTrue(runtimeAddress.startsWith(subnetPrefix), runtimeAddress);
    assertFalse(held.contains(runtimeAddress), "the container from ctr run --cni got a held address " + runtimeAddress);
    long checkedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - holdsFrom);
    long checked = checkedMillis / 1000;
    System.out.println("checks while the holds stood took " + checkedMillis + " ms of the " + HOLD_SECONDS + " s hold");
    assertTrue(checked < HOLD_SECONDS, "the checks during the holds took " + checked + " s, longer than the hold ("
        + HOLD_SECONDS + " s): the machine is too busy for this test's timing");
    node.stopAll();
    assertTrue(run.waitFor(60, TimeUnit.SECONDS), "ctr run did not end");
    assertEquals(0, run.exitValue(), () -> "ctr run (its --rm DEL): " + read(out) + pluginLog());

    // the holds end: another pod's ADD gets the lowest held address back (lowest-free order)
    String lowest = new TreeSet<>(held).first();
    String[] taker = Await.value(() -> {
      String[] attempt = add("other", "app-0");
      if (held.contains(attempt[0])) {
        return attempt;
      }
      del(attempt[1], "other", "app-0");
      return null;
    }, Duration.ofSeconds(HOLD_SECONDS * 4L), () -> "another pod getting a held address after the hold" + pluginLog());
    System.out.println("the hold ended: " + taker[0] + " to another pod " + TimeUnit.NANOSECONDS.toMillis(
        System.nanoTime() - holdsFrom) + " ms after the DELs began");
    assertEquals(lowest, taker[0], "the lowest free address after the holds ended");
    assertTrue(addLine(taker[1]).contains(" ok origin=FREE"), addLine(taker[1]));
    del(taker[1], "other", "app-0");
    del(other[1], "other", "web-9");
    delOthers(PODS);
  }

  @Test
  void restart_statefulSetPodsOnEtcdFromAnotherNode_sameAddress() throws Exception {
    assumeTrue(Exec.underCi() || Etcd.binary() != null, "apt-get install etcd-server");
    try (Etcd etcd = Etcd.builder().netns(node.netns).start()) {
      String nodeA = etcdStore(etcd, "sts-node-a");
      String nodeB = etcdStore(etcd, "sts-node-b");
      List<String[]> pods = restartEachPod(ETCD_PODS, nodeA, nodeB);
      for (int i = 0; i < ETCD_PODS.size(); i++) {
        del(pods.get(i)[1], "db", ETCD_PODS.get(i)); // node b releases: held again, for the next restart
      }
      List<String> held = pods.stream().map(p -> p[0]).toList();
      ipam = ipam(nodeA);
      String[] other = add("other", "web-9");
      assertFalse(held.contains(other[0]), "other/web-9 on node a got a held address " + other[0] + pluginLog());
      String pod = ETCD_PODS.get(0);
      String[] back = add("db", pod);
      assertEquals(held.get(0), back[0], "db/" + pod + " back on node a" + pluginLog());
      assertTrue(addLine(back[1]).contains(" ok origin=STICKY"), addLine(back[1]));
      del(back[1], "db", pod);
      del(other[1], "other", "web-9");
      delOthers(ETCD_PODS);
    }
  }

  private String etcdStore(Etcd etcd, String nodeName) {
    return "'store':{'type':'etcd','endpoints':['" + etcd.endpoint() + "'],'node':'" + nodeName + "','prefix':'/sts-"
        + node.suffix + "','timeoutMillis':10000},";
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (java.io.IOException e) {
      return "(" + file + " unreadable: " + e + ")";
    }
  }
}
