package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The claims contract with every call made as a one-shot plugin process makes it (no cached
 * state): claims must be read back from the files on every call.
 */
class HostLocalStoreFastPathClaimsContractTest extends IpamStoreClaimsContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore(Clock clock) {
    return new HostLocalStore(dataDir, null, HostLocalStore.Mode.FAST, clock);
  }

  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
