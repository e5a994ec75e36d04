package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import java.nio.file.Path;

/**
 * Opens {@link IpamStore}s that keep allocations in files, on-disk compatible with the reference
 * CNI {@code host-local} IPAM plugin: a node can switch its network config from host-local to
 * jipam and back without losing or duplicating an allocation.
 *
 * <p>A pool named {@code N} lives in {@code <dataDir>/N/} exactly as host-local lays it out (one
 * file per address, {@code last_reserved_ip.<set>} cursors, the {@code lock} file); jipam adds a
 * rebuildable index under {@code <dataDir>/.jipam/N/}. See {@code docs/hostlocal.md} and {@link
 * HostLocalStore} for the layout, the locking, the staleness check and the durability promise.
 */
public final class HostLocalStores {
  private HostLocalStores() {}

  /**
   * A store over {@code dataDir} (host-local's {@code dataDir}, by default {@code
   * /var/lib/cni/networks}) that does not fsync, like host-local: an allocation survives the process
   * being killed as soon as {@code allocate} returns, but not necessarily a power loss. Opening
   * touches no file; directories are created on first use.
   */
  public static IpamStore open(Path dataDir) {
    return new HostLocalStore(dataDir, FileSync.NONE);
  }

  /**
   * Like {@link #open(Path)}; with {@link FileSync#FSYNC} every address file, cursor and the
   * directory entries are forced to disk before a call returns, so an allocation also survives a
   * power loss.
   */
  public static IpamStore open(Path dataDir, FileSync sync) {
    return new HostLocalStore(dataDir, sync);
  }

  /**
   * Like {@link #open(Path, FileSync)}, with holds and cool-downs ({@link
   * io.jipam.core.store.AddressPolicy}) starting and ending by {@code clock}. The store offers
   * the {@link io.jipam.core.store.capability.Claims} ability; claims live in {@code
   * <dataDir>/.jipam/<network>/claims}, and each claimed address that no attachment holds keeps an
   * address file with content no container can have, so host-local never hands it out.
   */
  public static IpamStore open(Path dataDir, FileSync sync, java.time.Clock clock) {
    return new HostLocalStore(dataDir, sync == FileSync.FSYNC ? PoolDir.Forcer.FORCE : null, HostLocalStore.Mode.AUTO,
        clock);
  }

  /**
   * The file store for a long-lived process (jipamd): the same files as {@link #open(Path,
   * FileSync)}, so plugins in direct mode may share the data dir, with each pool's state kept in
   * memory (a call reads no directory while no other process has changed the pool) and
   * concurrent calls on a pool committed together: one lock hold, and with {@link FileSync#FSYNC}
   * one fsync round, per batch. A call returns once its change is written (with fsync: on disk).
   * Thread-safe.
   */
  public static IpamStore openWriteThrough(Path dataDir, FileSync sync) {
    return new WriteThroughStore(dataDir, sync);
  }

  /** Like {@link #openWriteThrough(Path, FileSync)}, with holds and cool-downs on {@code clock}. */
  public static IpamStore openWriteThrough(Path dataDir, FileSync sync, java.time.Clock clock) {
    return new WriteThroughStore(dataDir, sync, clock);
  }
}
