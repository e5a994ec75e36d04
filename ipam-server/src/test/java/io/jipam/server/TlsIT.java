package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.testkit.TestCerts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd on TCP with mutual TLS: a client with a certificate from the configured CA is served;
 * no certificate, one from another CA, an expired one, or plain TCP are refused before any call
 * runs (the store sees nothing). Without TLS, TCP needs --insecure.
 */
@Timeout(120)
class TlsIT {
  @TempDir static Path dir;
  static TestCerts certs;
  static IpamServer server;
  static String address;
  static final Pool POOL = IpamServerTest.pool("tls", "198.18.3.0/24");

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.make(dir);
    server = IpamServer.start(MemoryStores.open(), IpamServer.Settings.unix(dir.resolve("tls.sock"))
        .withTcp("127.0.0.1", 0, false, certs.pem("server"), certs.key("server"), certs.pem("ca")), CallLog.quiet());
    address = "127.0.0.1:" + server.tcpPort();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  static RemoteStore client(RemoteStore.Tls tls) {
    return RemoteStore.connect(RemoteStore.Target.parse(address).withTls(tls).withTimeout(Duration.ofSeconds(3)));
  }

  @Test
  void allocate_clientCertificateFromTheCa_served() {
    try (RemoteStore store = client(new RemoteStore.Tls(certs.pem("ca"), certs.pem("client"), certs.key("client")))) {
      AllocationOutcome out = store.allocate(POOL, AllocationRequest.of(new Attachment("tls1", "eth0")));
      assertInstanceOf(AllocationOutcome.Allocated.class, out);
    }
  }

  @Test
  void call_refusedClients_failAndNothingRuns() {
    List<RemoteStore.Tls> refused = List.of(
        new RemoteStore.Tls(certs.pem("ca"), null, null),
        new RemoteStore.Tls(certs.pem("ca"), certs.pem("stranger"), certs.key("stranger")),
        new RemoteStore.Tls(certs.pem("ca"), certs.pem("expired"), certs.key("expired")));
    for (RemoteStore.Tls tls : refused) {
      try (RemoteStore store = client(tls)) {
        IpamException e = assertThrows(IpamException.class,
            () -> store.allocate(IpamServerTest.pool("refused", "198.18.4.0/24"),
                AllocationRequest.of(new Attachment("x", "eth0"))), String.valueOf(tls.certFile()));
        assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("over mutual TLS, jipamd closes the connection of a client certificate it"
            + " does not trust") || e.getMessage().contains("the TLS handshake failed: "), e.getMessage());
      }
    }
    try (RemoteStore wrongCa = client(new RemoteStore.Tls(certs.pem("other-ca"), certs.pem("client"),
        certs.key("client")))) {
      IpamException e = assertThrows(IpamException.class, () -> wrongCa.list(IpamServerTest.pool("refused",
          "198.18.4.0/24")));
      assertTrue(e.getMessage().contains("the TLS handshake failed: ")
          && e.getMessage().contains("signed by the CA this client trusts"), e.getMessage());
    }
    try (RemoteStore plain = RemoteStore.connect(RemoteStore.Target.parse(address).withTimeout(Duration.ofSeconds(3)))) {
      assertThrows(IpamException.class, () -> plain.list(IpamServerTest.pool("refused", "198.18.4.0/24")));
    }
    try (RemoteStore store = client(new RemoteStore.Tls(certs.pem("ca"), certs.pem("client"), certs.key("client")))) {
      assertTrue(store.pools().stream().noneMatch(p -> p.pool().name().equals("refused")),
          "no refused call reached the service");
    }
  }

  /**
   * A central jipamd found by its Service's IP while its certificate names the Service: the client
   * connects to the given IP and verifies the name. The IP alone (the certificate has no IP), or
   * another name at that IP, fails the handshake.
   */
  @Test
  void connectTo_nameAtAGivenAddress_servedAndTheNameStillVerified() throws Exception {
    certs.server("named", "jipamd.jipam.test", "ca");
    IpamServer named = IpamServer.start(MemoryStores.open(), IpamServer.Settings.unix(dir.resolve("named.sock"))
        .withTcp("127.0.0.1", 0, false, certs.pem("named"), certs.key("named"), certs.pem("ca")), CallLog.quiet());
    RemoteStore.Tls tls = new RemoteStore.Tls(certs.pem("ca"), certs.pem("client"), certs.key("client"));
    try {
      int port = named.tcpPort();
      try (RemoteStore store = RemoteStore.connect(RemoteStore.Target.parse("jipamd.jipam.test:" + port)
          .withTls(tls).withConnectTo("127.0.0.1").withTimeout(Duration.ofSeconds(3)))) {
        assertInstanceOf(AllocationOutcome.Allocated.class,
            store.allocate(POOL, AllocationRequest.of(new Attachment("named1", "eth0"))));
      }
      for (RemoteStore.Target refused : List.of(RemoteStore.Target.parse("127.0.0.1:" + port),
          RemoteStore.Target.parse("other.jipam.test:" + port).withConnectTo("127.0.0.1"))) {
        try (RemoteStore store = RemoteStore.connect(refused.withTls(tls).withTimeout(Duration.ofSeconds(3)))) {
          IpamException e = assertThrows(IpamException.class, () -> store.allocate(POOL,
              AllocationRequest.of(new Attachment("named2", "eth0"))), refused.text());
          assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), refused.text() + ": " + e.getMessage());
        }
      }
    } finally {
      named.close();
    }
    for (String[] bad : new String[][] {{"jipamd.jipam.test:1", "10.96.0.300"}, {"jipamd.jipam.test:1", "$(JIPAMD_SERVICE_HOST)"},
        {"127.0.0.1:1", "10.0.0.1"}, {"unix:/x.sock", "10.0.0.1"}}) {
      IpamException e = assertThrows(IpamException.class, () -> RemoteStore.Target.parse(bad[0]).withConnectTo(bad[1]));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains("\"" + bad[1] + "\""), e.getMessage());
    }
  }

  @Test
  void settings_tcpWithoutTls_refusedUnlessInsecure() {
    IpamException e = assertThrows(IpamException.class,
        () -> IpamServer.Settings.unix(dir.resolve("x.sock")).withTcp("127.0.0.1", 0, false, null, null, null));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().contains("--insecure"), e.getMessage());
    IpamServer.Settings.unix(dir.resolve("x.sock")).withTcp("127.0.0.1", 0, true, null, null, null);
  }

  @Test
  void jipamctl_tlsRefusedEitherWay_saysTlsHandshakeRefusedWithReason() {
    String[][] cases = {
        {"--ca", certs.pem("ca").toString(), "--cert", certs.pem("stranger").toString(), "--key",
            certs.key("stranger").toString()},
        {"--ca", certs.pem("ca").toString()},
        {"--ca", certs.pem("other-ca").toString(), "--cert", certs.pem("client").toString(), "--key",
            certs.key("client").toString()}};
    for (String[] tls : cases) {
      List<String> args = new java.util.ArrayList<>(List.of("--server", address, "--timeout", "2"));
      args.addAll(List.of(tls));
      args.add("pools");
      CtlRun r = CtlRun.of(args.toArray(new String[0]));
      assertEquals(1, r.exit(), r::toString);
      assertTrue(r.err().startsWith("jipamctl: IO_FAILURE (CNI 5): TLS handshake refused: "), r::toString);
      assertTrue(!r.err().contains("no jipamd answers") && !r.err().contains("refused: null")
          && r.err().lines().count() == 1, r::toString);
    }
  }

  /**
   * The listener's TLS files are checked before anything is bound, naming the file: a key that is
   * not the certificate's, an expired certificate, a certificate file that is not one, and a CA
   * file that holds none. Each started a jipamd that said ready and failed every handshake, or
   * failed after binding the socket, in a message naming no file.
   */
  @Test
  void start_tlsFilesThatCannotServe_exitTwoNamingTheFileNothingBound() throws Exception {
    Path garbage = java.nio.file.Files.writeString(certs.dir.resolve("garbage.pem"), "not a certificate\n");
    // the client CA again in the operator CA file: every node certificate would be an operator's
    Path both = java.nio.file.Files.writeString(certs.dir.resolve("both-cas.pem"),
        java.nio.file.Files.readString(certs.pem("other-ca")) + java.nio.file.Files.readString(certs.pem("ca")));
    record Case(Path cert, Path key, Path ca, Path operatorCa, String says) {}
    for (Case c : List.of(
        new Case(certs.pem("server"), certs.key("client"), null, null, "is not the key of --tls-cert"),
        new Case(certs.pem("expired"), certs.key("expired"), null, null, "is not valid now"),
        new Case(garbage, certs.key("server"), null, null, "cannot be read"),
        new Case(certs.pem("server"), certs.key("server"), garbage, null, "--client-ca \"" + garbage),
        new Case(certs.pem("server"), certs.key("server"), certs.pem("ca"), both,
            "--operator-ca \"" + both + "\" and --client-ca \"" + certs.pem("ca") + "\" both hold the CA"))) {
      List<String> args = new java.util.ArrayList<>(List.of("--store", "memory", "--no-socket", "--listen",
          "127.0.0.1:0", "--tls-cert", c.cert().toString(), "--tls-key", c.key().toString()));
      if (c.ca() != null) {
        args.addAll(List.of("--client-ca", c.ca().toString()));
      }
      if (c.operatorCa() != null) {
        args.addAll(List.of("--operator-ca", c.operatorCa().toString()));
      }
      java.io.StringWriter out = new java.io.StringWriter();
      java.io.StringWriter err = new java.io.StringWriter();
      // a start, not --check-config (which does not read the files: they may be a pod's secrets);
      // refused before anything is bound, so it returns
      int exit = Jipamd.run(args.toArray(String[]::new), java.util.Map.of(), new java.io.PrintWriter(out, true),
          new java.io.PrintWriter(err, true));
      assertEquals(2, exit, c + ": " + out + err);
      assertTrue(err.toString().contains(c.says()) && err.toString().strip().lines().count() == 1, c + ": " + err);
    }
  }

  /**
   * A node jipamd's files for the central one are checked at start as the listener's are (and as a
   * reload checks renewed ones): a key that is not the certificate's, or a CA file that holds no
   * certificate, refuses the start naming the file, instead of failing every call later.
   */
  @Test
  void start_remoteTlsFilesThatCannotServe_exitTwoNamingTheFile() throws Exception {
    Path garbage = java.nio.file.Files.writeString(certs.dir.resolve("garbage-ca.pem"), "not a certificate\n");
    record Case(Path ca, Path cert, Path key, String says) {}
    for (Case c : List.of(
        new Case(certs.pem("ca"), certs.pem("client"), certs.key("server"), "--remote-key \"" + certs.key("server")
            + "\" is not the key of --remote-cert"),
        new Case(garbage, certs.pem("client"), certs.key("client"), "--remote-ca \"" + garbage))) {
      String[] args = {"--store", "remote", "--remote", "127.0.0.1:1", "--node-name", "node-a", "--socket",
          dir.resolve("remote-check.sock").toString(), "--remote-ca", c.ca().toString(), "--remote-cert",
          c.cert().toString(), "--remote-key", c.key().toString()};
      java.io.StringWriter out = new java.io.StringWriter();
      java.io.StringWriter err = new java.io.StringWriter();
      int exit = Jipamd.run(args, java.util.Map.of(), new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true));
      assertEquals(2, exit, c + ": " + out + err);
      assertTrue(err.toString().contains(c.says()) && err.toString().strip().lines().count() == 1, c + ": " + err);
      assertTrue(!java.nio.file.Files.exists(dir.resolve("remote-check.sock")), "nothing bound");
    }
  }
}
