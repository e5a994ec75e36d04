package io.jipam.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A container node of a test's or a benchmark's own: Debian's containerd with its own config,
 * socket, root and state under a new temporary dir, a busybox image made here from
 * busybox-static's binary and imported, a network namespace playing the node's network (bridges,
 * gateways and macvlan parents live there, never in the root namespace), a CNI bin dir holding the
 * reference plugins, and CNI conf dirs ({@link #network}). The caller puts its jipam into {@link
 * #bin()}.
 *
 * <h2>Why the mount namespace</h2>
 * {@code ctr run --cni} reads CNI config only from /etc/cni/net.d and /opt/cni/bin. Each {@link
 * #run} starts ctr in a private mount namespace where those paths are bind mounts of this node's
 * dirs over private overlays of /etc and /opt, so the host's CNI dirs are neither read nor written.
 *
 * <table>
 *   <caption>the node's dir</caption>
 *   <tr><th>path</th><th>what</th></tr>
 *   <tr><td>containerd.toml, containerd.sock, root/, state/, containerd.log</td><td>containerd</td></tr>
 *   <tr><td>cni/bin/</td><td>the reference plugins (copies); the caller's jipam</td></tr>
 *   <tr><td>cni/&lt;network&gt;/</td><td>the conf dir holding one network's conflist</td></tr>
 *   <tr><td>ctl/</td><td>mounted read-only at /ctl in every container: files a test signals with</td></tr>
 *   <tr><td>ov/&lt;pid&gt;/</td><td>the overlays' upper and work dirs of one ctr run</td></tr>
 * </table>
 *
 * <p>{@link #close()} removes every container, task, mount, the namespace, containerd and the
 * dir, also after a failed start. Not thread-safe to start or close; {@link #run} may be called
 * from several threads.
 */
public final class ContainerdNode implements AutoCloseable {
  /** The reference plugins copied into {@link #bin()}. */
  public static final List<String> REFERENCE_PLUGINS =
      List.of("bridge", "loopback", "ptp", "macvlan", "portmap", "host-local");
  private static final List<String> APPLETS = List.of("sh", "ip", "ping", "sleep", "cat", "ls", "true");

  private final String image;
  private final String namespace;
  private final String suffix;
  private final Path dir;
  private final String netns;
  private final Path bin;
  private final Path script;
  private final List<Process> runs = new CopyOnWriteArrayList<>();
  private Process containerd;
  private boolean netnsMade;

  /** Why this machine cannot run a node (not root, a Debian package missing), or null when it can. */
  public static String missing() {
    if (!Exec.isRoot()) {
      return "it needs root (it runs containerd and runc, and makes network and mount namespaces)";
    }
    List<String> absent = new ArrayList<>();
    for (String[] tool : new String[][] {{"/usr/bin/containerd", "containerd"}, {"/usr/bin/ctr", "containerd"},
        {"/usr/sbin/runc", "runc"}, {"/usr/lib/cni/bridge", "containernetworking-plugins"},
        {"/usr/lib/cni/loopback", "containernetworking-plugins"}, {"/bin/busybox", "busybox-static"},
        {"/usr/bin/unshare", "util-linux"}, {"/usr/bin/tar", "tar"}}) {
      if (!Files.isExecutable(Path.of(tool[0])) && !absent.contains(tool[1])) {
        absent.add(tool[1]);
      }
    }
    if (!absent.contains("busybox-static") && !isStatic(Path.of("/bin/busybox"))) {
      absent.add("busybox-static"); // /bin/busybox of the busybox package needs the host's libc
    }
    return absent.isEmpty() ? null : "it needs the Debian packages " + String.join(", ", absent) + " (apt-get install "
        + String.join(" ", absent) + ")";
  }

  /** Whether an ELF executable has no program interpreter (PT_INTERP), i.e. is statically linked. */
  private static boolean isStatic(Path elf) {
    try {
      byte[] b = Files.readAllBytes(elf);
      if (b.length < 64 || b[0] != 0x7f || b[1] != 'E' || b[4] != 2) {
        return false; // not a 64-bit ELF: do not trust it
      }
      long phoff = le(b, 32, 8);
      int phentsize = (int) le(b, 54, 2);
      int phnum = (int) le(b, 56, 2);
      for (int i = 0; i < phnum; i++) {
        if (le(b, (int) phoff + i * phentsize, 4) == 3) { // PT_INTERP
          return false;
        }
      }
      return true;
    } catch (IOException | IndexOutOfBoundsException e) {
      return false;
    }
  }

  private static long le(byte[] b, int at, int n) {
    long v = 0;
    for (int i = n - 1; i >= 0; i--) {
      v = (v << 8) | (b[at + i] & 0xff);
    }
    return v;
  }

  /**
   * Makes the dirs, the image (tagged {@code image}), the namespace (named {@code name} plus a
   * random suffix, as is the dir) and starts containerd; ctr works in containerd namespace {@code
   * namespace}. Cleans up what it made when a step fails.
   */
  public ContainerdNode(String name, String image, String namespace) throws IOException {
    this.image = image;
    this.namespace = namespace;
    suffix = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    dir = Files.createTempDirectory(Path.of("/tmp"), name + "-");
    netns = name + "-" + suffix;
    bin = Files.createDirectories(dir.resolve("cni/bin"));
    script = dir.resolve("node-ctr.sh");
    try {
      Files.createDirectories(dir.resolve("ctl"));
      Files.createDirectories(dir.resolve("out"));
      for (String plugin : REFERENCE_PLUGINS) {
        Files.copy(Path.of("/usr/lib/cni", plugin), bin.resolve(plugin));
      }
      Path archive = busyboxImage();
      startContainerd();
      ctr("images", "import", archive.toString());
      Exec.sh("ip", "netns", "add", netns);
      netnsMade = true;
      Exec.sh("ip", "-n", netns, "link", "set", "lo", "up");
      Files.writeString(script, String.join("\n",
          "#!/bin/sh",
          "# ctr with this node's CNI dirs: private overlays of /etc and /opt; $1 node dir, $2 conf dir",
          "set -e",
          "t=$1; c=$2; shift 2",
          "o=$t/ov/$$",
          "mkdir -p $o/etc $o/etc-work $o/opt $o/opt-work",
          "mount -t overlay jipam-node -o lowerdir=/etc,upperdir=$o/etc,workdir=$o/etc-work /etc",
          "mount -t overlay jipam-node -o lowerdir=/opt,upperdir=$o/opt,workdir=$o/opt-work /opt",
          "mkdir -p /etc/cni/net.d /opt/cni/bin",
          "mount --bind $c /etc/cni/net.d",
          "mount --bind $t/cni/bin /opt/cni/bin",
          "exec ctr -a $t/containerd.sock -n " + namespace + " \"$@\"", ""));
    } catch (IOException | RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** The random suffix of this node's names (its netns, its bridges' names may use it). */
  public String suffix() {
    return suffix;
  }

  public Path dir() {
    return dir;
  }

  /** The network namespace playing the node's network. */
  public String netns() {
    return netns;
  }

  /** The CNI bin dir (/opt/cni/bin in {@link #run}). */
  public Path bin() {
    return bin;
  }

  /** The dir mounted read-only at /ctl in every container. */
  public Path ctl() {
    return dir.resolve("ctl");
  }

  /**
   * The dir mounted read-write at /out in every container. What a container writes to a file there
   * is read whole once the container ends; ctr's copy of a task's output can lose what the task
   * wrote just before it exited (seen: all but the first line of a three-command script).
   */
  public Path out() {
    return dir.resolve("out");
  }

  /**
   * Makes {@code conflist} the only file ({@code 10-<network>.conflist}) of network {@code
   * network}'s conf dir, atomically; returns the conf dir.
   */
  public Path network(String network, String conflist) throws IOException {
    Path conf = Files.createDirectories(dir.resolve("cni").resolve(network));
    try (var old = Files.list(conf)) {
      for (Path p : old.toList()) {
        Files.delete(p);
      }
    }
    Path tmp = conf.resolve(".conflist.tmp");
    Files.writeString(tmp, conflist);
    Files.move(tmp, conf.resolve("10-" + network + ".conflist"), StandardCopyOption.ATOMIC_MOVE);
    return conf;
  }

  /**
   * Starts {@code ctr run --cni --rm} of {@code command} (argv in the image) in container {@code id}
   * on the network whose conf dir is {@code conf}, with /ctl and /out mounted; stdout and stderr together to
   * {@code out}, or on the process's stdout when {@code out} is null. {@link #close} waits for it.
   */
  public Process run(Path conf, String id, List<String> command, Path out) throws IOException {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns, "unshare", "--mount", "--propagation",
        "private", "sh", script.toString(), dir.toString(), conf.toString(), "run", "--cni", "--rm",
        "--mount", "type=bind,src=" + ctl() + ",dst=/ctl,options=rbind:ro",
        "--mount", "type=bind,src=" + out() + ",dst=/out,options=rbind:rw", image, id));
    argv.addAll(command);
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
    if (out != null) {
      pb.redirectOutput(out.toFile());
    }
    Process p = pb.start();
    p.getOutputStream().close();
    runs.add(p);
    return p;
  }

  /** Runs a ctr command against this node's containerd (at most a minute); its stdout, or a failure with its output. */
  public String ctr(String... args) {
    return Exec.run(ctrCommand(args), null, "", Duration.ofMinutes(1)).ok().stdout();
  }

  /** The argv of a ctr command against this node's containerd. */
  public List<String> ctrCommand(String... args) {
    List<String> command = new ArrayList<>(List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "-n",
        namespace));
    command.addAll(List.of(args));
    return command;
  }

  /** containerd's log so far. */
  public String log() {
    try {
      Path log = dir.resolve("containerd.log");
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return "(containerd.log unreadable: " + e.getMessage() + ")";
    }
  }

  private void startContainerd() throws IOException {
    Path config = dir.resolve("containerd.toml");
    Files.writeString(config, String.join("\n",
        "# containerd of this node only: its own socket, root and state",
        "version = 2",
        "root = \"" + dir.resolve("root") + "\"",
        "state = \"" + dir.resolve("state") + "\"",
        "# ctr run --cni does CNI in the client; kubelet's CRI plugin is not used",
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]",
        "[grpc]",
        "  address = \"" + dir.resolve("containerd.sock") + "\"",
        "[ttrpc]",
        "  address = \"" + dir.resolve("containerd.sock.ttrpc") + "\"",
        "[debug]",
        "  address = \"" + dir.resolve("containerd-debug.sock") + "\"", ""));
    containerd = new ProcessBuilder("containerd", "--config", config.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("containerd.log").toFile()).start();
    List<String> version = List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "version");
    Await.until(() -> {
      if (!containerd.isAlive()) {
        throw new IllegalStateException("containerd exited");
      }
      return Exec.run(version, null, "", Duration.ofSeconds(10)).exit() == 0;
    }, Duration.ofSeconds(60), () -> "containerd answering; its log: " + log());
  }

  /** A docker-archive image (what {@code docker save} writes) of busybox-static's binary. */
  private Path busyboxImage() throws IOException {
    Path work = Files.createDirectories(dir.resolve("image"));
    Path root = Files.createDirectories(work.resolve("rootfs"));
    Path imageBin = Files.createDirectories(root.resolve("bin"));
    for (String d : List.of("proc", "sys", "dev", "etc", "tmp", "ctl")) {
      Files.createDirectories(root.resolve(d));
    }
    Files.copy(Path.of("/bin/busybox"), imageBin.resolve("busybox"));
    for (String applet : APPLETS) {
      Files.createSymbolicLink(imageBin.resolve(applet), Path.of("busybox"));
    }
    Exec.sh("tar", "-C", root.toString(), "--numeric-owner", "--owner=0", "--group=0", "-cf",
        work.resolve("layer.tar").toString(), ".");
    String layer = sha256(Files.readAllBytes(work.resolve("layer.tar")));
    String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],"
        + "\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + layer + "\"]}}";
    String configName = sha256(config.getBytes(StandardCharsets.UTF_8)) + ".json";
    Files.writeString(work.resolve(configName), config);
    Files.writeString(work.resolve("manifest.json"), "[{\"Config\":\"" + configName + "\",\"RepoTags\":[\""
        + image + "\"],\"Layers\":[\"layer.tar\"]}]");
    Path archive = dir.resolve("busybox-image.tar");
    Exec.sh("tar", "-C", work.toString(), "-cf", archive.toString(), "manifest.json", configName, "layer.tar");
    return archive;
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Waits (20 s each) for the {@link #run}s to end, then removes every container and task, stops
   * containerd, deletes the namespace, leftover mounts and the dir.
   */
  @Override
  public void close() throws IOException {
    try {
      for (Process run : runs) {
        if (!run.waitFor(20, TimeUnit.SECONDS)) {
          run.destroyForcibly();
        }
      }
      if (containerd != null) {
        for (String id : quiet(ctrCommand("containers", "ls", "-q")).split("\\s+")) {
          if (!id.isBlank()) {
            quiet(ctrCommand("tasks", "kill", "-s", "KILL", id));
            quiet(ctrCommand("tasks", "rm", "-f", id));
            quiet(ctrCommand("containers", "rm", id));
          }
        }
        containerd.destroy();
        if (!containerd.waitFor(20, TimeUnit.SECONDS)) {
          containerd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (netnsMade) {
      quiet(List.of("ip", "netns", "del", netns));
    }
    // containerd unmounts what it mounted; a kill at the wrong moment may leave a rootfs mount
    List<String> mounts = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
      String target = line.split(" ")[1];
      if (target.startsWith(dir.toString())) {
        mounts.add(target);
      }
    }
    for (int i = mounts.size() - 1; i >= 0; i--) {
      quiet(List.of("umount", "-l", mounts.get(i)));
    }
    quiet(List.of("rm", "-rf", dir.toString()));
  }

  /** Runs a clean-up command; its stdout, or "" when it fails or hangs (clean-up is best effort). */
  private static String quiet(List<String> command) {
    try {
      Exec.Result r = Exec.run(command, null, "", Duration.ofSeconds(60));
      return r.exit() == 0 ? r.stdout() : "";
    } catch (AssertionError | RuntimeException e) {
      return "";
    }
  }
}
