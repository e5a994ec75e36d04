package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The claims contract on jipamd's file store (state in memory, group commit, files written through). */
class WriteThroughStoreClaimsContractTest extends IpamStoreClaimsContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore(Clock clock) {
    return HostLocalStores.openWriteThrough(dataDir, FileSync.NONE, clock);
  }

  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
