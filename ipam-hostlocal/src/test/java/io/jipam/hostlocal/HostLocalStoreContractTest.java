package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class HostLocalStoreContractTest extends IpamStoreContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore() {
    return HostLocalStores.open(dataDir);
  }

  @Override
  protected IpamStore reopenStore() {
    return HostLocalStores.open(dataDir);
  }

  /** After every contract test, the files must be what the design says (see HostLocalInvariants). */
  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
