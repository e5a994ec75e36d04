package io.jipam.plugin;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.net.MalformedURLException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Opens the etcd store from {@code lib/etcd/} (ipam-etcd, jetcd, gRPC, Netty) in a class loader of
 * its own. Why: those jars are dozens and a host-local call should not pay for them on its class
 * path; an etcd call loads them anyway. The store is reached through the {@link IpamStore}
 * interface, which both loaders share.
 */
final class EtcdStoreLoader {
  private EtcdStoreLoader() {}

  static IpamStore open(Map<String, Object> storeConfig) {
    Path etcdLib = libDir().resolve("etcd");
    File[] jars = etcdLib.toFile().listFiles((dir, name) -> name.endsWith(".jar"));
    if (jars == null || jars.length == 0) {
      throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, "ipam.store.type \"etcd\": the etcd store is"
          + " not installed (no jars in " + etcdLib + ")");
    }
    Arrays.sort(jars);
    List<URL> urls = new ArrayList<>();
    try {
      for (File jar : jars) {
        urls.add(jar.toURI().toURL());
      }
    } catch (MalformedURLException e) {
      throw new IpamException(ErrorCode.INTERNAL, "bad jar path in " + etcdLib, e);
    }
    ClassLoader loader = new URLClassLoader(urls.toArray(new URL[0]), EtcdStoreLoader.class.getClassLoader());
    try {
      Class<?> configType = Class.forName("io.jipam.etcd.EtcdStoreConfig", true, loader);
      Object config = configType.getMethod("fromJson", Map.class).invoke(null, storeConfig);
      Class<?> stores = Class.forName("io.jipam.etcd.EtcdStores", true, loader);
      return (IpamStore) stores.getMethod("open", configType).invoke(null, config);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof IpamException ipam) {
        throw ipam;
      }
      throw new IpamException(ErrorCode.INTERNAL, "opening the etcd store failed: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IpamException(ErrorCode.INTERNAL, "the etcd store in " + etcdLib + " is incomplete: " + e, e);
    }
  }

  /** The folder holding this plugin's jar: {@code dist/lib}. */
  private static Path libDir() {
    try {
      Path jar = Path.of(EtcdStoreLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return Files.isDirectory(jar) ? jar : jar.getParent();
    } catch (URISyntaxException | RuntimeException e) {
      throw new IpamException(ErrorCode.INTERNAL, "cannot locate the plugin's lib folder: " + e, e);
    }
  }
}
