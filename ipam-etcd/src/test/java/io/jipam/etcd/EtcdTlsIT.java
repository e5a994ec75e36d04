package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import java.nio.file.Path;
import io.jipam.testkit.TestCerts;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * etcd serving https and requiring client certificates (certificates made with openssl): the
 * store verifies the server's certificate against its CA, and etcd the store's.
 */
class EtcdTlsIT {
  @TempDir static Path certs;
  private static Etcd cluster;

  @BeforeAll
  static void start() throws Exception {
    TestCerts.make(certs);
    cluster = Etcd.builder().tls(certs).start();
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void allocate_tlsWithClientCertificate_succeeds() {
    EtcdStoreConfig config = EtcdStoreConfig.fromJson(Map.of("endpoints", cluster.endpoints(), "node", "t",
        "tls", Map.of("ca", certs.resolve("ca.pem").toString(), "cert", certs.resolve("client.pem").toString(),
            "key", certs.resolve("client.key").toString())));
    try (EtcdStore store = EtcdStores.open(config)) {
      AllocationOutcome out = store.allocate(EtcdStoreIT.pool("tls", "198.18.0.0/24"),
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
          EtcdStoreIT.pool("tls", "198.18.0.0/24"), AllocationRequest.of(new Attachment("c2", "eth0"))));
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
          EtcdStoreIT.pool("tls", "198.18.0.0/24"), AllocationRequest.of(att)));
      // the client does not trust the server: the store is unreachable for it, code 11
      assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
    }
    EtcdStoreConfig trusted = EtcdStoreConfig.fromJson(Map.of("endpoints", cluster.endpoints(), "node", "t",
        "tls", Map.of("ca", certs.resolve("ca.pem").toString(), "cert", certs.resolve("client.pem").toString(),
            "key", certs.resolve("client.key").toString())));
    try (EtcdStore store = EtcdStores.open(trusted)) {
      assertTrue(store.find(EtcdStoreIT.pool("tls", "198.18.0.0/24"), att).isEmpty(), "c3 was not allocated");
    }
  }
}
