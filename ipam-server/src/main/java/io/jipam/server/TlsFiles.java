package io.jipam.server;

import io.jipam.client.PemKeyOptions;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Date;
import javax.net.ssl.X509KeyManager;

/**
 * The TLS files of jipamd's TCP listener, checked before anything is bound: read as Vert.x reads
 * them, the key must be the certificate's (a signature made with it verifies with the
 * certificate's public key), the certificate valid now, and each CA file a certificate. Without
 * this, a mismatched key or an expired certificate started a jipamd that logged ready and failed
 * every handshake, and an unreadable file was found only after the socket and the metrics port
 * were bound, in a message that named no file. The same checks run on files read again while
 * jipamd runs ({@link TlsReload}), and on a remote store's files. Stateless.
 */
final class TlsFiles {
  private TlsFiles() {}

  /**
   * A TLS file's bytes, read once, and the option that names it: what is checked is what is then
   * used ({@link TlsReload}), so a file replaced between the two cannot slip past the check.
   */
  record Read(String option, Path path, byte[] bytes) {
    /**
     * @throws IpamException INVALID_CONFIG naming the option and the file when it cannot be read
     */
    static Read of(String option, Path path) {
      try {
        return new Read(option, path, Files.readAllBytes(path));
      } catch (IOException e) {
        throw IpamException.invalidConfig("%s %s cannot be read: %s", option, quote(path), IoMessages.describe(e));
      }
    }

    Buffer buffer() {
      return Buffer.buffer(bytes);
    }

    String named() {
      return option + " " + quote(path);
    }
  }

  /**
   * The TCP listener's files at start: {@code --tls-cert}, {@code --tls-key}, and the CA files when
   * given.
   *
   * @throws IpamException INVALID_CONFIG naming the file and what is wrong with it
   */
  static void check(Path cert, Path key, Path clientCa, Path operatorCa, Clock clock) {
    ListenerTls tls = ListenerTls.read(cert, key, clientCa, operatorCa);
    Vertx vertx = quietVertx();
    try {
      tls.check(vertx, clock);
    } finally {
      vertx.close();
    }
  }

  /**
   * A remote store's files at start: {@code --remote-cert} and {@code --remote-key} when given, and
   * {@code --remote-ca} when given.
   *
   * @throws IpamException INVALID_CONFIG naming the file and what is wrong with it
   */
  static void checkRemote(Path ca, Path cert, Path key, Clock clock) {
    Vertx vertx = quietVertx();
    try {
      if (cert != null) {
        checkPair(vertx, Read.of("--remote-cert", cert), Read.of("--remote-key", key), clock);
      }
      if (ca != null) {
        checkCa(vertx, Read.of("--remote-ca", ca));
      }
    } finally {
      vertx.close();
    }
  }

  /**
   * A Vert.x for reading key and trust material only: no class-path file cache (Vert.x would
   * otherwise make a vertx-cache-* dir in java.io.tmpdir, and fail where that is not writable).
   * Close it after use.
   */
  static Vertx quietVertx() {
    return Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1).setInternalBlockingPoolSize(1)
        .setFileSystemOptions(new FileSystemOptions().setClassPathResolvingEnabled(false).setFileCachingEnabled(false)));
  }

  /**
   * A certificate and its key as read: readable as PEM, the key the certificate's, the certificate
   * valid now.
   *
   * @throws IpamException INVALID_CONFIG naming the options, the files and what is wrong
   */
  static void checkPair(Vertx vertx, Read cert, Read key, Clock clock) {
    X509KeyManager keys;
    try {
      keys = PemKeyOptions.of(cert.bytes(), key.bytes()).keyManager(vertx);
    } catch (Exception e) {
      throw IpamException.invalidConfig("%s and %s cannot be read: %s", cert.named(), key.named(), reason(e));
    }
    String alias = keys == null ? null : firstAlias(keys);
    X509Certificate[] chain = alias == null ? null : keys.getCertificateChain(alias);
    PrivateKey privateKey = alias == null ? null : keys.getPrivateKey(alias);
    if (chain == null || chain.length == 0 || privateKey == null) {
      throw IpamException.invalidConfig("%s and %s hold no key and certificate", cert.named(), key.named());
    }
    if (!matches(privateKey, chain[0])) {
      throw IpamException.invalidConfig("%s is not the key of %s (%s)", key.named(), cert.named(),
          Printable.quote(chain[0].getSubjectX500Principal().getName()));
    }
    try {
      chain[0].checkValidity(Date.from(clock.instant()));
    } catch (CertificateExpiredException | CertificateNotYetValidException e) {
      throw IpamException.invalidConfig("%s is not valid now: valid from %s to %s", cert.named(),
          chain[0].getNotBefore().toInstant(), chain[0].getNotAfter().toInstant());
    }
  }

  /**
   * A CA file as read: readable as certificates.
   *
   * @throws IpamException INVALID_CONFIG naming the option, the file and what is wrong with it
   */
  static void checkCa(Vertx vertx, Read ca) {
    try {
      new PemTrustOptions().addCertValue(ca.buffer()).getTrustManagerFactory(vertx);
    } catch (Exception e) {
      throw IpamException.invalidConfig("%s cannot be read as certificates: %s", ca.named(), reason(e));
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
