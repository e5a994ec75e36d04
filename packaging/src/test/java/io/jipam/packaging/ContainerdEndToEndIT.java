package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * jipam under a real container runtime: Debian's containerd and runc run several containers at
 * once with {@code ctr run --cni}, which sets their network up through libcni from the conf dir
 * and bin dir, as kubelet's runtime does, on a bridge conflist whose IPAM is jipam installed from
 * the bundle. Each container gets its own address from jipam and reaches its gateway; removing the
 * containers (ctr's {@code --rm}: CNI DEL) leaves jipam's store empty. A container that dies
 * without DEL keeps its address until a CNI GC that lists the live attachments releases it.
 *
 * <p>Isolation: containerd runs with its own socket, root and state under a temp dir. {@code ctr}
 * reads CNI from the fixed paths /etc/cni/net.d and /opt/cni/bin, so each {@code ctr} runs in a
 * private mount namespace where those paths are bind mounts of this test's dirs (over overlays of
 * /etc and /opt whose upper layers are in the temp dir): the host's CNI dirs are never read nor
 * written. The plugins' "host" side (the bridge and its gateway address) is a network namespace of
 * the test's own, so the root namespace's links and routes do not change. The image is made here
 * from Debian's busybox-static; nothing is pulled.
 */
class ContainerdEndToEndIT {
  private static final int CONTAINERS = 3;
  private static final String IMAGE = "jipam.test/busybox:e2e";
  private static final String NAMESPACE = "jipam-e2e";

  private Path dir;
  private String suffix;
  private String netns;
  private Process containerd;
  private final List<Process> runs = new ArrayList<>();

  @BeforeEach
  void prerequisites() throws IOException {
    assumeTrue(Proc.isRoot(), "ContainerdEndToEndIT skipped: it needs root (it runs containerd and runc, "
        + "and makes network and mount namespaces)");
    List<String> missing = new ArrayList<>();
    for (String[] tool : new String[][] {{"/usr/bin/containerd", "containerd"}, {"/usr/bin/ctr", "containerd"},
        {"/usr/sbin/runc", "runc"}, {"/bin/busybox", "busybox-static"}, {"/usr/lib/cni/bridge", "containernetworking-plugins"}}) {
      if (!Files.isExecutable(Path.of(tool[0])) && !missing.contains(tool[1])) {
        missing.add(tool[1]);
      }
    }
    if (Proc.run(List.of("dpkg", "-s", "busybox-static"), null, "", Duration.ofSeconds(30)).exit() != 0
        && !missing.contains("busybox-static")) {
      missing.add("busybox-static"); // /bin/busybox of the busybox package is not static
    }
    String why = "ContainerdEndToEndIT needs the Debian packages " + missing + " (scripts/test installs them)";
    if (Proc.underCi()) {
      assertEquals(List.of(), missing, why);
    }
    assumeTrue(missing.isEmpty(), why);
    Bundle.requireBuilt();
    suffix = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    dir = Files.createTempDirectory(Path.of("/tmp"), "jipam-ctr-");
    netns = "jipam-ctr-" + suffix;
  }

  @AfterEach
  void cleanUp() throws Exception {
    if (dir == null) {
      return;
    }
    Files.writeString(dir.resolve("ctl/stop"), "", StandardCharsets.UTF_8);
    for (Process run : runs) {
      if (!run.waitFor(20, TimeUnit.SECONDS)) {
        run.destroyForcibly();
      }
    }
    if (containerd != null) {
      String sock = dir.resolve("containerd.sock").toString();
      for (String id : Proc.run(List.of("ctr", "-a", sock, "-n", NAMESPACE, "containers", "ls", "-q"), null, "",
          Duration.ofSeconds(20)).stdout().split("\\s+")) {
        if (!id.isBlank()) {
          Proc.run(List.of("ctr", "-a", sock, "-n", NAMESPACE, "tasks", "kill", "-s", "KILL", id), null, "", Duration.ofSeconds(20));
          Proc.run(List.of("ctr", "-a", sock, "-n", NAMESPACE, "tasks", "rm", "-f", id), null, "", Duration.ofSeconds(20));
          Proc.run(List.of("ctr", "-a", sock, "-n", NAMESPACE, "containers", "rm", id), null, "", Duration.ofSeconds(20));
        }
      }
      containerd.destroy();
      if (!containerd.waitFor(20, TimeUnit.SECONDS)) {
        containerd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    Proc.run(List.of("ip", "netns", "del", netns), null, "", Duration.ofSeconds(20));
    // containerd unmounts what it mounted; a kill in the wrong moment may leave a rootfs mount
    List<String> mounts = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
      String target = line.split(" ")[1];
      if (target.startsWith(dir.toString())) {
        mounts.add(target);
      }
    }
    for (int i = mounts.size() - 1; i >= 0; i--) {
      Proc.run(List.of("umount", "-l", mounts.get(i)), null, "", Duration.ofSeconds(20));
    }
    Proc.run(List.of("rm", "-rf", dir.toString()), null, "", Duration.ofMinutes(1));
  }

  private int octet;
  private String gateway;
  private String network;
  private Path data;
  private Path node;

  /** The bundle installed into the test's CNI dirs, the image imported, containerd and the netns up. */
  private void startNode() throws Exception {
    octet = 100 + ThreadLocalRandom.current().nextInt(150);
    String subnet = "198.18." + octet + ".0/24";
    gateway = "198.18." + octet + ".1";
    network = "jipam-e2e-" + suffix;
    data = dir.resolve("data");
    Path bin = dir.resolve("cni/bin");
    Path conf = dir.resolve("cni/net.d");
    Files.createDirectories(dir.resolve("ctl"));

    // the plugin from the bundle, the conflist beside it, and the reference plugins the conflist names
    Path unpacked = Bundle.unpack(Files.createDirectories(dir.resolve("bundle")));
    Path conflist = dir.resolve("10-jipam-e2e.conflist");
    Files.writeString(conflist, ("{'cniVersion':'1.0.0','name':'" + network + "','plugins':[{'type':'bridge',"
        + "'bridge':'jc" + suffix + "','isGateway':true,'ipam':{'type':'jipam','dataDir':'" + data + "',"
        + "'ranges':[[{'subnet':'" + subnet + "'}]],'routes':[{'dst':'0.0.0.0/0'}]}}]}").replace('\'', '"'));
    Proc.sh(Bundle.current(unpacked).resolve("bin/jipam-install").toString(), "--conflist", conflist.toString(),
        "--conf-dir", conf.toString(), bin.toString());
    for (String plugin : List.of("bridge", "loopback")) {
      Files.copy(Path.of("/usr/lib/cni", plugin), bin.resolve(plugin));
    }

    Path image = busyboxImage();
    startContainerd();
    ctr("images", "import", image.toString());
    Proc.sh("ip", "netns", "add", netns);
    Proc.sh("ip", "-n", netns, "link", "set", "lo", "up");

    node = dir.resolve("node-ctr.sh");
    Files.writeString(node, String.join("\n",
        "#!/bin/sh",
        "# ctr as on a node whose CNI dirs are this test's: private overlays of /etc and /opt",
        "set -e",
        "t=$1; shift",
        "o=$t/ov/$$",
        "mkdir -p $o/etc $o/etc-work $o/opt $o/opt-work",
        "mount -t overlay jipam-e2e -o lowerdir=/etc,upperdir=$o/etc,workdir=$o/etc-work /etc",
        "mount -t overlay jipam-e2e -o lowerdir=/opt,upperdir=$o/opt,workdir=$o/opt-work /opt",
        "mkdir -p /etc/cni/net.d /opt/cni/bin",
        "mount --bind $t/cni/net.d /etc/cni/net.d",
        "mount --bind $t/cni/bin /opt/cni/bin",
        "exec ctr -a $t/containerd.sock -n " + NAMESPACE + " \"$@\"", ""));
  }

  private String containerId(int i) {
    return "e2e-" + suffix + "-" + i;
  }

  /**
   * Starts {@link #CONTAINERS} containers with {@code ctr run --cni --rm}, each printing its eth0
   * address and whether it reached the gateway, then waiting for /ctl/stop; returns each one's
   * address once all are up.
   */
  private List<String> runContainers() throws Exception {
    String script = "ip -o -4 addr show dev eth0; if ping -c 1 -W 5 " + gateway + " >/dev/null; then echo PING-OK; "
        + "else echo PING-FAILED; fi; while [ ! -e /ctl/stop ]; do sleep 0.2; done; echo BYE";
    for (int i = 0; i < CONTAINERS; i++) {
      runs.add(new ProcessBuilder("ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
          "sh", node.toString(), dir.toString(), "run", "--cni", "--rm",
          "--mount", "type=bind,src=" + dir.resolve("ctl") + ",dst=/ctl,options=rbind:ro",
          IMAGE, containerId(i), "/bin/sh", "-c", script)
          .redirectErrorStream(true).redirectOutput(out(i).toFile()).start());
    }
    // every container up, with an address and its gateway reached
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < CONTAINERS; i++) {
      String output;
      while (!(output = Files.readString(out(i))).contains("PING-")) {
        assertTrue(runs.get(i).isAlive(), "container " + i + " ended early: " + output + containerdLog());
        assertTrue(System.nanoTime() < deadline, "container " + i + " not up within 90 s: " + output + containerdLog());
        Thread.sleep(100);
      }
      assertTrue(output.contains("PING-OK"), "container " + i + " did not reach " + gateway + ": " + output);
      String address = inet(output);
      assertNotNull(address, "no IPv4 address on eth0 of container " + i + ": " + output);
      assertTrue(address.startsWith("198.18." + octet + ".") && address.endsWith("/24"), address);
      addresses.add(address.substring(0, address.indexOf('/')));
    }
    System.out.println("containers up on " + network + " with addresses " + addresses);
    assertEquals(CONTAINERS, new TreeSet<>(addresses).size(), "addresses are not distinct: " + addresses);
    assertEquals(new TreeSet<>(addresses).stream().toList(), Bundle.addressFiles(data, network),
        "jipam's store holds exactly the containers' addresses");
    return addresses;
  }

  /** Lets the containers still running end; ctr's --rm runs CNI DEL, then deletes the container. */
  private void stopContainers(List<Integer> running) throws Exception {
    Files.writeString(dir.resolve("ctl/stop"), "");
    for (int i : running) {
      assertTrue(runs.get(i).waitFor(60, TimeUnit.SECONDS), "container " + i + " did not stop: " + Files.readString(out(i)));
      assertEquals(0, runs.get(i).exitValue(), "ctr run " + i + ": " + Files.readString(out(i)));
      assertTrue(Files.readString(out(i)).contains("BYE"), Files.readString(out(i)));
    }
  }

  @Test
  void ctrRunCni_severalContainers_distinctAddressesFromJipamReleasedOnRemoval() throws Exception {
    startNode();
    runContainers();
    stopContainers(List.of(0, 1, 2));
    assertEquals(List.of(), Bundle.addressFiles(data, network), "removing the containers released every address");
    assertEquals("", ctr("containers", "ls", "-q").strip(), "ctr --rm removed the containers");
  }

  @Test
  void gc_containerKilledWithoutDel_gcListingTheLiveOnesReleasesExactlyTheDead() throws Exception {
    startNode();
    List<String> addresses = runContainers();
    // container 2 dies without DEL: its ctr (which would run DEL) is killed, then its task and
    // its container are removed from containerd
    runs.get(2).destroyForcibly().waitFor(20, TimeUnit.SECONDS);
    ctr("tasks", "kill", "-s", "KILL", containerId(2));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Proc.run(List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "-n", NAMESPACE, "tasks", "rm",
        containerId(2)), null, "", Duration.ofSeconds(20)).exit() != 0) {
      assertTrue(System.nanoTime() < deadline, "the killed task did not stop");
      Thread.sleep(100);
    }
    ctr("containers", "rm", containerId(2));
    assertEquals(new TreeSet<>(addresses).stream().toList(), Bundle.addressFiles(data, network),
        "the dead container's address is still held (nobody called DEL)");
    // libcni names an attachment <namespace>-<container>; the address file says so too
    assertTrue(Files.readString(data.resolve(network).resolve(addresses.get(2))).startsWith(NAMESPACE + "-" + containerId(2)));

    // CNI GC (cniVersion 1.1.0) with the attachments the runtime still has
    String valid = "[{'containerID':'" + NAMESPACE + "-" + containerId(0) + "','ifname':'eth0'},"
        + "{'containerID':'" + NAMESPACE + "-" + containerId(1) + "','ifname':'eth0'}]";
    String gc = ("{'cniVersion':'1.1.0','name':'" + network + "','type':'bridge','ipam':{'type':'jipam','dataDir':'"
        + data + "','ranges':[[{'subnet':'198.18." + octet + ".0/24'}]]},'cni.dev/valid-attachments':" + valid + "}")
        .replace('\'', '"');
    Path plugin = dir.resolve("cni/bin/jipam");
    Proc.Result collected = Proc.run(List.of(plugin.toString()),
        Map.of("CNI_COMMAND", "GC", "CNI_PATH", dir.resolve("cni/bin").toString()), gc, Duration.ofSeconds(60));
    assertEquals(0, collected.exit(), collected.toString());
    assertEquals(new TreeSet<>(addresses.subList(0, 2)).stream().toList(), Bundle.addressFiles(data, network),
        "GC released exactly the dead container's address");

    stopContainers(List.of(0, 1));
    assertEquals(List.of(), Bundle.addressFiles(data, network), "removing the live containers released the rest");
  }

  private Path out(int i) {
    return dir.resolve("ctr-run-" + i + ".out");
  }

  private static String inet(String output) {
    int at = output.indexOf(" inet ");
    if (at < 0) {
      return null;
    }
    int start = at + " inet ".length();
    return output.substring(start, output.indexOf(' ', start));
  }

  private String ctr(String... args) {
    List<String> command = new ArrayList<>(List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "-n", NAMESPACE));
    command.addAll(List.of(args));
    return Proc.run(command, null, "", Duration.ofSeconds(60)).ok().stdout();
  }

  private String containerdLog() throws IOException {
    return "\ncontainerd log:\n" + Files.readString(dir.resolve("containerd.log"));
  }

  private void startContainerd() throws Exception {
    Path config = dir.resolve("containerd.toml");
    Files.writeString(config, String.join("\n",
        "# containerd of this test only: its own socket, root and state",
        "version = 2",
        "root = \"" + dir.resolve("root") + "\"",
        "state = \"" + dir.resolve("state") + "\"",
        "# ctr run --cni does CNI in the client (from /etc/cni/net.d, /opt/cni/bin); the CRI plugin,",
        "# kubelet's, is not used here",
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]",
        "[grpc]",
        "  address = \"" + dir.resolve("containerd.sock") + "\"",
        "[ttrpc]",
        "  address = \"" + dir.resolve("containerd.sock.ttrpc") + "\"",
        "[debug]",
        "  address = \"" + dir.resolve("containerd-debug.sock") + "\"", ""));
    containerd = new ProcessBuilder("containerd", "--config", config.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("containerd.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Proc.run(List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "version"), null, "",
        Duration.ofSeconds(10)).exit() != 0) {
      assertTrue(containerd.isAlive() && System.nanoTime() < deadline, "containerd did not start" + containerdLog());
      Thread.sleep(100);
    }
  }

  /** A docker-archive image (what {@code docker save} writes) of busybox-static's binary. */
  private Path busyboxImage() throws Exception {
    Path root = Files.createDirectories(dir.resolve("image/rootfs"));
    Path bin = Files.createDirectories(root.resolve("bin"));
    for (String d : List.of("proc", "sys", "dev", "etc", "tmp", "ctl")) {
      Files.createDirectories(root.resolve(d));
    }
    Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
    for (String applet : List.of("sh", "ip", "ping", "sleep", "cat", "ls")) {
      Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
    }
    Path work = dir.resolve("image");
    Proc.sh("tar", "-C", root.toString(), "--numeric-owner", "--owner=0", "--group=0", "-cf",
        work.resolve("layer.tar").toString(), ".");
    String layer = sha256(Files.readAllBytes(work.resolve("layer.tar")));
    String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],"
        + "\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + layer + "\"]}}";
    String configName = sha256(config.getBytes(StandardCharsets.UTF_8)) + ".json";
    Files.writeString(work.resolve(configName), config);
    Files.writeString(work.resolve("manifest.json"), "[{\"Config\":\"" + configName + "\",\"RepoTags\":[\""
        + IMAGE + "\"],\"Layers\":[\"layer.tar\"]}]");
    Path archive = dir.resolve("busybox-image.tar");
    Proc.sh("tar", "-C", work.toString(), "-cf", archive.toString(), "manifest.json", configName, "layer.tar");
    return archive;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

}
