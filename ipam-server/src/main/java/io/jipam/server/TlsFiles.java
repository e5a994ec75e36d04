package io.jipam.server;

import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.vertx.core.Vertx;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Date;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509KeyManager;

/**
 * The TLS files of jipamd's TCP listener, checked before anything is bound: read as Vert.x reads
 * them, the key must be the certificate's (a signature made with it verifies with the
 * certificate's public key), the certificate valid now, and each CA file a certificate. Without
 * this, a mismatched key or an expired certificate started a jipamd that logged ready and failed
 * every handshake, and an unreadable file was found only after the socket and the metrics port
 * were bound, in a message that named no file. Stateless.
 */
final class TlsFiles {
  private TlsFiles() {}

  /**
   * The TCP listener's files: {@code --tls-cert}, {@code --tls-key}, and the CA files when given.
   *
   * @throws IpamException INVALID_CONFIG naming the file and what is wrong with it
   */
  static void check(Path cert, Path key, Path clientCa, Path operatorCa, Clock clock) {
    Vertx vertx = Vertx.vertx();
    try {
      check(vertx, "--tls-cert", cert, "--tls-key", key, clock);
      checkCa(vertx, "--client-ca", clientCa);
      checkCa(vertx, "--operator-ca", operatorCa);
    } finally {
      vertx.close();
    }
  }

  /**
   * A remote store's files: {@code --remote-cert} and {@code --remote-key} when given, and {@code
   * --remote-ca} when given.
   *
   * @throws IpamException INVALID_CONFIG naming the file and what is wrong with it
   */
  static void checkRemote(Path ca, Path cert, Path key, Clock clock) {
    Vertx vertx = Vertx.vertx();
    try {
      if (cert != null) {
        check(vertx, "--remote-cert", cert, "--remote-key", key, clock);
      }
      checkCa(vertx, "--remote-ca", ca);
    } finally {
      vertx.close();
    }
  }

  /**
   * A certificate and its key, each named by the option that gives it: readable, the key the
   * certificate's, the certificate valid now.
   */
  private static void check(Vertx vertx, String certOption, Path cert, String keyOption, Path key, Clock clock) {
    KeyManagerFactory factory;
    try {
      factory = new PemKeyCertOptions().setCertPath(cert.toString()).setKeyPath(key.toString())
          .getKeyManagerFactory(vertx);
    } catch (Exception e) {
      throw IpamException.invalidConfig("%s %s and %s %s cannot be read: %s", certOption, quote(cert), keyOption,
          quote(key), reason(e));
    }
    X509KeyManager keys = null;
    for (KeyManager m : factory.getKeyManagers()) {
      if (m instanceof X509KeyManager x) {
        keys = x;
      }
    }
    String alias = keys == null ? null : firstAlias(keys);
    if (alias == null) {
      throw IpamException.invalidConfig("%s %s and %s %s hold no key and certificate", certOption, quote(cert),
          keyOption, quote(key));
    }
    X509Certificate[] chain = keys.getCertificateChain(alias);
    PrivateKey privateKey = keys.getPrivateKey(alias);
    if (chain == null || chain.length == 0 || privateKey == null) {
      throw IpamException.invalidConfig("%s %s and %s %s hold no key and certificate", certOption, quote(cert),
          keyOption, quote(key));
    }
    if (!matches(privateKey, chain[0])) {
      throw IpamException.invalidConfig("%s %s is not the key of %s %s (%s)", keyOption, quote(key), certOption,
          quote(cert), Printable.quote(chain[0].getSubjectX500Principal().getName()));
    }
    try {
      chain[0].checkValidity(Date.from(clock.instant()));
    } catch (CertificateExpiredException | CertificateNotYetValidException e) {
      throw IpamException.invalidConfig("%s %s is not valid now: valid from %s to %s", certOption, quote(cert),
          chain[0].getNotBefore().toInstant(), chain[0].getNotAfter().toInstant());
    }
  }

  /** A CA file, named by the option that gives it, readable as certificates; nothing to check when null. */
  private static void checkCa(Vertx vertx, String option, Path ca) {
    if (ca == null) {
      return;
    }
    try {
      new PemTrustOptions().addCertPath(ca.toString()).getTrustManagerFactory(vertx);
    } catch (Exception e) {
      throw IpamException.invalidConfig("%s %s cannot be read as certificates: %s", option, quote(ca), reason(e));
    }
  }

  private static String firstAlias(X509KeyManager keys) {
    for (String type : new String[] {"RSA", "EC", "EdDSA", "Ed25519", "DSA"}) {
      String[] aliases = keys.getServerAliases(type, null);
      if (aliases != null && aliases.length > 0) {
        return aliases[0];
      }
    }
    return null;
  }

  /** Whether {@code key} signs what {@code cert}'s public key verifies. */
  private static boolean matches(PrivateKey key, X509Certificate cert) {
    String algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "EdDSA", "Ed25519" -> "Ed25519";
      case "DSA" -> "SHA256withDSA";
      default -> null;
    };
    if (algorithm == null) {
      return true; // a kind this check does not know: the handshake will tell
    }
    try {
      byte[] probe = "jipamd key check".getBytes(StandardCharsets.US_ASCII);
      Signature sign = Signature.getInstance(algorithm);
      sign.initSign(key);
      sign.update(probe);
      byte[] signature = sign.sign();
      Signature verify = Signature.getInstance(algorithm);
      verify.initVerify(cert.getPublicKey());
      verify.update(probe);
      return verify.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static String quote(Path p) {
    return Printable.quote(p.toString());
  }

  /** The innermost cause's class and message: Vert.x wraps what the JDK said. */
  private static String reason(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return Printable.quote(t.getClass().getSimpleName() + ": " + t.getMessage());
  }
}
