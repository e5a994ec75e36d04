package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * etcd serving https and requiring client certificates (certificates made with openssl): the
 * store verifies the server's certificate against its CA, and etcd the store's.
 */
class EtcdTlsTest {
  private static Path certs;
  private static EtcdCluster cluster;

  @BeforeAll
  static void start() throws Exception {
    certs = Files.createTempDirectory("jipam-etcd-tls");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=jipam-test-ca");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=jipam-test-other-ca");
    Files.writeString(certs.resolve("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    Files.writeString(certs.resolve("client.ext"), "extendedKeyUsage=clientAuth\n");
    for (String who : List.of("server", "client")) {
      openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
          who + ".key", "-out", who + ".csr", "-subj", "/CN=" + who);
      openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
          "-out", who + ".pem", "-days", "2", "-extfile", who + ".ext");
    }
    cluster = EtcdCluster.start(1, certs);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static void openssl(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(certs.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException("openssl " + String.join(" ", args) + ": " + out);
    }
  }

  @Test
  void allocate_tlsWithClientCertificate_succeeds() {
    EtcdStoreConfig config = EtcdStoreConfig.fromJson(Map.of("endpoints", cluster.endpoints(), "node", "t",
        "tls", Map.of("ca", certs.resolve("ca.pem").toString(), "cert", certs.resolve("client.pem").toString(),
            "key", certs.resolve("client.key").toString())));
    try (EtcdStore store = EtcdStores.open(config)) {
      AllocationOutcome out = store.allocate(EtcdStoreTest.pool("tls", "198.18.0.0/24"),
          AllocationRequest.of(new Attachment("c1", "eth0")));
      assertEquals("198.18.0.2", assertInstanceOf(AllocationOutcome.Allocated.class, out)
          .allocations().get(0).address().toString());
    }
  }

  @Test
  void allocate_tlsWithoutClientCertificate_failsWithinTimeout() {
    EtcdStoreConfig config = EtcdStoreConfig.of(cluster.endpoints(), "t")
        .withTls(new EtcdStoreConfig.Tls(certs.resolve("ca.pem"), null, null))
        .withTimeout(Duration.ofMillis(800));
    try (EtcdStore store = EtcdStores.open(config)) {
      long start = System.nanoTime();
      IpamException e = assertThrows(IpamException.class, () -> store.allocate(
          EtcdStoreTest.pool("tls", "198.18.0.0/24"), AllocationRequest.of(new Attachment("c2", "eth0"))));
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(millis < 800 + 1500, "took " + millis + " ms: " + e);
      // the server refuses the handshake: the store is unreachable for this client, code 11
      assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
    }
  }

  @Test
  void allocate_serverCertificateNotFromTrustedCa_refusedAndNothingWritten() {
    EtcdStoreConfig stranger = EtcdStoreConfig.fromJson(Map.of("endpoints", cluster.endpoints(), "node", "t",
        "timeoutMillis", 800,
        "tls", Map.of("ca", certs.resolve("other-ca.pem").toString(), "cert", certs.resolve("client.pem").toString(),
            "key", certs.resolve("client.key").toString())));
    Attachment att = new Attachment("c3", "eth0");
    try (EtcdStore store = EtcdStores.open(stranger)) {
      IpamException e = assertThrows(IpamException.class, () -> store.allocate(
          EtcdStoreTest.pool("tls", "198.18.0.0/24"), AllocationRequest.of(att)));
      // the client does not trust the server: the store is unreachable for it, code 11
      assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
    }
    EtcdStoreConfig trusted = EtcdStoreConfig.fromJson(Map.of("endpoints", cluster.endpoints(), "node", "t",
        "tls", Map.of("ca", certs.resolve("ca.pem").toString(), "cert", certs.resolve("client.pem").toString(),
            "key", certs.resolve("client.key").toString())));
    try (EtcdStore store = EtcdStores.open(trusted)) {
      assertTrue(store.find(EtcdStoreTest.pool("tls", "198.18.0.0/24"), att).isEmpty(), "c3 was not allocated");
    }
  }
}
