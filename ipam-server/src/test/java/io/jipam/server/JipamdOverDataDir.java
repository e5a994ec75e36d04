package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.pools.NodeStores;
import io.jipam.server.pools.PoolRegistry;
import java.nio.file.Path;

/**
 * A jipamd in this JVM serving a data dir on a unix socket, for jipamctl tests that run the same
 * commands directly and through jipamd ({@code --server unix:SOCKET}). Closes both ends.
 */
final class JipamdOverDataDir implements AutoCloseable {
  private final IpamServer server;
  private final RemoteStore remote;
  final Path socket;

  /**
   * Starts it on {@code dir/jipam.sock} over {@code dataDir}, knowing {@code pools} as a jipamd on
   * a file store knows the pools allocated from before it started (jipamd defines a pool by an
   * allocation, and keeps the file store's definitions in the data dir).
   */
  JipamdOverDataDir(Path dir, Path dataDir, Pool... pools) {
    this.socket = dir.resolve("jipam.sock");
    this.server = serve(dataDir, socket, pools);
    RemoteStore r = null;
    try {
      r = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
    this.remote = r;
  }

  /** A jipamd in this JVM over {@code dataDir} on {@code socket}, knowing {@code pools} (see above). */
  static IpamServer serve(Path dataDir, Path socket, Pool... pools) {
    Path file = knowPools(dataDir, pools);
    return IpamServer.start(NodeStores.single(HostLocalStores.open(dataDir)), CallerIdentity.noOperatorCa(),
        IpamServer.Settings.unix(socket), CallLog.quiet(), null, 0, PoolRegistry.persistent(file, CallLog.quiet()));
  }

  /**
   * Writes {@code pools} into the pool definitions a jipamd on the file store keeps in {@code
   * dataDir} (as after it allocated from them), so that a jipamd started on it knows them; returns
   * that file.
   */
  static Path knowPools(Path dataDir, Pool... pools) {
    Path file = dataDir.resolve(".jipam").resolve(".jipamd-pools");
    PoolRegistry known = PoolRegistry.persistent(file, CallLog.quiet());
    for (Pool p : pools) {
      try (PoolRegistry.Admission admission = known.admit(p)) {
        admission.confirm();
      }
      known.allocatedFrom(p);
    }
    return file;
  }

  /** jipamctl's arguments to reach it. */
  String[] ctlArgs() {
    return new String[] {"--server", "unix:" + socket};
  }

  @Override
  public void close() {
    try {
      remote.close();
    } finally {
      server.close();
    }
  }
}
