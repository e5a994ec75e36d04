package io.jipam.plugin;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.IpamConfig;
import io.jipam.core.store.IpamStore;
import io.jipam.hostlocal.HostLocalStores;

/**
 * Opens the store {@code ipam.store.type} names. Each store type is reached through its own class
 * so that a call loads only the store it uses.
 */
final class StoreOpener {
  private StoreOpener() {}

  static IpamStore open(IpamConfig config) {
    String type = config.storeType();
    return switch (type) {
      case "host-local" -> HostLocalStores.open(config.dataDir());
      case "etcd" -> EtcdStoreLoader.open(config.store());
      default -> throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, "ipam.store.type \"" + type
          + "\" is not supported; use \"host-local\" or \"etcd\"");
    };
  }
}
