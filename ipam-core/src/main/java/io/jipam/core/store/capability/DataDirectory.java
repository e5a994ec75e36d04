package io.jipam.core.store.capability;

import java.nio.file.Path;

/**
 * A store that keeps its pools in a directory of this host (the file stores: host-local's layout):
 * the directory a network config's {@code dataDir} must name for the plugin on its own (direct
 * mode) to see the same allocations as the process holding this store. Ask a store for it with
 * {@code store.capability(DataDirectory.class)}; stores elsewhere (memory, etcd, a remote jipamd)
 * do not offer it.
 */
public interface DataDirectory {

  /** The data dir, absolute and normalized. */
  Path path();
}
