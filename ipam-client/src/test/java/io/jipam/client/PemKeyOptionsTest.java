package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.testkit.Exec;
import io.jipam.testkit.TestCerts;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.PemKeyCertOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PemKeyOptions} against Vert.x's {@link PemKeyCertOptions} on the same files: the same key
 * and chain, and the same alias decisions for every key type and issuer list a TLS peer may give;
 * material it does not read itself (a PKCS#1 key, bytes that are no key) gets Vert.x's answers.
 */
class PemKeyOptionsTest {
  @TempDir static Path dir;
  private static TestCerts certs;
  private static Vertx vertx;

  private static final List<String> KEY_TYPES = List.of("EC", "RSA", "EC_EC", "EC_RSA", "RSA_RSA", "RSA_EC",
      "RSASSA-PSS", "EdDSA", "DSA");

  @BeforeAll
  static void make() throws Exception {
    certs = TestCerts.make(dir).intermediate("sub-ca", "ca").ca("lone-ca");
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.pem", "-days", "2",
        "-subj", "/CN=rsa-self");
    openssl("pkey", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.key");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "leaf.key",
        "-out", "leaf.csr", "-subj", "/CN=leaf");
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "sub-ca.pem", "-CAkey", "sub-ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2");
    certs.chain("leaf", "sub-ca");
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void close() {
    if (vertx != null) {
      vertx.close();
    }
  }

  private static void openssl(String... args) {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Exec.run(dir, command, null, new byte[0], Duration.ofSeconds(60)).ok();
  }

  private static byte[] read(String file) throws Exception {
    return Files.readAllBytes(dir.resolve(file));
  }

  private static X509KeyManager vertxManager(byte[] cert, byte[] key) throws Exception {
    for (KeyManager m : new PemKeyCertOptions().setCertValue(Buffer.buffer(cert)).setKeyValue(Buffer.buffer(key))
        .getKeyManagerFactory(vertx).getKeyManagers()) {
      if (m instanceof X509KeyManager x) {
        return x;
      }
    }
    throw new AssertionError("Vert.x gave no X.509 key manager");
  }

  private static Principal subject(String pem) throws Exception {
    return ((X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(Files.newInputStream(dir.resolve(pem)))).getSubjectX500Principal();
  }

  @Test
  void keyManager_pkcs8KeysAndChains_sameKeyChainAndAliasDecisionsAsVertx() throws Exception {
    Map<String, String[]> material = Map.of(
        "EC leaf of a CA", new String[] {"client.pem", "client.key"},
        "RSA self-signed", new String[] {"rsa.pem", "rsa.key"},
        "EC leaf with its intermediate", new String[] {"leaf-chain.pem", "leaf.key"});
    List<Principal[]> issuerLists = new ArrayList<>();
    issuerLists.add(null);
    issuerLists.add(new Principal[0]);
    issuerLists.add(new Principal[] {subject("ca.pem")});
    issuerLists.add(new Principal[] {subject("sub-ca.pem")});
    issuerLists.add(new Principal[] {subject("lone-ca.pem"), subject("other-ca.pem")});
    issuerLists.add(new Principal[] {subject("rsa.pem")});
    for (Map.Entry<String, String[]> m : material.entrySet()) {
      byte[] cert = read(m.getValue()[0]);
      byte[] key = read(m.getValue()[1]);
      X509KeyManager theirs = vertxManager(cert, key);
      X509KeyManager ours = PemKeyOptions.of(cert, key).keyManager(vertx);
      String theirAlias = theirs.getServerAliases(ours.getPrivateKey("jipam").getAlgorithm(), null)[0];
      assertArrayEquals(theirs.getCertificateChain(theirAlias), ours.getCertificateChain("jipam"), m.getKey());
      assertEquals(theirs.getPrivateKey(theirAlias), ours.getPrivateKey("jipam"), m.getKey());
      for (String type : KEY_TYPES) {
        for (Principal[] issuers : issuerLists) {
          String what = m.getKey() + ", key type " + type + ", issuers " + (issuers == null ? null : List.of(issuers));
          assertEquals(theirs.getServerAliases(type, issuers) != null, ours.getServerAliases(type, issuers) != null, what);
          assertEquals(theirs.getClientAliases(type, issuers) != null, ours.getClientAliases(type, issuers) != null, what);
          assertEquals(theirs.chooseServerAlias(type, issuers, null) != null,
              ((X509ExtendedKeyManager) ours).chooseEngineServerAlias(type, issuers, null) != null, what);
          assertEquals(theirs.chooseClientAlias(new String[] {"DSA", type}, issuers, null) != null,
              ((X509ExtendedKeyManager) ours).chooseEngineClientAlias(new String[] {"DSA", type}, issuers, null) != null,
              what);
        }
      }
    }
  }

  @Test
  void keyManager_pkcs1Key_readByVertxAsBefore() throws Exception {
    byte[] cert = read("rsa.pem");
    byte[] key = read("rsa-pkcs1.key");
    X509KeyManager ours = PemKeyOptions.of(cert, key).keyManager(vertx);
    X509KeyManager theirs = vertxManager(cert, key);
    String alias = ours.getServerAliases("RSA", null)[0];
    assertEquals(theirs.getPrivateKey(theirs.getServerAliases("RSA", null)[0]), ours.getPrivateKey(alias));
  }

  @Test
  void keyManager_files_sameAsTheirBytes() throws Exception {
    X509KeyManager files = PemKeyOptions.ofFiles(dir.resolve("client.pem").toString(),
        dir.resolve("client.key").toString()).keyManager(vertx);
    assertEquals(PemKeyOptions.of(read("client.pem"), read("client.key")).keyManager(vertx).getPrivateKey("jipam"),
        files.getPrivateKey("jipam"));
    assertNotNull(PemKeyOptions.ofFiles(dir.resolve("client.pem").toString(), dir.resolve("client.key").toString())
        .getKeyManagerFactory(vertx));
  }

  @Test
  void keyManager_unreadableMaterial_vertxsErrorAsBefore() throws Exception {
    byte[] notAKey = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
        .getBytes(StandardCharsets.US_ASCII);
    List<byte[][]> rows = List.of(
        new byte[][] {read("client.pem"), notAKey},
        new byte[][] {"no certificate".getBytes(StandardCharsets.US_ASCII), read("client.key")},
        new byte[][] {read("client.pem"), new byte[0]});
    for (byte[][] row : rows) {
      Exception theirs = assertThrows(Exception.class, () -> vertxManager(row[0], row[1]));
      Exception ours = assertThrows(Exception.class, () -> PemKeyOptions.of(row[0], row[1]).keyManager(vertx));
      assertEquals(theirs.getClass(), ours.getClass());
      assertEquals(theirs.getMessage(), ours.getMessage());
    }
    Path missing = dir.resolve("missing.pem");
    assertThrows(Exception.class, () -> PemKeyOptions.ofFiles(missing.toString(), missing.toString()).keyManager(vertx));
  }
}
