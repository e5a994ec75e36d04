package io.jipam.etcd;

import java.time.Clock;

/**
 * Opens etcd-backed stores. The only entry point of this module; implementations are
 * package-private.
 *
 * <pre>{@code
 * EtcdStore store = EtcdStores.open(EtcdStoreConfig.fromJson(storeJson));
 * }</pre>
 */
public final class EtcdStores {
  private EtcdStores() {}

  /**
   * Connects to etcd as configured. Connecting is lazy: an unreachable etcd surfaces as {@code
   * TRY_AGAIN_LATER} from the first call, not here.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG when the TLS files cannot be loaded
   */
  public static EtcdStore open(EtcdStoreConfig config) {
    return open(config, Clock.systemUTC());
  }

  /**
   * {@link #open(EtcdStoreConfig)} with the wall clock the store stamps its node's seen records
   * and fences with and judges other nodes' quiet periods by ({@link EtcdStore#reclaimNode}), and
   * by which claims (holds, cool-downs) are made and expire: tests give a node a clock behind the
   * operator's instead of waiting out a quiet period, or move it past a hold.
   */
  public static EtcdStore open(EtcdStoreConfig config, Clock wall) {
    return new GroupCommitStore(config, System::nanoTime, wall);
  }

  /**
   * Connects to etcd as configured, for stores of many nodes over that one client (a central
   * jipamd): {@link EtcdNodeStores#store()} is the config's node's, {@link
   * EtcdNodeStores#forNode} any node's. Lazy as {@link #open}.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG when the TLS files cannot be loaded
   */
  public static EtcdNodeStores openShared(EtcdStoreConfig config) {
    return new SharedClientStores(config, System::nanoTime, Clock.systemUTC());
  }
}
