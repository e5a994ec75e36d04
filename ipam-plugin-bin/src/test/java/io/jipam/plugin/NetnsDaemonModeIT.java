package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real {@code bridge} plugin, run in a node namespace this test creates, delegating to
 * {@code jipam} in daemon mode: the built jipamd (file store) allocates; dual stack; ADD, CHECK,
 * then jipamd is restarted, then CHECK and DEL still find and release the pod's addresses. Needs
 * root; under CI a missing prerequisite fails the test.
 */
@Timeout(180)
class NetnsDaemonModeIT {
  private static final String TAG = "jipamd" + ProcessHandle.current().pid();
  private final List<String> namespaces = new ArrayList<>();
  private final String node = TAG + "-node";

  @TempDir Path dir;
  JipamdProcess jipamd;

  @BeforeAll
  static void prerequisites() {
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean plugins = Files.isExecutable(Path.of("/usr/lib/cni/bridge"));
    String why = !root ? "network namespaces need root" : "apt-get install containernetworking-plugins";
    if (CniExec.underCi()) {
      assertTrue(root && plugins, why);
    }
    assumeTrue(root && plugins, why);
  }

  @AfterEach
  void cleanUp() throws InterruptedException {
    for (String ns : namespaces) {
      try {
        CniExec.sh("ip", "netns", "delete", ns);
      } catch (RuntimeException | AssertionError ignored) {
        // already gone
      }
    }
    stopJipamd();
  }

  void startJipamd() throws IOException {
    jipamd = CniExec.fileJipamd(dir.resolve("jipam.sock"), dir.resolve("data"));
  }

  void stopJipamd() throws InterruptedException {
    if (jipamd != null) {
      jipamd.close();
    }
  }

  private String namespace(String name) {
    CniExec.sh("ip", "netns", "add", name);
    namespaces.add(name);
    return name;
  }

  private String conf(String prevResult) {
    return ("{'cniVersion':'1.0.0','name':'daemon-e2e','type':'bridge','bridge':'jbrd','isGateway':true,"
        + "'ipMasq':false," + (prevResult == null ? "" : "'prevResult':" + prevResult.replace('"', '\'') + ",")
        + "'ipam':{'type':'jipam','daemon':{'socket':'" + dir.resolve("jipam.sock") + "','timeoutSeconds':5},"
        + "'ranges':[[{'subnet':'198.18.110.0/24'}],[{'subnet':'fd00:18:110::/64'}]],"
        + "'routes':[{'dst':'0.0.0.0/0'}]}}").replace('\'', '"');
  }

  private CniExec.Result bridge(String command, String pod, String conf) {
    Map<String, String> env = CniExec.env(command, pod, "eth0", "/var/run/netns/" + pod);
    return CniExec.run(List.of("ip", "netns", "exec", node), Path.of("/usr/lib/cni/bridge"), env, conf);
  }

  @Test
  void bridgeAddCheckDel_viaJipamd_restartBetweenLosesNothing() throws Exception {
    startJipamd();
    namespace(node);
    CniExec.sh("ip", "netns", "exec", node, "ip", "link", "set", "lo", "up");
    String pod = namespace(TAG + "-pod");

    CniExec.Result add = bridge("ADD", pod, conf(null));
    assertEquals(0, add.exit(), add::toString);
    String addresses = CniExec.sh("ip", "netns", "exec", pod, "ip", "-o", "addr", "show", "dev", "eth0");
    assertTrue(addresses.contains("198.18.110.2/24") && addresses.contains("fd00:18:110::2/64"), addresses);
    assertTrue(Files.exists(dir.resolve("data/daemon-e2e/198.18.110.2")));
    CniExec.Result check = bridge("CHECK", pod, conf(add.stdout()));
    assertEquals(0, check.exit(), check::toString);

    stopJipamd();
    startJipamd();

    CniExec.Result checkAgain = bridge("CHECK", pod, conf(add.stdout()));
    assertEquals(0, checkAgain.exit(), checkAgain::toString);
    CniExec.Result del = bridge("DEL", pod, conf(null));
    assertEquals(0, del.exit(), del::toString);
    assertFalse(Files.exists(dir.resolve("data/daemon-e2e/198.18.110.2")), "released by DEL after the restart");
    assertFalse(Files.exists(dir.resolve("data/daemon-e2e/fd00:18:110::2")));
  }
}
