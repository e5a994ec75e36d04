package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.pools.NodeStores;
import io.jipam.server.pools.PoolRegistry;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * Opens the store jipamd serves, by type; the one place that knows the store modules' entry
 * points.
 *
 * <table>
 *   <caption>Store types</caption>
 *   <tr><th>type</th><th>what</th><th>settings</th></tr>
 *   <tr><td>{@code file}</td><td>the host-local layout under a data dir (default); pools kept in memory, changes written
 *       through, concurrent calls committed together ({@link HostLocalStores#openWriteThrough})</td><td>data dir, fsync</td></tr>
 *   <tr><td>{@code etcd}</td><td>the clustered store, one warm client; a store per calling node on it ({@link #openNodeStores})</td><td>a JSON file with the keys of the plugin's {@code ipam.store} for etcd</td></tr>
 *   <tr><td>{@code remote}</td><td>another jipamd, through {@link RemoteStore}</td><td>its address</td></tr>
 *   <tr><td>{@code memory}</td><td>this process's memory; tests and benchmarks only</td><td>none</td></tr>
 * </table>
 */
final class StoreFactory {
  /** The data dir's mode when jipamd creates it: the store's own folders' mode. */
  private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

  private StoreFactory() {}

  /**
   * The stores calls are served from: on etcd a store per calling node over one client ({@link
   * NodeStores#perNode}), otherwise the one store {@link #open} opens.
   */
  static NodeStores openNodeStores(StoreSettings s) {
    if ("etcd".equals(s.type())) {
      return NodeStores.perNode(EtcdStores.openShared(EtcdStoreConfig.fromJson(etcdJson(s.etcdConfig()))));
    }
    return NodeStores.single(open(s));
  }

  static IpamStore open(StoreSettings s) {
    return switch (s.type()) {
      case "file", "host-local" -> HostLocalStores.openWriteThrough(dataDir(s.dataDir()),
          s.fsync() ? FileSync.FSYNC : FileSync.NONE);
      case "memory" -> MemoryStores.open();
      case "etcd" -> EtcdStores.open(EtcdStoreConfig.fromJson(etcdJson(s.etcdConfig())));
      case "remote" -> RemoteStore.connect(remoteTarget(s), s.node());
      default -> throw new IpamException(ErrorCode.INVALID_CONFIG, "store type \"" + s.type()
          + "\" is not one of file, etcd, remote, memory");
    };
  }

  /**
   * The registry of the pools the store serves: for the file store kept in the data dir (in
   * jipam's own folder, under a name no network can have), so that a restarted jipamd knows them;
   * for the others this process's only (etcd keeps its pool definitions itself).
   */
  static PoolRegistry pools(StoreSettings s, CallLog log) {
    return switch (s.type()) {
      case "file", "host-local" -> PoolRegistry.persistent(s.dataDir().resolve(".jipam").resolve(".jipamd-pools"), log);
      default -> new PoolRegistry();
    };
  }

  /**
   * The data dir, checked before jipamd says it is ready: a directory (created, owner-only as the
   * store makes its folders, when absent) in which jipamd can create and remove a file. A data dir
   * on a read-only mount, or one jipamd may not write, stops jipamd at start, not at its first call.
   */
  private static Path dataDir(Path dir) {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new IpamException(ErrorCode.IO_FAILURE, "--data-dir " + dir + " is not a directory");
    }
    try {
      Files.createDirectories(dir, OWNER_ONLY);
      Files.delete(Files.createTempFile(dir, ".jipamd-write-check-", ""));
    } catch (IOException | UnsupportedOperationException e) {
      String why = e instanceof FileSystemException fs && fs.getReason() != null ? fs.getReason()
          : IoMessages.describe(e);
      throw new IpamException(ErrorCode.IO_FAILURE, "--data-dir " + dir + " cannot be written: " + why, e);
    }
    return dir;
  }

  private static Map<String, Object> etcdJson(Path file) {
    if (file == null) {
      throw IpamException.invalidConfig("store type etcd needs --etcd-config FILE (the etcd store's JSON keys)");
    }
    try {
      return new JsonObject(Files.readString(file)).getMap();
    } catch (IOException e) {
      throw new IpamException(ErrorCode.INVALID_CONFIG, "cannot read etcd config " + file + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.INVALID_CONFIG, "etcd config " + file + " is not a JSON object: "
          + e.getMessage(), e);
    }
  }

  /**
   * What {@link #open} needs.
   *
   * @param remoteAddress remote store: the IP to connect to instead of looking up its host (null: look it up)
   * @param node remote store: the node this jipamd acts for, sent with every call to the central
   *     jipamd (null: none named)
   */
  record StoreSettings(String type, Path dataDir, boolean fsync, Path etcdConfig, String remote,
      String remoteAddress, RemoteStore.Tls remoteTls, String node) {}

  /** The remote store's target: its address, TLS, and the IP to connect to when one is given. */
  static RemoteStore.Target remoteTarget(StoreSettings s) {
    RemoteStore.Target target = RemoteStore.Target.parse(s.remote()).withTls(s.remoteTls());
    return s.remoteAddress() == null ? target : target.withConnectTo(s.remoteAddress());
  }
}
