package io.jipam.plugin;

import io.jipam.testkit.JipamdProcess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Order;

/**
 * The conformance tests against host-local ({@link HostLocalConformanceIT}, every scenario) with
 * jipam in daemon mode: a jipamd (file store) on jipam's data dir, every call through the native
 * shim ({@code dist/bin/jipam}) and again through the JVM plugin's daemon client ({@code
 * dist/bin/jipam-jvm}), which must print the same bytes and exit the same. The repeat is
 * harmless: a failed call writes nothing, a repeated ADD returns the held addresses, a repeated DEL
 * succeeds; the base class's checks (results equal to host-local's, the same address files at the
 * end) then hold for daemon mode.
 */
@Order(1) // among the module's longest (about 34 s in a suite run): started first, not last
class HostLocalConformanceDaemonIT extends HostLocalConformanceIT {
  private final List<JipamdProcess> started = new ArrayList<>();

  @Override
  Plugin jipam(Path dataDir) throws Exception {
    Path socket = dataDir.resolveSibling("jipam-" + started.size() + ".sock");
    JipamdProcess jipamd = CniExec.fileJipamd(socket, dataDir);
    started.add(jipamd);
    String daemon = "{\"socket\":\"" + socket + "\",\"timeoutSeconds\":60}";
    return new Plugin(CniExec.JIPAM, "jipam", dataDir, daemon, CniExec.JIPAM_JVM);
  }

  @AfterEach
  void stopJipamds() throws InterruptedException {
    for (JipamdProcess jipamd : started) {
      jipamd.close();
    }
  }
}
