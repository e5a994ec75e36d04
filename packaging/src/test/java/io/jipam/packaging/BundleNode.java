package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A node for the tests: Debian's containerd (its own socket, root and state under a temp dir),
 * a busybox-static image made here and imported, jipam installed from the bundle into the node's
 * own CNI bin dir with the reference plugins beside it, and a network namespace that plays the
 * node's network (bridges, gateways and macvlan parents live there, never in the root namespace).
 *
 * <p>{@code ctr run --cni} reads CNI config only from /etc/cni/net.d and /opt/cni/bin; each
 * {@link #run} starts ctr in a private mount namespace where those paths are bind mounts of this
 * node's dirs over overlays of /etc and /opt, so the host's CNI dirs are never read or written.
 */
final class ContainerdNode implements AutoCloseable {
  static final String IMAGE = "jipam.test/busybox:e2e";
  static final String NAMESPACE = "jipam-e2e";
  static final List<String> REFERENCE_PLUGINS = List.of("bridge", "loopback", "ptp", "macvlan", "portmap");

  final Path dir;
  final String suffix;
  final String netns;
  final Path bin;
  final Path conf;
  private final Path node;
  private Process containerd;
  private final List<Process> runs = new ArrayList<>();

  /** Skips (fails under CI) without root or the Debian packages; {@code who} names the test. */
  static void requirePrerequisites(String who) {
    assumeTrue(Proc.isRoot(), who + " skipped: it needs root (it runs containerd and runc, "
        + "and makes network and mount namespaces)");
    List<String> missing = new ArrayList<>();
    for (String[] tool : new String[][] {{"/usr/bin/containerd", "containerd"}, {"/usr/bin/ctr", "containerd"},
        {"/usr/sbin/runc", "runc"}, {"/usr/lib/cni/bridge", "containernetworking-plugins"}}) {
      if (!Files.isExecutable(Path.of(tool[0])) && !missing.contains(tool[1])) {
        missing.add(tool[1]);
      }
    }
    if (Proc.run(List.of("dpkg", "-s", "busybox-static"), null, "", Duration.ofSeconds(30)).exit() != 0) {
      missing.add("busybox-static"); // /bin/busybox of the busybox package is not static
    }
    String why = who + " needs the Debian packages " + missing + " (scripts/test installs them)";
    if (Proc.underCi()) {
      assertEquals(List.of(), missing, why);
    }
    assumeTrue(missing.isEmpty(), why);
    Bundle.requireBuilt();
  }

  /** Starts containerd, imports the image, makes the node's netns, installs jipam from the bundle. */
  ContainerdNode() throws Exception {
    suffix = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    dir = Files.createTempDirectory(Path.of("/tmp"), "jipam-ctr-");
    netns = "jipam-ctr-" + suffix;
    bin = dir.resolve("cni/bin");
    conf = Files.createDirectories(dir.resolve("cni/net.d"));
    Files.createDirectories(dir.resolve("ctl"));
    node = dir.resolve("node-ctr.sh");
    try {
      Path unpacked = Bundle.unpack(Files.createDirectories(dir.resolve("bundle")));
      Proc.sh(Bundle.current(unpacked).resolve("bin/jipam-install").toString(), bin.toString());
      for (String plugin : REFERENCE_PLUGINS) {
        Files.copy(Path.of("/usr/lib/cni", plugin), bin.resolve(plugin));
      }
      Path image = busyboxImage();
      startContainerd();
      ctr("images", "import", image.toString());
      Proc.sh("ip", "netns", "add", netns);
      Proc.sh("ip", "-n", netns, "link", "set", "lo", "up");
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
    } catch (Exception | Error e) {
      close();
      throw e;
    }
  }

  /** Makes {@code conflist} the node's only network config (as a file of the conf dir). */
  void useConflist(String name, String conflist) throws IOException {
    try (var old = Files.list(conf)) {
      for (Path p : old.toList()) {
        Files.delete(p);
      }
    }
    Path tmp = conf.resolve("." + name + ".tmp");
    Files.writeString(tmp, conflist);
    Files.move(tmp, conf.resolve(name), StandardCopyOption.ATOMIC_MOVE);
  }

  /** {@code ctr run --cni --rm} of {@code script} in container {@code id}, output to {@code out}. */
  Process run(String id, String script, Path out) throws IOException {
    Process p = new ProcessBuilder("ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
        "sh", node.toString(), dir.toString(), "run", "--cni", "--rm",
        "--mount", "type=bind,src=" + dir.resolve("ctl") + ",dst=/ctl,options=rbind:ro",
        IMAGE, id, "/bin/sh", "-c", script)
        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
    runs.add(p);
    return p;
  }

  /** Lets every container that waits for /ctl/stop end. */
  void stopAll() throws IOException {
    Files.writeString(dir.resolve("ctl/stop"), "", StandardCharsets.UTF_8);
  }

  /** Undoes {@link #stopAll} for the containers started next (once the previous ones ended). */
  void resumeAll() throws IOException {
    Files.deleteIfExists(dir.resolve("ctl/stop"));
  }

  String ctr(String... args) {
    return Proc.run(ctrCommand(args), null, "", Duration.ofSeconds(60)).ok().stdout();
  }

  List<String> ctrCommand(String... args) {
    List<String> command = new ArrayList<>(List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "-n", NAMESPACE));
    command.addAll(List.of(args));
    return command;
  }

  String log() throws IOException {
    Path log = dir.resolve("containerd.log");
    return Files.exists(log) ? "\ncontainerd log:\n" + Files.readString(log) : "";
  }

  /** An IPv4 address "a.b.c.d/n" printed by {@code ip -o -4 addr}, or null. */
  static String inet(String output) {
    int at = output.indexOf(" inet ");
    if (at < 0) {
      return null;
    }
    int start = at + " inet ".length();
    return output.substring(start, output.indexOf(' ', start));
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
      assertTrue(containerd.isAlive() && System.nanoTime() < deadline, "containerd did not start" + log());
      Thread.sleep(100);
    }
  }

  /** A docker-archive image (what {@code docker save} writes) of busybox-static's binary. */
  private Path busyboxImage() throws Exception {
    Path root = Files.createDirectories(dir.resolve("image/rootfs"));
    Path imageBin = Files.createDirectories(root.resolve("bin"));
    for (String d : List.of("proc", "sys", "dev", "etc", "tmp", "ctl")) {
      Files.createDirectories(root.resolve(d));
    }
    Files.copy(Path.of("/bin/busybox"), imageBin.resolve("busybox"));
    for (String applet : List.of("sh", "ip", "ping", "sleep", "cat", "ls")) {
      Files.createSymbolicLink(imageBin.resolve(applet), Path.of("busybox"));
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

  /** Stops everything this node started and removes its dirs, mounts and namespace. */
  @Override
  public void close() throws Exception {
    stopAll();
    for (Process run : runs) {
      if (!run.waitFor(20, TimeUnit.SECONDS)) {
        run.destroyForcibly();
      }
    }
    if (containerd != null) {
      for (String id : Proc.run(ctrCommand("containers", "ls", "-q"), null, "", Duration.ofSeconds(20)).stdout()
          .split("\\s+")) {
        if (!id.isBlank()) {
          Proc.run(ctrCommand("tasks", "kill", "-s", "KILL", id), null, "", Duration.ofSeconds(20));
          Proc.run(ctrCommand("tasks", "rm", "-f", id), null, "", Duration.ofSeconds(20));
          Proc.run(ctrCommand("containers", "rm", id), null, "", Duration.ofSeconds(20));
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
}
