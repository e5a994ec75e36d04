package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The claims contract on the file store, as jipamctl and a long-lived process open it. */
class HostLocalStoreClaimsContractTest extends IpamStoreClaimsContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore(Clock clock) {
    return HostLocalStores.open(dataDir, FileSync.NONE, clock);
  }

  /** After every claims test, files, markers and the claims file must agree (HostLocalInvariants). */
  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
