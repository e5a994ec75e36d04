package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.metrics.CallLog;
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
   * Starts it on {@code dir/jipam.sock} over {@code dataDir}, and names each pool once (jipamd knows
   * a pool once a call named it).
   */
  JipamdOverDataDir(Path dir, Path dataDir, Pool... pools) {
    this.socket = dir.resolve("jipam.sock");
    this.server = IpamServer.start(HostLocalStores.open(dataDir), IpamServer.Settings.unix(socket), CallLog.quiet());
    RemoteStore r = null;
    try {
      r = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket));
      for (Pool p : pools) {
        r.usage(p);
      }
    } catch (RuntimeException e) {
      if (r != null) {
        r.close();
      }
      server.close();
      throw e;
    }
    this.remote = r;
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
