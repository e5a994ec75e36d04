package io.jipam.core.store.capability;

/**
 * A store that can be asked whether it can serve now, changing nothing; for health checks and
 * STATUS: one behind a network (etcd, a remote jipamd) whether it answers, a file store whether its
 * data dir can be written. Ask a store for it with {@code store.capability(Probe.class)}; a store
 * without it (memory) serves whenever the process runs.
 */
public interface Probe {

  /**
   * Returns when the store answered one read within its timeout (a file store: its data dir is a
   * directory the process may write in).
   *
   * @throws io.jipam.core.IpamException TRY_AGAIN_LATER when it did not, naming why
   */
  void ping();
}
