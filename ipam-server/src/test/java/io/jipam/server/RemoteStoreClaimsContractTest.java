package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The claims contract (holds, reservations, cool-down) on a RemoteStore against an in-process
 * jipamd over the memory store on the suite's clock, on a unix socket: the policy travels with the
 * pool, the origins with Allocated, the claims through Reserve, Unreserve, EndHold and ListClaims.
 */
@Timeout(60)
class RemoteStoreClaimsContractTest extends IpamStoreClaimsContractTest {
  @TempDir Path dir;

  @Override
  protected boolean takesCopies() {
    return false; // jipamd's API carries no copied origins: refused before anything is sent
  }

  @Override
  protected IpamStore openStore(Clock clock) {
    Path socket = dir.resolve("jipam.sock");
    IpamServer server = IpamServer.start(MemoryStores.open(clock), IpamServer.Settings.unix(socket), CallLog.quiet());
    return new ServedStore(RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket)
        .withTimeout(ServedStore.TIMEOUT)), server);
  }
}
