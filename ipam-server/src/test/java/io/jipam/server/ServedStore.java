package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.testing.ForwardingStore;

/** A {@link RemoteStore} that also stops the jipamd it talks to when closed. */
final class ServedStore extends ForwardingStore {
  /**
   * Per-call deadline in the contract suites: generous, since the test machine is shared and a
   * loaded one has been seen to take seconds for a call; the suites check semantics, not speed.
   */
  static final java.time.Duration TIMEOUT = java.time.Duration.ofSeconds(20);

  final RemoteStore remote;
  private final AutoCloseable server;

  ServedStore(RemoteStore remote, AutoCloseable server) {
    super(remote);
    this.remote = remote;
    this.server = server;
  }

  /**
   * The claims, the kept pools and retiring a pool are the remote store's ({@link
   * io.jipam.core.store.capability.Claims}, {@code KeptPools}, {@code RetirePools}: jipamd's calls).
   */
  @Override
  public <T> java.util.Optional<T> capability(Class<T> ability) {
    return ability == io.jipam.core.store.capability.Claims.class
        || ability == io.jipam.core.store.capability.KeptPools.class
        || ability == io.jipam.core.store.capability.RetirePools.class ? remote.capability(ability)
        : super.capability(ability);
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
