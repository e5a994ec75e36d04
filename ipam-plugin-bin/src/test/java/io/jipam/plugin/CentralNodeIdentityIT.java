package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The "nodes through a central jipamd" topology as built, every part a real process: a real etcd,
 * a central {@code dist/bin/jipamd --store etcd} on TCP with mutual TLS (node certificates from
 * one CA, an operator certificate from another, all made by the test), two node jipamds
 * ({@code --store remote}, each with its own node certificate; node A names itself with
 * {@code --node-name}, node B with {@code NODE_NAME} as the DaemonSet's downward API sets it), and
 * {@code dist/bin/jipam} in daemon mode on each node's socket. Node A's CNI GC keeps node B's pods;
 * {@code jipamctl list} shows each allocation under its node; node A's socket cannot reclaim node
 * B (forwarded with node A's identity, refused centrally, CNI code 103); {@code jipamctl
 * reclaim-node node-a} with the operator certificate releases exactly node A's pods.
 */
@Order(1) // among the module's longest (about 31 s in a suite run): started first, not last
@Timeout(180)
class CentralNodeIdentityIT {
  @TempDir Path dir;
  private final List<AutoCloseable> running = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = running.size() - 1; i >= 0; i--) {
      running.get(i).close();
    }
  }

  @Test
  void cniGc_ofNodeA_keepsNodeBsPodsAndReclaimNodeReleasesExactlyNodeAs() throws Exception {
    Etcd etcd = Etcd.single();
    running.add(etcd);
    TestCerts certs = TestCerts.make(Files.createDirectory(dir.resolve("certs"))).ca("operator-ca")
        .client("node-a", "ca").client("node-b", "ca").client("admin", "operator-ca");
    Path etcdConfig = dir.resolve("etcd.json");
    Files.writeString(etcdConfig, "{\"endpoints\": [\"" + etcd.endpoint() + "\"], \"node\": \"central-0\","
        + " \"prefix\": \"/central-it-" + UUID.randomUUID() + "\"}");
    JipamdProcess central = start(Map.of(), "--no-socket", "--listen", "127.0.0.1:0",
        "--tls-cert", certs.pem("server").toString(), "--tls-key", certs.key("server").toString(),
        "--client-ca", certs.pem("ca").toString(), "--operator-ca", certs.pem("operator-ca").toString(),
        "--store", "etcd", "--etcd-config", etcdConfig.toString());
    String address = "127.0.0.1:" + central.tcpPort();
    Path socketA = dir.resolve("a.sock");
    Path socketB = dir.resolve("b.sock");
    start(Map.of(), node(socketA, address, certs, "node-a", "--node-name", "node-a"));
    start(Map.of("NODE_NAME", "node-b"), node(socketB, address, certs, "node-b"));

    for (String pod : List.of("a1", "a2")) {
      add(socketA, "pod-" + pod);
    }
    for (String pod : List.of("b1", "b2")) {
      add(socketB, "pod-" + pod);
    }
    // a generous bound per call: the machine these tests share may be loaded
    String[] operator = {"--server", address, "--timeout", "30", "--ca", certs.pem("ca").toString(), "--cert",
        certs.pem("admin").toString(), "--key", certs.key("admin").toString()};
    assertEquals(Map.of("pod-a1", "node-a", "pod-a2", "node-a", "pod-b1", "node-b", "pod-b2", "node-b"),
        listed(operator));

    // node A's runtime garbage-collects, knowing only node A's attachments
    CniExec.Result gc = cni(CniExec.env("GC", null, null, null),
        config(socketA, ",\"cni.dev/valid-attachments\":[{\"containerID\":\"pod-a1\",\"ifname\":\"eth0\"}]"));
    assertEquals(0, gc.exit(), gc::toString);
    assertEquals(Map.of("pod-a1", "node-a", "pod-b1", "node-b", "pod-b2", "node-b"), listed(operator),
        "node A's GC released node A's stale pod only");

    // an operator's call on node A's socket goes on with node A's identity: refused centrally
    CniExec.Result viaNode = CniExec.jipamctl(dir, "--server", "unix:" + socketA, "--timeout", "30",
        "reclaim-node", "node-b", "--force");
    assertEquals(1, viaNode.exit(), viaNode::toString);
    assertTrue(viaNode.stderr().contains("PERMISSION_DENIED") && viaNode.stderr().contains("103"), viaNode::toString);
    assertEquals(3, listed(operator).size(), "nothing released");

    CniExec.Result reclaim = CniExec.jipamctl(dir, concat(operator, "reclaim-node", "node-a", "--force"));
    assertEquals(0, reclaim.exit(), reclaim::toString);
    assertEquals(Map.of("pod-b1", "node-b", "pod-b2", "node-b"), listed(operator), "exactly node A's pods released");
    CniExec.Result check = CniExec.jipamctl(dir, concat(operator, "check"));
    assertEquals(0, check.exit(), check::toString);
  }

  private JipamdProcess start(Map<String, String> env, String... args) throws Exception {
    JipamdProcess j = CniExec.jipamd(dir, env, args);
    running.add(j);
    return j;
  }

  private static String[] node(Path socket, String central, TestCerts certs, String cert, String... more) {
    List<String> args = new ArrayList<>(List.of("--socket", socket.toString(), "--store", "remote",
        "--remote", central, "--remote-ca", certs.pem("ca").toString(), "--remote-cert", certs.pem(cert).toString(),
        "--remote-key", certs.key(cert).toString()));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  private static String[] concat(String[] a, String... b) {
    List<String> out = new ArrayList<>(List.of(a));
    out.addAll(List.of(b));
    return out.toArray(String[]::new);
  }

  private static String config(Path socket, String extra) {
    return "{\"cniVersion\":\"1.1.0\",\"name\":\"pods\",\"type\":\"bridge\"" + extra + ",\"ipam\":{\"type\":\"jipam\","
        + "\"daemon\":{\"socket\":\"" + socket + "\"},\"ranges\":[[{\"subnet\":\"198.18.40.0/22\"}]]}}";
  }

  /** A CNI call, repeated while it answers CNI error 11 (as a runtime repeats it), up to 60 s. */
  private static CniExec.Result cni(Map<String, String> env, String stdin) {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    CniExec.Result r;
    do {
      r = CniExec.run(CniExec.JIPAM, env, stdin);
    } while (r.exit() != 0 && r.stdout().contains("\"code\": 11") && System.nanoTime() < deadline);
    return r;
  }

  private static void add(Path socket, String containerId) {
    CniExec.Result r = cni(CniExec.env("ADD", containerId, "eth0", "/var/run/netns/x"), config(socket, ""));
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.stdout().contains("198.18.4"), r::toString);
  }

  /** Each allocation's container ID and node, as {@code jipamctl list} prints them. */
  private Map<String, String> listed(String[] operator) {
    CniExec.Result r = CniExec.jipamctl(dir, concat(operator, "list"));
    assertEquals(0, r.exit(), r::toString);
    Map<String, String> out = new TreeMap<>();
    for (String line : r.stdout().split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 3 && f[0].equals("pods")) {
        out.put(f[2].substring(0, f[2].indexOf('/')), f[f.length - 1]);
      }
    }
    return out;
  }
}
