package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract with every call taking the path a one-shot plugin process takes: no cached state,
 * the index searched rather than parsed where possible.
 */
class HostLocalStoreFastPathContractTest extends IpamStoreContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore() {
    return new HostLocalStore(dataDir, FileSync.NONE, HostLocalStore.Mode.FAST);
  }

  @Override
  protected IpamStore reopenStore() {
    return new HostLocalStore(dataDir, FileSync.NONE, HostLocalStore.Mode.FAST);
  }

  /** After every contract test, the files must be what the design says (see HostLocalInvariants). */
  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
