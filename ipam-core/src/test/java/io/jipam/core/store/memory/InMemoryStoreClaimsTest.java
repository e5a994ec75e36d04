package io.jipam.core.store.memory;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreClaimsContractTest;
import io.jipam.core.store.spi.PoolState;
import io.jipam.core.store.spi.PoolStateInvariants;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;

class InMemoryStoreClaimsTest extends IpamStoreClaimsContractTest {
  @Override
  protected IpamStore openStore(Clock clock) {
    return MemoryStores.open(clock);
  }

  /** After every claims test, each pool's state (claims included) must be what its design says. */
  @AfterEach
  void invariantsHold() {
    for (PoolState st : ((InMemoryStore) store).states()) {
      PoolStateInvariants.check(st);
    }
  }
}
