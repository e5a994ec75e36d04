package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on jipamd's file store with fsync (the batch's deferred fsync round). */
class WriteThroughStoreFsyncContractTest extends IpamStoreContractTest {
  @TempDir Path dataDir;

  @Override
  protected IpamStore openStore() {
    return HostLocalStores.openWriteThrough(dataDir, FileSync.FSYNC);
  }

  @Override
  protected IpamStore reopenStore() {
    return HostLocalStores.openWriteThrough(dataDir, FileSync.FSYNC);
  }

  /** Each batch waits for the disk: fewer churn rounds keep the suite within seconds. */
  @Override
  protected int churnRounds() {
    return 40;
  }

  @AfterEach
  void invariantsHold() throws Exception {
    HostLocalInvariants.check(dataDir);
  }
}
