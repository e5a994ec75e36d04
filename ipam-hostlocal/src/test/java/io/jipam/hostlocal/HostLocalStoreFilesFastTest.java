package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;

/** {@link HostLocalStoreFilesTest} with every call on the one-shot fast path (no cached state). */
class HostLocalStoreFilesFastTest extends HostLocalStoreFilesTest {
  @Override
  IpamStore newStore() {
    return new HostLocalStore(dataDir, FileSync.NONE, HostLocalStore.Mode.FAST);
  }
}
