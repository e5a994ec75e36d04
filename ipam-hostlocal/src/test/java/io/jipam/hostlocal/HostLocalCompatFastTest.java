package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;

/** {@link HostLocalCompatTest} with every jipam call on the one-shot fast path. */
class HostLocalCompatFastTest extends HostLocalCompatTest {
  @Override
  IpamStore newStore() {
    return new HostLocalStore(dataDir, false, HostLocalStore.Mode.FAST);
  }
}
