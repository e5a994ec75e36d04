package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The built bundle, and CNI calls to a plugin unpacked or installed from it. */
final class Bundle {
  static final Path TARBALL = Path.of(System.getProperty("jipam.bundle",
      "../dist/jipam-0.1.0-SNAPSHOT-linux-amd64.tar.gz")).toAbsolutePath().normalize();
  static final Path ROOT = Path.of(System.getProperty("jipam.root", "..")).toAbsolutePath().normalize();
  static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);

  private Bundle() {}

  /** Fails under CI, skips elsewhere, when the build made no bundle (-Djipam.bundle.skip). */
  static void requireBuilt() {
    String why = TARBALL + " is missing: build it with ./mvnw -q -DskipTests package";
    if (Exec.underCi()) {
      assertTrue(Files.isRegularFile(TARBALL), why);
    }
    assumeTrue(Files.isRegularFile(TARBALL), why);
  }

  /**
   * Starts {@code versionDir/bin/jipamd --socket socket} with {@code args}, in network namespace
   * {@code netns} when it is not null; its log beside the socket.
   */
  static JipamdProcess jipamd(Path versionDir, String netns, Path socket, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    if (netns != null) {
      command.addAll(List.of("ip", "netns", "exec", netns));
    }
    List<String> all = new ArrayList<>(List.of("--socket", socket.toString()));
    all.addAll(List.of(args));
    command.addAll(JipamdProcess.launcher(versionDir.resolve("bin/jipamd"), all.toArray(String[]::new)));
    return JipamdProcess.start(socket.getParent(), command);
  }

  /** Unpacks the bundle into {@code dir}, as an operator does: {@code tar -xzf BUNDLE -C DIR}. */
  static Path unpack(Path dir) {
    Exec.sh("tar", "-xzf", TARBALL.toString(), "-C", dir.toString());
    return dir;
  }

  /** The version folder {@code jipam.d/current} names in a bin dir. */
  static Path current(Path binDir) {
    try {
      return binDir.resolve("jipam.d/current").toRealPath();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The environment of a CNI call, and nothing else: no JAVA_HOME, and a PATH that is one empty
   * folder, so no {@code java} can be found through it.
   */
  static Map<String, String> env(String command, String containerId, Path emptyPath) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    if (containerId != null) {
      env.put("CNI_CONTAINERID", containerId);
      env.put("CNI_IFNAME", "eth0");
      env.put("CNI_NETNS", "/var/run/netns/" + containerId);
    }
    env.put("CNI_PATH", emptyPath.toString());
    env.put("PATH", emptyPath.toString());
    return env;
  }

  /**
   * Runs {@code plugin}; as root inside a mount namespace where /usr/lib/jvm (every JDK of this
   * machine, and what /usr/bin/java leads to) is an empty tmpfs.
   */
  static Exec.Result call(Path plugin, Map<String, String> env, String stdin) {
    List<String> command = new ArrayList<>();
    if (Exec.isRoot()) {
      command.addAll(List.of("/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
          "/bin/mount -t tmpfs no-jdk /usr/lib/jvm && exec \"$@\"", "sh"));
    }
    command.add(plugin.toString());
    return Exec.run(command, env, stdin, CALL_TIMEOUT);
  }

  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }

  /** A host-local-store network config in cniVersion 1.0.0. */
  static String conf(String name, Path dataDir, String subnet) {
    return ("{'cniVersion':'1.0.0','name':'" + name + "','type':'bridge','ipam':{'type':'jipam','dataDir':'"
        + dataDir + "','ranges':[[{'subnet':'" + subnet + "'}]]}}").replace('\'', '"');
  }

  /** The address files of network {@code name} under {@code dataDir} (host-local's layout). */
  static List<String> addressFiles(Path dataDir, String name) {
    Path dir = dataDir.resolve(name);
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (var files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString())
          .filter(f -> !f.equals("lock") && !f.startsWith("last_reserved_ip") && !f.startsWith("."))
          .filter(f -> Character.isDigit(f.charAt(0)) || f.contains(":"))
          .sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
