package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jipam under a real container runtime: Debian's containerd and runc run several containers at
 * once with {@code ctr run --cni}, which sets their network up through libcni from the conf dir
 * and bin dir, as kubelet's runtime does, on a bridge conflist whose IPAM is jipam installed from
 * the bundle ({@link BundleNode}). Each container gets its own address from jipam and reaches
 * its gateway; removing the containers (ctr's {@code --rm}: CNI DEL) leaves jipam's store empty.
 * A container that dies without DEL keeps its address until a CNI GC that lists the live
 * attachments releases it. Both in direct mode (the plugin opens the store: files, etcd) and in
 * daemon mode (the plugin forwards each call to the bundle's jipamd on a unix socket, which holds
 * a file or etcd store).
 *
 * <p>One containerd serves the whole class; each test has its own network: name, bridge, /24,
 * data dir and container names.
 */
@Order(1) // among the module's longest (about 59 s in a suite run): started first, not last
class ContainerdEndToEndIT {
  private static final int CONTAINERS = 3;
  private static final AtomicInteger NETWORKS = new AtomicInteger();
  private static final int BASE = 100 + ThreadLocalRandom.current().nextInt(100);
  private static BundleNode node;
  private int octet;
  private String gateway;
  private String network;
  private String bridge;
  private String idPrefix;
  private Path data;
  private final List<Process> runs = new ArrayList<>();
  private JipamdProcess jipamd;

  @BeforeAll
  static void startNode() throws Exception {
    BundleNode.requirePrerequisites("ContainerdEndToEndIT");
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
    octet = BASE + n;
    gateway = "198.18." + octet + ".1";
    network = "jipam-e2e-" + node.suffix + "-" + n;
    bridge = "jc" + node.suffix + n;
    idPrefix = "e2e-" + node.suffix + "-" + n + "-";
    data = Files.createDirectories(node.dir.resolve("data-" + n));
    node.resumeAll();
  }

  @AfterEach
  void endNetwork() throws Exception {
    node.stopAll();
    for (Process run : runs) {
      if (!run.waitFor(60, TimeUnit.SECONDS)) {
        run.destroyForcibly();
      }
    }
    if (jipamd != null) {
      jipamd.close();
    }
  }

  private String containerId(int i) {
    return idPrefix + i;
  }

  private Path out(int i) {
    return node.dir.resolve("ctr-run-" + containerId(i) + ".out");
  }

  /** The ipam section: {@code store} (e.g. {@code 'dataDir':'/x',}) and this test's /24. */
  private String ipam(String store) {
    return "{'type':'jipam'," + store + "'ranges':[[{'subnet':'198.18." + octet + ".0/24'}]]}";
  }

  /** Makes the node's only conflist a bridge on this test's bridge and /24 with {@code store}. */
  private void useConflist(String store) throws Exception {
    String ipam = ipam(store);
    ipam = ipam.substring(0, ipam.length() - 1) + ",'routes':[{'dst':'0.0.0.0/0'}]}";
    node.useConflist(("{'cniVersion':'1.0.0','name':'" + network + "','plugins':[{"
        + "'type':'bridge','bridge':'" + bridge + "','isGateway':true,'ipam':" + ipam + "}]}").replace('\'', '"'));
  }

  private String directFiles() {
    return "'dataDir':'" + data + "',";
  }

  private String daemon() {
    return "'daemon':{'socket':'" + data.resolve("jipamd.sock") + "','timeoutSeconds':30},";
  }

  /** Starts the installed bundle's jipamd on a socket of this test with {@code args}. */
  private void startJipamd(String... args) throws Exception {
    jipamd = Bundle.jipamd(Bundle.current(node.bin), node.netns, data.resolve("jipamd.sock"), args);
  }

  /**
   * Starts {@link #CONTAINERS} containers, each printing its eth0 address and whether it reached
   * the gateway, then waiting for /ctl/stop; returns each one's address once all are up.
   */
  private List<String> runContainers() throws Exception {
    String script = "ip -o -4 addr show dev eth0; if ping -c 1 -W 5 " + gateway + " >/dev/null; then echo PING-OK; "
        + "else echo PING-FAILED; fi; while [ ! -e /ctl/stop ]; do sleep 0.2; done; echo BYE";
    for (int i = 0; i < CONTAINERS; i++) {
      runs.add(node.run(containerId(i), script, out(i)));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < CONTAINERS; i++) {
      String output;
      while (!(output = Files.readString(out(i))).contains("PING-")) {
        assertTrue(runs.get(i).isAlive(), "container " + i + " ended early: " + output + node.log() + jipamdLog());
        assertTrue(System.nanoTime() < deadline, "container " + i + " not up within 90 s: " + output + node.log());
        Thread.sleep(100);
      }
      assertTrue(output.contains("PING-OK"), "container " + i + " did not reach " + gateway + ": " + output);
      String address = BundleNode.inet(output);
      assertNotNull(address, "no IPv4 address on eth0 of container " + i + ": " + output);
      assertTrue(address.startsWith("198.18." + octet + ".") && address.endsWith("/24"), address);
      addresses.add(address.substring(0, address.indexOf('/')));
    }
    System.out.println("containers up on " + network + " with addresses " + addresses);
    assertEquals(CONTAINERS, new TreeSet<>(addresses).size(), "addresses are not distinct: " + addresses);
    return addresses;
  }

  private String jipamdLog() {
    return jipamd == null ? "" : "\njipamd log:\n" + jipamd.output();
  }

  /**
   * Lets the containers still running end; ctr's --rm runs CNI DEL, then deletes the container.
   * ctr's exit 0 says both: the script ran to its end (it exits 0 only after its loop; a killed
   * container exits otherwise) and the DEL succeeded. The script's last line ({@code BYE}) is not
   * checked: ctr can lose a task's last output line when the task exits right after writing it
   * (seen once, in a suite run: exit 0, "PING-OK" but no "BYE").
   */
  private void stopContainers(List<Integer> running) throws Exception {
    node.stopAll();
    for (int i : running) {
      assertTrue(runs.get(i).waitFor(60, TimeUnit.SECONDS), "container " + i + " did not stop: " + Files.readString(out(i)));
      assertEquals(0, runs.get(i).exitValue(), "ctr run " + i + ": " + Files.readString(out(i)) + jipamdLog());
    }
    for (int i : running) {
      assertTrue(node.ctr("containers", "ls", "-q").lines().noneMatch(containerId(i)::equals),
          "ctr --rm removed container " + i);
    }
  }

  private static List<String> sorted(List<String> addresses) {
    return new TreeSet<>(addresses).stream().toList();
  }

  @Test
  void ctrRunCni_severalContainers_distinctAddressesFromJipamReleasedOnRemoval() throws Exception {
    useConflist(directFiles());
    List<String> addresses = runContainers();
    assertEquals(sorted(addresses), Bundle.addressFiles(data, network),
        "jipam's store holds exactly the containers' addresses");
    stopContainers(List.of(0, 1, 2));
    assertEquals(List.of(), Bundle.addressFiles(data, network), "removing the containers released every address");
  }

  /**
   * Daemon mode: the plugin forwards every call to the bundle's jipamd on its unix socket; jipamd
   * holds the store (files in a data dir, or etcd on the node's loopback).
   */
  @ParameterizedTest
  @ValueSource(strings = {"file", "etcd"})
  void ctrRunCni_daemonMode_distinctAddressesFromJipamdReleasedOnRemoval(String store) throws Exception {
    Etcd etcd = null;
    try {
      if (store.equals("file")) {
        startJipamd("--store", "file", "--data-dir", data.toString(), "--log-calls");
      } else {
        assumeTrue(Exec.underCi() || Etcd.binary() != null, "apt-get install etcd-server");
        etcd = Etcd.builder().netns(node.netns).start();
        Path etcdConfig = data.resolve("etcd.json");
        Files.writeString(etcdConfig, "{\"endpoints\":[\"" + etcd.endpoint() + "\"],\"node\":\"e2e-node\","
            + "\"prefix\":\"/e2e\",\"timeoutMillis\":10000}");
        startJipamd("--store", "etcd", "--etcd-config", etcdConfig.toString(), "--log-calls");
      }
      useConflist(daemon());
      List<String> addresses = runContainers();
      assertEquals(sorted(addresses), jipamctlList(), "jipamd's store holds exactly the containers' addresses");
      if (etcd != null) {
        assertEquals(CONTAINERS, handles(etcd), "one handle per container in etcd");
      } else {
        assertEquals(sorted(addresses), Bundle.addressFiles(data, network), "in jipamd's data dir");
      }
      stopContainers(List.of(0, 1, 2));
      assertEquals(List.of(), jipamctlList(), "removing the containers released every address");
      if (etcd != null) {
        assertEquals(0, handles(etcd), "removing the containers released their handles");
      } else {
        assertEquals(List.of(), Bundle.addressFiles(data, network), "jipamd's data dir holds no address");
      }
      Exec.Result check = jipamctl("check");
      assertEquals(0, check.exit(), check.toString());
      String log = jipamd.output();
      assertTrue(log.contains("method=CNI") || log.contains("method=cni"), "the calls went through jipamd:\n" + log);
    } finally {
      if (etcd != null) {
        jipamd.close(); // before its etcd goes
        etcd.close();
      }
    }
  }

  /**
   * The runtime's exec path is the native shim (the bundle installs it as {@code jipam}): several
   * containers start at once in daemon mode, and jipamd is SIGKILLed when half of them are up; two
   * more containers are started while it is dead, then it is restarted. A container whose ADD met
   * the dead jipamd fails (CNI error 11; the two late ones always do); as kubelet does, the test
   * calls DEL for it and starts a new one in its place. In the end every container holds a
   * distinct address, jipamd's store holds exactly those, and removing them leaves it empty.
   */
  @Test
  void ctrRunCni_shimDaemonMode_jipamdKilledHalfway_distinctAddressesStoreEmptyAfter() throws Exception {
    int n = 6;
    startJipamd("--store", "file", "--data-dir", data.toString(), "--log-calls");
    useConflist(daemon());
    String script = "ip -o -4 addr show dev eth0; echo UP; while [ ! -e /ctl/stop ]; do sleep 0.2; done; echo BYE";
    Map<String, Process> running = new java.util.LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      running.put(containerId(i), node.run(containerId(i), script, node.dir.resolve("ctr-run-" + containerId(i) + ".out")));
    }
    List<String> failed = new ArrayList<>();
    boolean killed = false;
    int retries = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (true) {
      Map<String, String> up = new java.util.TreeMap<>();
      for (Map.Entry<String, Process> e : new ArrayList<>(running.entrySet())) {
        String output = Files.readString(node.dir.resolve("ctr-run-" + e.getKey() + ".out"));
        if (output.contains("UP")) {
          up.put(e.getKey(), output);
        } else if (!e.getValue().isAlive()) {
          // its ADD met the dead jipamd: a runtime releases what the attempt may hold, and retries
          running.remove(e.getKey());
          failed.add(e.getKey());
          assertTrue(++retries <= 3 * n, "too many failed starts: " + failed + "\n" + output + jipamdLog());
          String id = idPrefix + "r" + retries;
          running.put(id, node.run(id, script, node.dir.resolve("ctr-run-" + id + ".out")));
        }
      }
      if (!killed && up.size() >= n / 2) {
        jipamd.kill();
        // two more containers while jipamd is dead (its socket file left behind): their ADD must fail
        for (int late = 0; late < 2; late++) {
          String id = idPrefix + "late" + late;
          Process run = node.run(id, script, node.dir.resolve("ctr-run-" + id + ".out"));
          assertTrue(run.waitFor(60, TimeUnit.SECONDS), id + " hung while jipamd was dead");
          assertTrue(run.exitValue() != 0, id + " started without jipamd: "
              + Files.readString(node.dir.resolve("ctr-run-" + id + ".out")));
          running.put(id, run);
        }
        Files.deleteIfExists(data.resolve("jipamd.sock"));
        startJipamd("--store", "file", "--data-dir", data.toString(), "--log-calls");
        killed = true;
      }
      if (killed && up.size() == running.size()) {
        break;
      }
      assertTrue(System.nanoTime() < deadline, "containers not up within 180 s: " + up.keySet() + node.log() + jipamdLog());
      Thread.sleep(100);
    }
    String prefix = BundleNode.NAMESPACE + "-";
    for (String id : failed) {
      Exec.Result del = Exec.run(List.of(node.bin.resolve("jipam").toString()), Map.of("CNI_COMMAND", "DEL",
          "CNI_CONTAINERID", prefix + id, "CNI_IFNAME", "eth0", "CNI_PATH", node.bin.toString()),
          ("{'cniVersion':'1.0.0','name':'" + network + "','type':'bridge','ipam':" + ipam(daemon()) + "}")
              .replace('\'', '"'), Duration.ofSeconds(60));
      assertEquals(0, del.exit(), "DEL of the failed " + id + ": " + del + jipamdLog());
    }
    List<String> addresses = new ArrayList<>();
    for (String id : running.keySet()) {
      String address = BundleNode.inet(Files.readString(node.dir.resolve("ctr-run-" + id + ".out")));
      assertNotNull(address, id);
      addresses.add(address.substring(0, address.indexOf('/')));
    }
    System.out.println("through the shim, jipamd killed halfway: " + addresses + ", failed starts " + failed);
    assertEquals(n + 2, addresses.size());
    assertEquals(n + 2, new TreeSet<>(addresses).size(), "addresses are not distinct: " + addresses);
    assertEquals(sorted(addresses), jipamctlList(), "jipamd's store holds exactly the running containers' addresses");
    node.stopAll();
    for (Map.Entry<String, Process> e : running.entrySet()) {
      assertTrue(e.getValue().waitFor(60, TimeUnit.SECONDS), e.getKey() + " did not stop");
      assertEquals(0, e.getValue().exitValue(), e.getKey() + ": "
          + Files.readString(node.dir.resolve("ctr-run-" + e.getKey() + ".out")) + jipamdLog());
    }
    assertEquals(List.of(), jipamctlList(), "removing the containers released every address");
    assertEquals(List.of(), Bundle.addressFiles(data, network), "jipamd's data dir holds no address");
  }

  /** Runs the bundle's jipamctl against this test's jipamd. */
  private Exec.Result jipamctl(String... args) {
    List<String> command = new ArrayList<>(List.of(Bundle.current(node.bin).resolve("bin/jipamctl").toString(),
        "--server", "unix:" + data.resolve("jipamd.sock"), "-o", "json"));
    command.addAll(List.of(args));
    return Exec.run(command, null, "", Duration.ofSeconds(60));
  }

  /** The addresses jipamd's store holds for this test's network, sorted, through jipamctl list. */
  private List<String> jipamctlList() {
    Exec.Result list = jipamctl("list", "--pool", network).ok();
    List<String> addresses = new ArrayList<>();
    for (JsonNode allocation : Bundle.json(list.stdout())) {
      addresses.add(allocation.path("address").asText());
    }
    return sorted(addresses);
  }

  @ParameterizedTest
  @ValueSource(strings = {"direct", "daemon"})
  void gc_containerKilledWithoutDel_gcListingTheLiveOnesReleasesExactlyTheDead(String mode) throws Exception {
    String store = directFiles();
    if (mode.equals("daemon")) {
      startJipamd("--store", "file", "--data-dir", data.toString());
      store = daemon();
    }
    useConflist(store);
    List<String> addresses = runContainers();
    assertEquals(sorted(addresses), Bundle.addressFiles(data, network),
        "jipam's store holds exactly the containers' addresses");
    // container 2 dies without DEL: its ctr (which would run DEL) is killed, then its task and
    // its container are removed from containerd
    runs.get(2).destroyForcibly().waitFor(20, TimeUnit.SECONDS);
    node.ctr("tasks", "kill", "-s", "KILL", containerId(2));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Exec.run(node.ctrCommand("tasks", "rm", containerId(2)), null, "", Duration.ofSeconds(20)).exit() != 0) {
      assertTrue(System.nanoTime() < deadline, "the killed task did not stop");
      Thread.sleep(100);
    }
    node.ctr("containers", "rm", containerId(2));
    assertEquals(sorted(addresses), Bundle.addressFiles(data, network),
        "the dead container's address is still held (nobody called DEL)");
    // libcni names an attachment <namespace>-<container>; the address file says so too
    String prefix = BundleNode.NAMESPACE + "-";
    assertTrue(Files.readString(data.resolve(network).resolve(addresses.get(2))).startsWith(prefix + containerId(2)));

    // CNI GC (cniVersion 1.1.0) with the attachments the runtime still has, as libcni sends it:
    // the network's plugin config with the list added
    String valid = "[{'containerID':'" + prefix + containerId(0) + "','ifname':'eth0'},"
        + "{'containerID':'" + prefix + containerId(1) + "','ifname':'eth0'}]";
    String gc = ("{'cniVersion':'1.1.0','name':'" + network + "','type':'bridge','ipam':" + ipam(store)
        + ",'cni.dev/valid-attachments':" + valid + "}").replace('\'', '"');
    Exec.Result collected = Exec.run(List.of(node.bin.resolve("jipam").toString()),
        Map.of("CNI_COMMAND", "GC", "CNI_PATH", node.bin.toString()), gc, Duration.ofSeconds(60));
    assertEquals(0, collected.exit(), collected + jipamdLog());
    assertEquals(sorted(addresses.subList(0, 2)), Bundle.addressFiles(data, network),
        "GC released exactly the dead container's address");

    stopContainers(List.of(0, 1));
    assertEquals(List.of(), Bundle.addressFiles(data, network), "removing the live containers released the rest");
  }

  @Test
  void ctrRunCni_etcdStore_distinctAddressesHandlesGoneOnRemoval() throws Exception {
    // the clustered store under the runtime, in direct mode (the plugin opens etcd on every call)
    assumeTrue(Exec.underCi() || Etcd.binary() != null, "apt-get install etcd-server");
    // etcd on the node namespace's loopback, where the plugins run
    try (Etcd etcd = Etcd.builder().netns(node.netns).start()) {
      useConflist("'store':{'type':'etcd','endpoints':['" + etcd.endpoint() + "'],'node':'e2e-node','prefix':'/e2e',"
          + "'timeoutMillis':10000},");
      runContainers();
      assertEquals(CONTAINERS, handles(etcd), "one handle per container in etcd");
      stopContainers(List.of(0, 1, 2));
      assertEquals(0, handles(etcd), "removing the containers released their handles");
    }
  }

  /** How many allocation handles etcd holds under the test's prefix (etcd's JSON gateway). */
  private int handles(Etcd etcd) {
    Base64.Encoder b64 = Base64.getEncoder();
    String body = "{\"key\":\"" + b64.encodeToString("/e2e/v2/handles/".getBytes(StandardCharsets.UTF_8))
        + "\",\"range_end\":\"" + b64.encodeToString("/e2e/v2/handles0".getBytes(StandardCharsets.UTF_8))
        + "\",\"count_only\":true}";
    Exec.Result response = Exec.run(List.of("ip", "netns", "exec", node.netns, "busybox", "wget", "-q", "-O", "-",
        "--post-data", body, etcd.endpoint() + "/v3/kv/range"), null, "", Duration.ofSeconds(20)).ok();
    return Bundle.json(response.stdout()).path("count").asInt(0);
  }
}
