package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;

/** {@link HostLocalHostileNamesTest} with every call on the one-shot fast path. */
class HostLocalHostileNamesFastTest extends HostLocalHostileNamesTest {
  @Override
  IpamStore newStore() {
    return new HostLocalStore(dataDir, FileSync.NONE, HostLocalStore.Mode.FAST);
  }
}
