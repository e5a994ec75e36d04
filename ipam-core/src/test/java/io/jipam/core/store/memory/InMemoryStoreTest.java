package io.jipam.core.store.memory;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.core.store.spi.PoolState;
import io.jipam.core.store.spi.PoolStateInvariants;
import org.junit.jupiter.api.AfterEach;

class InMemoryStoreTest extends IpamStoreContractTest {
  @Override
  protected IpamStore openStore() {
    return MemoryStores.open();
  }

  /** After every contract test, each pool's state must be what its design says. */
  @AfterEach
  void invariantsHold() {
    for (PoolState st : ((InMemoryStore) store).states()) {
      PoolStateInvariants.check(st);
    }
  }
}
