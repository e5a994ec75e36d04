package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store contract on a RemoteStore against an in-process jipamd over the file store jipamd
 * serves ({@code HostLocalStores.openWriteThrough}); reopening
 * starts a second jipamd over the same data dir (another node-local daemon's view of the files).
 */
@Timeout(60)
class RemoteStoreFileContractTest extends IpamStoreContractTest {
  @TempDir Path dir;

  @Override
  protected IpamStore openStore() {
    return serve("first.sock");
  }

  @Override
  protected IpamStore reopenStore() {
    return serve("second.sock");
  }

  private IpamStore serve(String socketName) {
    Path socket = dir.resolve(socketName);
    IpamServer server = IpamServer.start(HostLocalStores.openWriteThrough(dir.resolve("data"), FileSync.NONE),
        IpamServer.Settings.unix(socket),
        CallLog.quiet());
    return new ServedStore(RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(ServedStore.TIMEOUT)), server);
  }
}
