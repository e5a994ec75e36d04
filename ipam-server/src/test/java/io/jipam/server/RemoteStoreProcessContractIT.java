package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * The store contract on a RemoteStore against jipamd running as a child process (the real main,
 * options and SIGTERM shutdown) over the file store. Two jipamd processes serve the class, on one
 * data dir: each test opens a connection to the first and reopens through the second (another
 * process's view of the same files), and names pools of its own ({@link #poolName}), so the tests
 * run side by side without meeting. Both must stop cleanly on SIGTERM after the class.
 */
@Order(1) // among the module's longest: started first, not last
@Execution(ExecutionMode.CONCURRENT) // its tests run side by side: each has pools of its own
@Timeout(120)
class RemoteStoreProcessContractIT extends IpamStoreContractTest {
  private static final AtomicInteger TESTS = new AtomicInteger();
  @TempDir static Path dir;
  private static JipamdProcess first;
  private static JipamdProcess second;

  private final String tag = "t" + TESTS.incrementAndGet();

  @BeforeAll
  static void startJipamds() throws Exception {
    first = start("first.sock");
    second = start("second.sock");
  }

  @AfterAll
  static void stopJipamds() throws Exception {
    for (JipamdProcess jipamd : new JipamdProcess[] {first, second}) {
      if (jipamd != null) {
        int exit = jipamd.stop();
        if (exit != 0 && exit != 143) {
          throw new IllegalStateException("jipamd exited with " + exit + " after SIGTERM:\n" + jipamd.output());
        }
      }
    }
  }

  @Override
  protected String poolName(String name) {
    return name + "-" + tag;
  }

  @Override
  protected IpamStore openStore() {
    return connect("first.sock");
  }

  @Override
  protected IpamStore reopenStore() {
    return connect("second.sock");
  }

  @Override
  protected int churnRounds() {
    return 100;
  }

  private static JipamdProcess start(String socketName) throws Exception {
    return ServerJipamd.start(dir, "--socket", dir.resolve(socketName).toString(), "--store", "file",
        "--data-dir", dir.resolve("data").toString());
  }

  private static IpamStore connect(String socketName) {
    RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + dir.resolve(socketName))
        .withTimeout(ServedStore.TIMEOUT));
    return new ServedStore(remote, () -> { });
  }
}
