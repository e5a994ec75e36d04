package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.testkit.ContainerdNode;
import io.jipam.testkit.Exec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The end-to-end tests' node: the testkit's {@link ContainerdNode} (its own containerd, image,
 * network namespace and CNI dirs) with jipam installed from the bundle into the node's CNI bin
 * dir, one network conf dir, and containers that wait for {@code /ctl/stop}.
 */
final class BundleNode implements AutoCloseable {
  static final String IMAGE = "jipam.test/busybox:e2e";
  static final String NAMESPACE = "jipam-e2e";

  private final ContainerdNode node;
  final Path dir;
  final String suffix;
  final String netns;
  final Path bin;
  private final Path conf;

  /** Skips (fails under CI) without root, the Debian packages or the bundle; {@code who} names the test. */
  static void requirePrerequisites(String who) {
    String missing = ContainerdNode.missing();
    if (Exec.underCi()) {
      assertNull(missing, who + ": " + missing + " (scripts/test installs them)");
    }
    assumeTrue(missing == null, who + " skipped: " + missing);
    Bundle.requireBuilt();
  }

  /** Starts the node and installs jipam from the bundle into its CNI bin dir. */
  BundleNode() throws IOException {
    node = new ContainerdNode("jipam-ctr", IMAGE, NAMESPACE);
    dir = node.dir();
    suffix = node.suffix();
    netns = node.netns();
    bin = node.bin();
    conf = dir.resolve("cni/e2e");
    try {
      Path unpacked = Bundle.unpack(Files.createDirectories(dir.resolve("bundle")));
      Exec.sh(Bundle.current(unpacked).resolve("bin/jipam-install").toString(), bin.toString());
    } catch (IOException | RuntimeException | Error e) {
      node.close();
      throw e;
    }
  }

  /** Makes {@code conflist} the node's only network config. */
  void useConflist(String conflist) throws IOException {
    node.network("e2e", conflist);
  }

  /** {@code ctr run --cni --rm} of {@code script} in container {@code id}, output to {@code out}. */
  Process run(String id, String script, Path out) throws IOException {
    return node.run(conf, id, List.of("/bin/sh", "-c", script), out);
  }

  /** The dir mounted read-write at /out in every container ({@link ContainerdNode#out}). */
  Path out() {
    return node.out();
  }

  /** Lets every container that waits for /ctl/stop end. */
  void stopAll() throws IOException {
    Files.writeString(node.ctl().resolve("stop"), "", StandardCharsets.UTF_8);
  }

  /** Undoes {@link #stopAll} for the containers started next (once the previous ones ended). */
  void resumeAll() throws IOException {
    Files.deleteIfExists(node.ctl().resolve("stop"));
  }

  String ctr(String... args) {
    return node.ctr(args);
  }

  List<String> ctrCommand(String... args) {
    return node.ctrCommand(args);
  }

  String log() {
    return "\ncontainerd log:\n" + node.log();
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

  /** Lets the containers end, then stops everything the node started and removes it. */
  @Override
  public void close() throws IOException {
    stopAll();
    node.close();
  }
}
