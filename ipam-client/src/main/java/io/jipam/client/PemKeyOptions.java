package io.jipam.client;

import io.jipam.core.tls.PemKeys;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.PemKeyCertOptions;
import java.util.function.Function;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509KeyManager;

/**
 * A certificate chain and its private key in PEM, as the key options of a Vert.x TLS client or
 * server: the same material and answers as Vert.x's {@link PemKeyCertOptions}, read from bytes or
 * from two files (read when Vert.x asks, as {@code PemKeyCertOptions} reads its paths), without its
 * cost ({@link PemKeys} says why). Material {@link PemKeys} does not read (a PKCS#1 or SEC1 key,
 * an encrypted one, bytes that do not parse) goes to {@code PemKeyCertOptions}, so its formats and
 * its error messages stay what they were. Immutable and thread-safe.
 */
public final class PemKeyOptions implements KeyCertOptions {
  private final byte[] cert;
  private final byte[] key;
  private final String certPath;
  private final String keyPath;

  private PemKeyOptions(byte[] cert, byte[] key, String certPath, String keyPath) {
    this.cert = cert;
    this.key = key;
    this.certPath = certPath;
    this.keyPath = keyPath;
  }

  /** The chain and key as these PEM bytes (copied). */
  public static PemKeyOptions of(byte[] certPem, byte[] keyPem) {
    return new PemKeyOptions(certPem.clone(), keyPem.clone(), null, null);
  }

  /** The chain and key in these files, read each time Vert.x asks for the key managers. */
  public static PemKeyOptions ofFiles(String certPath, String keyPath) {
    return new PemKeyOptions(null, null, certPath, keyPath);
  }

  /**
   * The key manager of this material.
   *
   * @throws Exception what {@link PemKeyCertOptions#getKeyManagerFactory} throws for material
   *     {@link PemKeys} does not read
   */
  public X509KeyManager keyManager(Vertx vertx) throws Exception {
    X509KeyManager parsed = parsed(vertx);
    if (parsed != null) {
      return parsed;
    }
    for (KeyManager m : fallback().getKeyManagerFactory(vertx).getKeyManagers()) {
      if (m instanceof X509KeyManager x) {
        return x;
      }
    }
    throw new IllegalStateException("no X.509 key manager");
  }

  @Override
  public KeyCertOptions copy() {
    return this;
  }

  @Override
  public KeyManagerFactory getKeyManagerFactory(Vertx vertx) throws Exception {
    X509KeyManager parsed = parsed(vertx);
    return parsed != null ? PemKeys.factory(parsed) : fallback().getKeyManagerFactory(vertx);
  }

  @Override
  public Function<String, KeyManagerFactory> keyManagerFactoryMapper(Vertx vertx) throws Exception {
    X509KeyManager parsed = parsed(vertx);
    return parsed != null ? serverName -> null : fallback().keyManagerFactoryMapper(vertx);
  }

  private PemKeyCertOptions fallback() {
    return cert != null
        ? new PemKeyCertOptions().setCertValue(Buffer.buffer(cert)).setKeyValue(Buffer.buffer(key))
        : new PemKeyCertOptions().setCertPath(certPath).setKeyPath(keyPath);
  }

  /** The material as {@link PemKeys} reads it, or null where {@code PemKeyCertOptions} is to read it. */
  private X509KeyManager parsed(Vertx vertx) {
    try {
      return PemKeys.keyManager(cert != null ? cert : vertx.fileSystem().readFileBlocking(certPath).getBytes(),
          key != null ? key : vertx.fileSystem().readFileBlocking(keyPath).getBytes());
    } catch (RuntimeException e) {
      return null; // unreadable files: PemKeyCertOptions names what is wrong
    }
  }
}
