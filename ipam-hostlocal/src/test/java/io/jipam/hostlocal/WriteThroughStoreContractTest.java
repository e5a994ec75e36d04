package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on jipamd's file store (state in memory, group commit, files written through). */
class WriteThroughStoreContractTest extends IpamStoreContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore() {
    return HostLocalStores.openWriteThrough(dataDir, FileSync.NONE);
  }

  @Override
  protected IpamStore reopenStore() {
    return HostLocalStores.openWriteThrough(dataDir, FileSync.NONE);
  }

  /** The files it leaves are what the design says, as for the plugin's store. */
  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
