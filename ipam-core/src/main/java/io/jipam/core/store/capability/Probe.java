package io.jipam.core.store.capability;

/**
 * A store behind a network (etcd, a remote jipamd) that can be asked whether it answers now,
 * changing nothing; for health checks. Ask a store for it with {@code store.capability(Probe.class)};
 * a store without it (files, memory) answers whenever the process runs.
 */
public interface Probe {

  /**
   * Returns when the store answered one read within its timeout.
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when it did not
   */
  void ping();
}
