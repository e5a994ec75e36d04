package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DaemonSet's install step, deploy/image/jipam-node-setup, run as its init container would
 * run it (the bundle where the image unpacks it, the host's CNI dirs where the pod mounts them),
 * with temp dirs in their place and the pod CIDR given instead of read from an API server.
 */
class NodeSetupIT {
  static final Path SETUP = DeployManifestsTest.DEPLOY.resolve("image/jipam-node-setup");
  @TempDir Path tmp;
  Path bundle;
  Path hostBin;
  Path hostConf;
  Path emptyPath;
  /** The script's TMPDIR: every run, failed or not, leaves it empty. */
  Path scratch;

  @BeforeEach
  void image() throws Exception {
    Bundle.requireBuilt();
    bundle = Bundle.unpack(Files.createDirectories(tmp.resolve("opt/jipam/bundle")));
    hostBin = tmp.resolve("host/opt/cni/bin");
    hostConf = tmp.resolve("host/etc/cni/net.d");
    emptyPath = Files.createDirectory(tmp.resolve("empty-path"));
    scratch = Files.createDirectory(tmp.resolve("scratch"));
  }

  private Exec.Result setup(Path template, Map<String, String> extra) {
    Map<String, String> env = new HashMap<>(Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin",
        "JIPAM_BUNDLE", bundle.toString(), "JIPAM_CONFLIST", template.toString(),
        "JIPAM_HOST_CNI_BIN", hostBin.toString(), "JIPAM_HOST_CNI_CONF", hostConf.toString(),
        "TMPDIR", scratch.toString()));
    env.putAll(extra);
    Exec.Result result = Exec.run(List.of(SETUP.toString()), env, "", Duration.ofMinutes(2));
    try (java.util.stream.Stream<Path> left = Files.list(scratch)) {
      assertEquals(List.of(), left.toList(), "left in TMPDIR: " + result);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return result;
  }

  @Test
  void nodeLocalFiles_podCidrGiven_conflistRenderedAndPluginAllocatesFromIt() throws Exception {
    Path template = DeployManifestsTest.DEPLOY.resolve("overlays/node-local-files/10-jipam.conflist");
    Exec.Result result = setup(template, Map.of("JIPAM_POD_CIDR", "198.18.60.0/24", "NODE_NAME", "node-1")).ok();
    assertTrue(result.stdout().contains("pod CIDR of node-1: 198.18.60.0/24"), result.toString());
    String installed = Files.readString(hostConf.resolve("10-jipam.conflist"));
    assertEquals(Files.readString(template).replace("__NODE_POD_CIDR__", "198.18.60.0/24"), installed);
    assertTrue(Files.isExecutable(hostBin.resolve("jipam")));

    // the installed plugin (the shim) with the installed conflist, in daemon mode as deployed: the
    // bundle's jipamd on the overlay's file store, its socket and data dir moved into the temp dir
    Path socket = tmp.resolve("jipam.sock");
    Path data = tmp.resolve("data");
    String conf = installed.replace("/run/jipam/jipam.sock", socket.toString())
        .replace("/var/lib/cni/networks", data.toString());
    String ipamConf = Bundle.JSON.writeValueAsString(((com.fasterxml.jackson.databind.node.ObjectNode)
        Bundle.json(conf).path("plugins").path(0)).put("cniVersion", "1.0.0").put("name", "jipam"));
    try (JipamdProcess jipamd = Bundle.jipamd(Bundle.current(bundle), null, socket, "--store", "file",
        "--data-dir", data.toString())) {
      Exec.Result add = Bundle.call(hostBin.resolve("jipam"), Bundle.env("ADD", "p1", emptyPath), ipamConf);
      assertEquals(0, add.exit(), add + "\n" + jipamd.output());
      assertEquals("198.18.60.2/24", Bundle.json(add.stdout()).path("ips").path(0).path("address").asText(), add.stdout());
      assertTrue(Files.exists(data.resolve("jipam/198.18.60.2")), "jipamd wrote the address into its data dir");
    }
  }

  @Test
  void nodeLocalFiles_noPodCidrNoNodeName_failsBeforeInstallingAnything() {
    Path template = DeployManifestsTest.DEPLOY.resolve("overlays/node-local-files/10-jipam.conflist");
    Exec.Result result = setup(template, Map.of());
    assertEquals(1, result.exit(), result.toString());
    assertTrue(result.stderr().contains("NODE_NAME is not set"), result.toString());
    assertFalse(Files.exists(hostBin.resolve("jipam")), "nothing may be installed");
    assertFalse(Files.exists(hostConf.resolve("10-jipam.conflist")), "nothing may be installed");
  }

  @Test
  void nodeLocalFiles_podCidrNotACidr_failsNamingIt() {
    Path template = DeployManifestsTest.DEPLOY.resolve("overlays/node-local-files/10-jipam.conflist");
    Exec.Result result = setup(template, Map.of("JIPAM_POD_CIDR", "none"));
    assertEquals(1, result.exit(), result.toString());
    assertTrue(result.stderr().contains("has no pod CIDR (got 'none')"), result.toString());
    assertFalse(Files.exists(hostBin.resolve("jipam")), "nothing may be installed");
  }

  @Test
  void daemonMode_conflistWithoutPlaceholder_installedAsIs() throws Exception {
    Path template = DeployManifestsTest.DEPLOY.resolve("components/node-jipamd/10-jipam.conflist");
    setup(template, Map.of()).ok();
    assertEquals(Files.readString(template), Files.readString(hostConf.resolve("10-jipam.conflist")));
    Exec.Result version = Bundle.call(hostBin.resolve("jipam"), Bundle.env("VERSION", null, emptyPath), "");
    assertEquals(0, version.exit(), version.toString());
  }
}
