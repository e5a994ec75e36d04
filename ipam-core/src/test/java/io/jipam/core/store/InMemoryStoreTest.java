package io.jipam.core.store;

class InMemoryStoreTest extends IpamStoreContractTest {
  @Override
  protected IpamStore openStore() {
    return IpamStore.inMemory();
  }
}
