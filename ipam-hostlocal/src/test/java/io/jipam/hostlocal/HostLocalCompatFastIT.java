package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;

/** {@link HostLocalCompatIT} with every jipam call on the one-shot fast path. */
class HostLocalCompatFastIT extends HostLocalCompatIT {
  @Override
  IpamStore newStore() {
    return new HostLocalStore(dataDir, FileSync.NONE, HostLocalStore.Mode.FAST);
  }
}
