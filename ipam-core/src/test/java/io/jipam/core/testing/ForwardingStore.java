package io.jipam.core.testing;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import java.util.List;
import java.util.Set;

/**
 * An {@link IpamStore} that passes every call to another (shipped in ipam-core's test-jar): a test
 * overrides the calls it changes (a slow allocate, an ability, a close that stops a server).
 * {@link #capability} is not passed on: the wrapper has the abilities it implements or answers.
 */
public class ForwardingStore implements IpamStore {
  protected final IpamStore store;

  public ForwardingStore(IpamStore store) {
    this.store = store;
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return store.allocate(pool, request);
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return store.release(pool, attachment);
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    return store.find(pool, attachment);
  }

  @Override
  public List<Allocation> list(Pool pool) {
    return store.list(pool);
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    return store.retainOnly(pool, valid);
  }

  @Override
  public PoolUsage usage(Pool pool) {
    return store.usage(pool);
  }

  @Override
  public void close() {
    store.close();
  }
}
