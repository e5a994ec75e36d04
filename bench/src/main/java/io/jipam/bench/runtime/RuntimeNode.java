package io.jipam.bench.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A container node of the {@code runtime} scenario's own: Debian's containerd with its own config,
 * socket, root and state under a temporary dir, a busybox image made here from busybox-static's
 * binary and imported, a network namespace playing the node's network (bridges and their gateway
 * addresses live there, never in the root namespace), and a CNI bin dir and one CNI conf dir per
 * network.
 *
 * <h2>Why the mount namespace</h2>
 * {@code ctr run --cni} reads CNI config only from /etc/cni/net.d and /opt/cni/bin. Each
 * {@link #run} starts ctr in a private mount namespace where those paths are bind mounts of this
 * node's dirs over private overlays of /etc and /opt, so the host's CNI dirs are neither read
 * nor written.
 *
 * <table>
 *   <caption>the node's dir</caption>
 *   <tr><th>path</th><th>what</th></tr>
 *   <tr><td>containerd.toml, containerd.sock, root/, state/, containerd.log</td><td>containerd</td></tr>
 *   <tr><td>cni/bin/</td><td>bridge, loopback, host-local (copies) and jipam (a link to the launcher)</td></tr>
 *   <tr><td>cni/&lt;network&gt;/</td><td>the conf dir holding one network's conflist</td></tr>
 *   <tr><td>ov/&lt;pid&gt;/</td><td>the overlays' upper and work dirs of one ctr run</td></tr>
 * </table>
 *
 * <p>{@link #close()} removes every container, task, mount, the namespace, containerd and the dir,
 * also after a failed start. Not thread-safe to build or close; {@link #run} may be called from
 * several threads.
 */
final class RuntimeNode implements AutoCloseable {
  static final String IMAGE = "jipam.bench/busybox:runtime";
  static final String NAMESPACE = "jipam-bench";

  final String suffix;
  final Path dir;
  final String netns;
  final Path bin;
  private final Path script;
  private Process containerd;
  private boolean netnsMade;

  /** Why this machine cannot run a node, or null when it can. */
  static String missing() {
    try {
      String status = Files.readString(Path.of("/proc/self/status"));
      boolean root = status.lines().anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[1].equals("0"));
      if (!root) {
        return "it needs root (it runs containerd and runc, and makes network and mount namespaces)";
      }
    } catch (IOException e) {
      return "cannot tell whether this is root: " + e.getMessage();
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
    if (!absent.contains("busybox-static") && Files.isExecutable(Path.of("/bin/busybox")) && !isStatic(Path.of("/bin/busybox"))) {
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

  /** Makes the dirs, image, namespace and starts containerd; links {@code jipam} into the bin dir. */
  RuntimeNode(Path jipam) throws Exception {
    suffix = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    dir = Files.createTempDirectory(Path.of("/tmp"), "jipam-bench-rt-");
    netns = "jipam-bench-rt-" + suffix;
    bin = Files.createDirectories(dir.resolve("cni/bin"));
    script = dir.resolve("node-ctr.sh");
    try {
      for (String plugin : List.of("bridge", "loopback", "host-local")) {
        Files.copy(Path.of("/usr/lib/cni", plugin), bin.resolve(plugin));
      }
      Files.createSymbolicLink(bin.resolve("jipam"), jipam.toAbsolutePath());
      Path image = busyboxImage();
      startContainerd();
      ctr(60, "images", "import", image.toString());
      sh(30, "ip", "netns", "add", netns);
      netnsMade = true;
      sh(30, "ip", "-n", netns, "link", "set", "lo", "up");
      Files.writeString(script, String.join("\n",
          "#!/bin/sh",
          "# ctr with this node's CNI dirs: private overlays of /etc and /opt; $1 node dir, $2 conf dir",
          "set -e",
          "t=$1; c=$2; shift 2",
          "o=$t/ov/$$",
          "mkdir -p $o/etc $o/etc-work $o/opt $o/opt-work",
          "mount -t overlay jipam-bench -o lowerdir=/etc,upperdir=$o/etc,workdir=$o/etc-work /etc",
          "mount -t overlay jipam-bench -o lowerdir=/opt,upperdir=$o/opt,workdir=$o/opt-work /opt",
          "mkdir -p /etc/cni/net.d /opt/cni/bin",
          "mount --bind $c /etc/cni/net.d",
          "mount --bind $t/cni/bin /opt/cni/bin",
          "exec ctr -a $t/containerd.sock -n " + NAMESPACE + " \"$@\"", ""));
    } catch (Exception | Error e) {
      close();
      throw e;
    }
  }

  /** Writes {@code conflist} as the only file of network {@code network}'s conf dir; returns the dir. */
  Path network(String network, String conflist) throws IOException {
    Path conf = Files.createDirectories(dir.resolve("cni").resolve(network));
    Path tmp = conf.resolve(".conflist.tmp");
    Files.writeString(tmp, conflist);
    Files.move(tmp, conf.resolve("10-" + network + ".conflist"), StandardCopyOption.ATOMIC_MOVE);
    return conf;
  }

  /**
   * Starts {@code ctr run --cni --rm} of {@code command} (argv in the image) in container {@code id}
   * on the network whose conf dir is {@code conf}; stdout and stderr together on the process's stdout.
   */
  Process run(Path conf, String id, List<String> command) throws IOException {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns, "unshare", "--mount", "--propagation",
        "private", "sh", script.toString(), dir.toString(), conf.toString(), "run", "--cni", "--rm", IMAGE, id));
    argv.addAll(command);
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    p.getOutputStream().close();
    return p;
  }

  /** Runs a ctr command against this node's containerd; its output, or an exception with it. */
  String ctr(int seconds, String... args) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(List.of("ctr", "-a", dir.resolve("containerd.sock").toString(), "-n", NAMESPACE));
    argv.addAll(List.of(args));
    return sh(seconds, argv.toArray(String[]::new));
  }

  private static String sh(int seconds, String... argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", argv) + " did not end in " + seconds + " s");
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", argv) + " exited " + p.exitValue() + ": " + text.trim());
    }
    return text;
  }

  private static int quiet(int seconds, String... argv) {
    try {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      p.getOutputStream().close();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return -1;
      }
      return p.exitValue();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  String log() {
    try {
      Path log = dir.resolve("containerd.log");
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return "(containerd.log unreadable: " + e.getMessage() + ")";
    }
  }

  private void startContainerd() throws Exception {
    Path config = dir.resolve("containerd.toml");
    Files.writeString(config, String.join("\n",
        "# the runtime scenario's containerd: its own socket, root and state",
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
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (quiet(10, "ctr", "-a", dir.resolve("containerd.sock").toString(), "version") != 0) {
      if (!containerd.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException("containerd did not start: " + log());
      }
      Thread.sleep(100);
    }
  }

  /** A docker-archive image (what {@code docker save} writes) of busybox-static's binary. */
  private Path busyboxImage() throws Exception {
    Path work = Files.createDirectories(dir.resolve("image"));
    Path root = Files.createDirectories(work.resolve("rootfs"));
    Path imageBin = Files.createDirectories(root.resolve("bin"));
    for (String d : List.of("proc", "sys", "dev", "etc", "tmp")) {
      Files.createDirectories(root.resolve(d));
    }
    Files.copy(Path.of("/bin/busybox"), imageBin.resolve("busybox"));
    for (String applet : List.of("sh", "ip", "cat", "true")) {
      Files.createSymbolicLink(imageBin.resolve(applet), Path.of("busybox"));
    }
    sh(60, "tar", "-C", root.toString(), "--numeric-owner", "--owner=0", "--group=0", "-cf",
        work.resolve("layer.tar").toString(), ".");
    String layer = sha256(Files.readAllBytes(work.resolve("layer.tar")));
    String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],"
        + "\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + layer + "\"]}}";
    String configName = sha256(config.getBytes(StandardCharsets.UTF_8)) + ".json";
    Files.writeString(work.resolve(configName), config);
    Files.writeString(work.resolve("manifest.json"), "[{\"Config\":\"" + configName + "\",\"RepoTags\":[\""
        + IMAGE + "\"],\"Layers\":[\"layer.tar\"]}]");
    Path archive = dir.resolve("busybox-image.tar");
    sh(60, "tar", "-C", work.toString(), "-cf", archive.toString(), "manifest.json", configName, "layer.tar");
    return archive;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  /** Removes every container and task, stops containerd, deletes the namespace, mounts and dir. */
  @Override
  public void close() throws IOException, InterruptedException {
    if (containerd != null) {
      String sock = dir.resolve("containerd.sock").toString();
      String ids;
      try {
        ids = ctr(20, "containers", "ls", "-q");
      } catch (IllegalStateException e) {
        ids = "";
      }
      for (String id : ids.split("\\s+")) {
        if (!id.isBlank()) {
          quiet(20, "ctr", "-a", sock, "-n", NAMESPACE, "tasks", "kill", "-s", "KILL", id);
          quiet(20, "ctr", "-a", sock, "-n", NAMESPACE, "tasks", "rm", "-f", id);
          quiet(20, "ctr", "-a", sock, "-n", NAMESPACE, "containers", "rm", id);
        }
      }
      containerd.destroy();
      if (!containerd.waitFor(20, TimeUnit.SECONDS)) {
        containerd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (netnsMade) {
      quiet(20, "ip", "netns", "del", netns);
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
      quiet(20, "umount", "-l", mounts.get(i));
    }
    quiet(60, "rm", "-rf", dir.toString());
  }
}
