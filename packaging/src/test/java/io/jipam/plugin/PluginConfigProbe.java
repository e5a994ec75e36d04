package io.jipam.plugin;

import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.IpamStore;
import io.jipam.etcd.EtcdStoreConfig;
import java.util.Map;

/**
 * The plugin's config parsers, reached from the packaging module's documentation test
 * ({@code ConfigurationDocTest}): what the plugin runs on the network config of a call before it
 * touches a store.
 */
public final class PluginConfigProbe {
  private PluginConfigProbe() {}

  /**
   * Parses {@code config} (a parsed network config) as the plugin does: the daemon key ({@code
   * DaemonClient}), the network config and its ipam section ({@code NetworkConfig}, as the plugin
   * in direct mode and jipamd in daemon mode do), then the store's own keys: the etcd store's
   * ({@link EtcdStoreConfig#fromJson}, what the plugin's etcd loader calls first), or the file
   * store opened on {@code ipam.dataDir} ({@code StoreOpener}, which refuses an unknown type).
   *
   * @throws io.jipam.core.IpamException the error the plugin would print
   */
  public static void parse(Map<String, Object> config) {
    DaemonClient.target(config);
    NetworkConfig network = NetworkConfig.from(config);
    if (network.ipam().storeType().equals("etcd")) {
      EtcdStoreConfig.fromJson(network.ipam().store());
    } else {
      try (IpamStore store = StoreOpener.open(network.ipam())) {
        store.getClass();
      }
    }
  }
}
