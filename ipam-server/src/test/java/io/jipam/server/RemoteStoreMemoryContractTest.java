package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on a RemoteStore against an in-process jipamd over the memory store, on a unix socket. */
@Timeout(60)
class RemoteStoreMemoryContractTest extends IpamStoreContractTest {
  @TempDir Path dir;

  @Override
  protected IpamStore openStore() {
    Path socket = dir.resolve("jipam.sock");
    IpamServer server = IpamServer.start(IpamStore.inMemory(), IpamServer.Settings.unix(socket), CallLog.quiet());
    return new ServedStore(RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(ServedStore.TIMEOUT)), server);
  }
}
