package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import java.util.List;
import java.util.Set;

/** A {@link RemoteStore} that also stops the jipamd it talks to when closed. */
final class ServedStore implements IpamStore {
  /**
   * Per-call deadline in the contract suites: generous, since the test machine is shared and a
   * loaded one has been seen to take seconds for a call; the suites check semantics, not speed.
   */
  static final java.time.Duration TIMEOUT = java.time.Duration.ofSeconds(20);

  final RemoteStore remote;
  private final AutoCloseable server;

  ServedStore(RemoteStore remote, AutoCloseable server) {
    this.remote = remote;
    this.server = server;
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return remote.allocate(pool, request);
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return remote.release(pool, attachment);
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    return remote.find(pool, attachment);
  }

  @Override
  public List<Allocation> list(Pool pool) {
    return remote.list(pool);
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    return remote.retainOnly(pool, valid);
  }

  @Override
  public PoolUsage usage(Pool pool) {
    return remote.usage(pool);
  }

  /** The claims are the remote store's ({@link io.jipam.core.store.capability.Claims}: jipamd's calls). */
  @Override
  public <T> java.util.Optional<T> capability(Class<T> ability) {
    return ability == io.jipam.core.store.capability.Claims.class ? remote.capability(ability)
        : IpamStore.super.capability(ability);
  }

  @Override
  public void close() {
    remote.close();
    try {
      server.close();
    } catch (Exception e) {
      throw new IllegalStateException("stopping jipamd failed", e);
    }
  }
}
