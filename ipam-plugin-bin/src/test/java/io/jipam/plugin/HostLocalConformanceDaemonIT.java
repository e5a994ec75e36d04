package io.jipam.plugin;

import io.jipam.testkit.JipamdProcess;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conformance tests against host-local ({@link HostLocalConformanceIT}, every scenario) with
 * jipam in daemon mode: one jipamd (file store) serves the class, as a node's jipamd serves every
 * network of the node; each test's calls name a network of their own ({@code conf-net-N}) in
 * jipamd's data dir, so tests see nothing of each other. Every call goes through the native shim
 * ({@code dist/bin/jipam}) and again through the JVM plugin's daemon client ({@code
 * dist/bin/jipam-jvm}), which must print the same bytes and exit the same. The repeat is
 * harmless: a failed call writes nothing, a repeated ADD returns the held addresses, a repeated DEL
 * succeeds; the base class's checks (results equal to host-local's, the same address files at the
 * end) then hold for daemon mode.
 */
@Order(1) // among the module's longest: started first, not last
class HostLocalConformanceDaemonIT extends HostLocalConformanceIT {
  @TempDir static Path shared;
  private static JipamdProcess jipamd;
  private static final AtomicInteger NETWORKS = new AtomicInteger();

  @BeforeAll
  static void startJipamd() throws Exception {
    jipamd = CniExec.fileJipamd(shared.resolve("jipam.sock"), shared.resolve("data"));
  }

  @AfterAll
  static void stopJipamd() throws InterruptedException {
    if (jipamd != null) {
      jipamd.close();
    }
  }

  /** A network of its own in jipamd's data dir ({@code dataDir}, the test's own, is not used). */
  @Override
  Plugin jipam(Path dataDir) {
    String daemon = "{\"socket\":\"" + shared.resolve("jipam.sock") + "\",\"timeoutSeconds\":60}";
    return new Plugin(CniExec.JIPAM, "jipam", shared.resolve("data"), daemon, CniExec.JIPAM_JVM,
        NETWORK + "-" + NETWORKS.incrementAndGet());
  }
}
