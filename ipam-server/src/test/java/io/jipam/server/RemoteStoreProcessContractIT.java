package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Path;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * The store contract on a RemoteStore against jipamd running as a child process (the real main,
 * options and SIGTERM shutdown) over the file store; reopening starts a second jipamd process on
 * the same data dir.
 */
@Order(1) // among the module's longest: started first, not last
@Execution(ExecutionMode.CONCURRENT) // its tests run side by side: each has its own temp dir, data dir and jipamd processes
@Timeout(120)
class RemoteStoreProcessContractIT extends IpamStoreContractTest {
  @TempDir Path dir;

  @Override
  protected IpamStore openStore() throws Exception {
    return serve("first.sock");
  }

  @Override
  protected IpamStore reopenStore() throws Exception {
    return serve("second.sock");
  }

  @Override
  protected int churnRounds() {
    return 100;
  }

  private IpamStore serve(String socketName) throws Exception {
    Path socket = dir.resolve(socketName);
    JipamdProcess jipamd = ServerJipamd.start(dir, "--socket", socket.toString(), "--store", "file",
        "--data-dir", dir.resolve("data").toString());
    return new ServedStore(RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(ServedStore.TIMEOUT)), () -> {
      int exit = jipamd.stop();
      if (exit != 0 && exit != 143) {
        throw new IllegalStateException("jipamd exited with " + exit + " after SIGTERM:\n" + jipamd.output());
      }
    });
  }
}
