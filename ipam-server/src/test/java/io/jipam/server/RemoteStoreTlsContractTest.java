package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.IpamStoreContractTest;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on a RemoteStore against jipamd on TCP with mutual TLS, over the memory store. */
@Timeout(60)
class RemoteStoreTlsContractTest extends IpamStoreContractTest {
  @TempDir static Path certDir;
  static TestCerts certs;

  @BeforeAll
  static void certificates() throws Exception {
    certs = TestCerts.make(certDir);
  }

  @Override
  protected IpamStore openStore() {
    IpamServer server = IpamServer.start(IpamStore.inMemory(), new IpamServer.Settings(null, "127.0.0.1", 0, false,
        certs.pem("server"), certs.key("server"), certs.pem("ca"), 8, 1024, 4L << 20,
        java.time.Duration.ofSeconds(10), java.time.Duration.ofSeconds(30)), CallLog.quiet());
    RemoteStore.Target target = RemoteStore.Target.parse("127.0.0.1:" + server.tcpPort())
        .withTls(new RemoteStore.Tls(certs.pem("ca"), certs.pem("client"), certs.key("client")));
    return new ServedStore(RemoteStore.connect(target.withTimeout(ServedStore.TIMEOUT)), server);
  }
}
