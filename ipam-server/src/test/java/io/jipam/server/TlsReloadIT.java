package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ReloadsTls;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.Await;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.TestCerts;
import io.vertx.core.Vertx;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd reads its TLS files again while it runs ({@link TlsReload}): a renewed server certificate
 * is what new connections get (also found by the periodic look), a renewed client certificate is what a remote store's calls use
 * from then on, files that fail the check (a key that is not the certificate's) change nothing,
 * and SIGHUP does it in a running jipamd, which no longer exits on it.
 */
@Timeout(120)
class TlsReloadIT {
  @TempDir static Path shared;
  static TestCerts certs;
  static Vertx vertx;
  static final Pool POOL = IpamServerTest.pool("reload", "198.18.5.0/24");

  @TempDir Path dir;

  @BeforeAll
  static void makeCerts() throws Exception {
    certs = TestCerts.make(shared).loopbackServer("renewed", "ca").ca("operator-ca").ca("operator-ca-2")
        .client("admin", "operator-ca").client("admin-2", "operator-ca-2");
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void close() {
    if (vertx != null) {
      vertx.close();
    }
  }

  @Test
  void reloadIfChanged_serverCertificateRenewedThenABadPair_newConnectionsGetTheRenewedOneBadPairChangesNothing()
      throws Exception {
    Path cert = dir.resolve("tls.crt");
    Path key = dir.resolve("tls.key");
    installPair("server", cert, key);
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    IpamServer.Settings settings = IpamServer.Settings.unix(dir.resolve("s.sock"))
        .withTcp("127.0.0.1", 0, false, cert, key, certs.pem("ca"));
    try (IpamServer server = IpamServer.start(MemoryStores.open(), settings, CallLog.quiet());
        TlsReload reload = TlsReload.of(server, settings, CallerIdentity.noOperatorCa(), null, null,
            new CallLog(new PrintStream(logged, true, StandardCharsets.UTF_8), false), Clock.systemUTC());
        RemoteStore client = client(server.tcpPort(), certs.pem("client"), certs.key("client"))) {
      assertEquals(serial("server"), servedSerial(server.tcpPort()));
      assertFalse(reload.reloadIfChanged(), "nothing changed yet");

      installPair("renewed", cert, key);
      assertTrue(reload.reloadIfChanged());
      assertEquals(serial("renewed"), servedSerial(server.tcpPort()));
      assertInstanceOf(AllocationOutcome.Allocated.class, allocate(client, "a1"));

      install(certs.pem("server"), cert); // half a renewal: the other certificate beside the renewed key
      assertTrue(reload.reloadIfChanged());
      String log = logged.toString(StandardCharsets.UTF_8);
      assertTrue(log.contains("TLS files not reloaded (changed): --tls-key \"" + key + "\" is not the key of --tls-cert \""
          + cert + "\"") && log.contains("the previous ones stay in use"), log);
      assertEquals(serial("renewed"), servedSerial(server.tcpPort()), "the previous files stay in use");
      assertInstanceOf(AllocationOutcome.Allocated.class, allocate(client, "a2"));
      assertTrue(reload.reloadIfChanged(), "a set that failed is tried again at every look");
      assertEquals(2, logged.toString(StandardCharsets.UTF_8).split("TLS files not reloaded", -1).length - 1);

      // the renewal completed (to the other pair), taken by the periodic look
      reload.start(Duration.ofMillis(50));
      install(certs.key("server"), key);
      Await.until(() -> serial("server").equals(servedSerial(server.tcpPort())), Duration.ofSeconds(30),
          () -> logged.toString(StandardCharsets.UTF_8));
      assertFalse(reload.reloadIfChanged(), "taken: nothing left to look at again");
    }
  }

  @Test
  void reload_clientCertificateReplaced_callsUseTheNewOneAndABadPairChangesNothing() throws Exception {
    Path cert = dir.resolve("client.crt");
    Path key = dir.resolve("client.key");
    installPair("client", cert, key);
    IpamServer.Settings settings = IpamServer.Settings.unix(dir.resolve("c.sock"))
        .withTcp("127.0.0.1", 0, false, certs.pem("server"), certs.key("server"), certs.pem("ca"));
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    RemoteStore.Tls files = new RemoteStore.Tls(certs.pem("ca"), cert, key);
    try (IpamServer server = IpamServer.start(MemoryStores.open(), settings, CallLog.quiet());
        RemoteStore client = client(server.tcpPort(), cert, key);
        TlsReload reload = TlsReload.of(null, settings, CallerIdentity.noOperatorCa(),
            client.capability(ReloadsTls.class).orElseThrow(), files,
            new CallLog(new PrintStream(logged, true, StandardCharsets.UTF_8), false), Clock.systemUTC())) {
      assertInstanceOf(AllocationOutcome.Allocated.class, allocate(client, "c1"));

      // a certificate of a CA the server does not trust: refused, so the calls did take it
      installPair("stranger", cert, key);
      assertTrue(reload.reload("test"));
      IpamException refused = assertThrows(IpamException.class, () -> allocate(client, "c2"));
      assertEquals(ErrorCode.TRY_AGAIN_LATER, refused.code(), refused.getMessage());

      installPair("client", cert, key);
      assertTrue(reload.reload("test"));
      assertInstanceOf(AllocationOutcome.Allocated.class, allocate(client, "c3"));

      install(certs.key("stranger"), key); // not the key of the certificate: nothing changes
      assertFalse(reload.reload("test"));
      String log = logged.toString(StandardCharsets.UTF_8);
      assertTrue(log.contains("TLS files not reloaded (test): --remote-key \"" + key + "\" is not the key of"), log);
      assertInstanceOf(AllocationOutcome.Allocated.class, allocate(client, "c4"));
    }
  }

  /**
   * The operator CA renewed: a certificate of the new CA is trusted and an operator (Audit, an
   * operator's method, runs), one of the old CA no longer gets a connection, and a node's
   * certificate stays a node (refused).
   */
  @Test
  void reload_operatorCaReplaced_newCasCertificatesAreOperatorsOldOnesRefused() throws Exception {
    Path operatorCa = dir.resolve("operator-ca.pem");
    install(certs.pem("operator-ca"), operatorCa);
    IpamServer.Settings settings = IpamServer.Settings.unix(dir.resolve("o.sock"))
        .withTcp("127.0.0.1", 0, false, certs.pem("server"), certs.key("server"), certs.pem("ca"));
    CallerIdentity identity = CallerIdentity.withOperatorCa(operatorCa);
    try (IpamServer server = IpamServer.start(io.jipam.server.pools.NodeStores.single(MemoryStores.open()), identity,
        settings, CallLog.quiet(), null, 0);
        TlsReload reload = TlsReload.of(server, settings, identity, null, null, CallLog.quiet(), Clock.systemUTC());
        RemoteStore admin = client(server.tcpPort(), certs.pem("admin"), certs.key("admin"));
        RemoteStore node = client(server.tcpPort(), certs.pem("client"), certs.key("client"))) {
      assertInstanceOf(AllocationOutcome.Allocated.class, allocate(node, "o1"));
      admin.audit(POOL);
      install(certs.pem("operator-ca-2"), operatorCa);
      assertTrue(reload.reloadIfChanged());
      try (RemoteStore admin2 = client(server.tcpPort(), certs.pem("admin-2"), certs.key("admin-2"));
          RemoteStore oldAdmin = client(server.tcpPort(), certs.pem("admin"), certs.key("admin"))) {
        admin2.audit(POOL);
        assertEquals(ErrorCode.TRY_AGAIN_LATER, assertThrows(IpamException.class, () -> oldAdmin.audit(POOL)).code(),
            "the old operator CA is no longer trusted");
      }
      assertEquals(ErrorCode.PERMISSION_DENIED, assertThrows(IpamException.class, () -> node.audit(POOL)).code());
    }
  }

  @Test
  void sighup_runningJipamd_readsItsTlsFilesAgainAndKeepsServing() throws Exception {
    Path cert = dir.resolve("tls.crt");
    Path key = dir.resolve("tls.key");
    installPair("server", cert, key);
    try (JipamdProcess tls = ServerJipamd.start(dir, "--store", "memory", "--socket", dir.resolve("t.sock").toString(),
        "--listen", "127.0.0.1:0", "--tls-cert", cert.toString(), "--tls-key", key.toString(), "--client-ca",
        certs.pem("ca").toString());
        JipamdProcess plain = ServerJipamd.start(dir, "--store", "memory", "--socket",
            dir.resolve("p.sock").toString())) {
      installPair("renewed", cert, key);
      for (JipamdProcess jipamd : new JipamdProcess[] {tls, plain}) {
        new ProcessBuilder("kill", "-HUP", Long.toString(jipamd.pid())).start().waitFor();
      }
      Await.until(() -> tls.output().contains("TLS files reloaded (SIGHUP)"), Duration.ofSeconds(30), tls::output);
      Await.until(() -> plain.output().contains("TLS files not reloaded (SIGHUP): jipamd uses none for its listener or a central jipamd"),
          Duration.ofSeconds(30), plain::output);
      assertEquals(serial("renewed"), servedSerial(tls.tcpPort()));
      assertTrue(tls.isAlive() && plain.isAlive(), "SIGHUP does not stop jipamd");
      assertEquals(0, tls.stop(), tls.output());
      assertEquals(0, plain.stop(), plain.output());
    }
  }

  /** Certificate {@code name} and its key as {@code cert} and {@code key}, one file after the other. */
  private static void installPair(String name, Path cert, Path key) throws Exception {
    install(certs.pem(name), cert);
    install(certs.key(name), key);
  }

  private static void install(Path from, Path to) throws Exception {
    Path next = to.resolveSibling(to.getFileName() + ".new");
    Files.copy(from, next, StandardCopyOption.REPLACE_EXISTING);
    Files.move(next, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static RemoteStore client(int port, Path cert, Path key) {
    return RemoteStore.connect(RemoteStore.Target.parse("127.0.0.1:" + port)
        .withTls(new RemoteStore.Tls(certs.pem("ca"), cert, key)).withTimeout(Duration.ofSeconds(3)));
  }

  private static AllocationOutcome allocate(RemoteStore store, String id) {
    return store.allocate(POOL, AllocationRequest.of(new Attachment(id, "eth0")));
  }

  private static BigInteger serial(String name) throws Exception {
    try (var in = Files.newInputStream(certs.pem(name))) {
      return ((X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in))
          .getSerialNumber();
    }
  }

  /** The serial of the certificate the listener on {@code port} presents to a new connection. */
  private static BigInteger servedSerial(int port) throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(new PemKeyCertOptions().setCertPath(certs.pem("client").toString())
        .setKeyPath(certs.key("client").toString()).getKeyManagerFactory(vertx).getKeyManagers(),
        new TrustManager[] {new AnyServer()}, null);
    try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port)) {
      socket.startHandshake();
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }

  /** Takes any server certificate: these tests read which one is presented, not whether it is trusted. */
  private static final class AnyServer implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
