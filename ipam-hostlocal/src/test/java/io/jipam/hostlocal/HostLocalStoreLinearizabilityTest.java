package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.LinearizabilityCheck;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file store's concurrent histories are linearizable against the store contract (see {@code
 * Linearizability} in ipam-core's tests): 4 threads over two store instances on one data dir (as
 * two processes would be), each history on a fresh pool.
 */
class HostLocalStoreLinearizabilityTest {
  @TempDir Path dataDir;

  @Test
  void concurrentHistories_twoStoresOnOneDataDir_linearizable() throws Exception {
    System.out.println("HostLocalStoreLinearizabilityTest: " + LinearizabilityCheck.run(
        h -> new IpamStore[] {HostLocalStores.open(dataDir), HostLocalStores.open(dataDir)}, 100, 4, 8));
  }
}
