package io.jipam.client;

import io.vertx.core.Vertx;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.KeyManagerFactorySpi;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;
import javax.security.auth.x500.X500Principal;

/**
 * A certificate chain and its private key in PEM, as the key options of a Vert.x TLS client or
 * server: the same material and answers as Vert.x's {@link PemKeyCertOptions}, read from bytes or
 * from two files (read when Vert.x asks, as {@code PemKeyCertOptions} reads its paths). Immutable
 * and thread-safe.
 *
 * <p>Why not {@code PemKeyCertOptions} itself: it puts the key into a password-protected PKCS#12
 * key store and takes it out again, each a key derivation of 10,000 HMAC-SHA256 rounds (PBKDF2),
 * for every key manager it makes. On a JVM running C1 only, as jipamctl and the test JVMs do, that
 * is about 126 ms of CPU per key manager, against 7 ms here (an EC or RSA pair, five in a row;
 * a JFR profile of ipam-server's tests had 53 % of its samples in SHA-256 under it). This class
 * keeps the key in memory as parsed: a certificate chain that
 * {@link CertificateFactory} reads and a key in PKCS#8 ({@code BEGIN PRIVATE KEY}) are taken
 * directly; anything else (a PKCS#1 or SEC1 key, an encrypted one, bytes that do not parse) goes
 * to {@code PemKeyCertOptions}, so its formats and its error messages stay what they were.
 *
 * <p>Aliases follow the JDK's {@code SunX509} key manager, which {@code PemKeyCertOptions} uses:
 * the one key is offered for a key type naming its algorithm ({@code EC}, {@code RSA}; a type
 * {@code EC_RSA} also requires an RSA signature on the certificate) and, when the peer names
 * acceptable issuers, only if a certificate of the chain was issued by one of them.
 */
public final class PemKeyOptions implements KeyCertOptions {
  private static final String ALIAS = "jipam";
  private static final Provider PROVIDER = new Provider("jipam-pem", "1", "the key of a PEM pair, as read") { };
  private static final String[] KEY_ALGORITHMS = {"EC", "RSA", "Ed25519", "Ed448", "RSASSA-PSS", "DSA"};

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

  /** The chain and key as these PEM bytes (kept as given: do not change the arrays afterwards). */
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
   * @throws Exception what {@link PemKeyCertOptions#getKeyManagerFactory} throws for material this
   *     class does not read itself
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
    return parsed != null ? factory(parsed) : fallback().getKeyManagerFactory(vertx);
  }

  @Override
  public Function<String, KeyManagerFactory> keyManagerFactoryMapper(Vertx vertx) throws Exception {
    X509KeyManager parsed = parsed(vertx);
    return parsed != null ? serverName -> null : fallback().keyManagerFactoryMapper(vertx);
  }

  /**
   * A factory handing out {@code manager}; not Vert.x's {@code KeyCertOptions.wrap}, whose wrapper
   * logs through slf4j, which not every user of this module has.
   */
  private static KeyManagerFactory factory(X509KeyManager manager) {
    KeyManagerFactorySpi spi = new KeyManagerFactorySpi() {
      @Override
      protected void engineInit(KeyStore store, char[] password) {
        // holds its one key already
      }

      @Override
      protected void engineInit(ManagerFactoryParameters parameters) {
        // holds its one key already
      }

      @Override
      protected KeyManager[] engineGetKeyManagers() {
        return new KeyManager[] {manager};
      }
    };
    return new KeyManagerFactory(spi, PROVIDER, "jipam-pem") { };
  }

  private PemKeyCertOptions fallback() {
    return cert != null
        ? new PemKeyCertOptions().setCertValue(io.vertx.core.buffer.Buffer.buffer(cert))
            .setKeyValue(io.vertx.core.buffer.Buffer.buffer(key))
        : new PemKeyCertOptions().setCertPath(certPath).setKeyPath(keyPath);
  }

  /** The material as read here, or null where {@code PemKeyCertOptions} is to read it. */
  private X509KeyManager parsed(Vertx vertx) {
    try {
      byte[] certBytes = cert != null ? cert : vertx.fileSystem().readFileBlocking(certPath).getBytes();
      byte[] keyBytes = key != null ? key : vertx.fileSystem().readFileBlocking(keyPath).getBytes();
      X509Certificate[] chain = CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(certBytes)).stream()
          .map(c -> (X509Certificate) c).toArray(X509Certificate[]::new);
      PrivateKey privateKey = pkcs8(keyBytes);
      return chain.length == 0 || privateKey == null ? null : new OneKey(chain, privateKey);
    } catch (Exception e) {
      return null; // PemKeyCertOptions reads it, or names what is wrong with it
    }
  }

  /** The key of the one {@code PRIVATE KEY} block, or null. */
  private static PrivateKey pkcs8(byte[] pem) {
    String text = new String(pem, StandardCharsets.US_ASCII);
    String begin = "-----BEGIN PRIVATE KEY-----";
    String end = "-----END PRIVATE KEY-----";
    int from = text.indexOf(begin);
    int to = from < 0 ? -1 : text.indexOf(end, from);
    if (from < 0 || to < 0 || text.indexOf(begin, to) >= 0 || text.contains("-----BEGIN ENCRYPTED")) {
      return null;
    }
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(
        text.substring(from + begin.length(), to)));
    for (String algorithm : KEY_ALGORITHMS) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (Exception e) {
        // another algorithm's key
      }
    }
    return null;
  }

  /** One key and its chain under one alias, chosen as {@code SunX509} chooses. */
  private static final class OneKey extends X509ExtendedKeyManager {
    private final X509Certificate[] chain;
    private final PrivateKey key;

    OneKey(X509Certificate[] chain, PrivateKey key) {
      this.chain = chain;
      this.key = key;
    }

    private boolean fits(String keyType, Principal[] issuers) {
      if (keyType == null) {
        return false;
      }
      String type = keyType;
      String signedBy = null;
      int split = keyType.indexOf('_');
      if (split >= 0) {
        type = keyType.substring(0, split);
        signedBy = keyType.substring(split + 1);
      }
      if (!type.equals(chain[0].getPublicKey().getAlgorithm())) {
        return false;
      }
      if (signedBy != null) {
        boolean signed = chain.length > 1 ? signedBy.equals(chain[1].getPublicKey().getAlgorithm())
            : chain[0].getSigAlgName().toUpperCase(Locale.ENGLISH).contains("WITH" + signedBy.toUpperCase(Locale.ENGLISH));
        if (!signed) {
          return false;
        }
      }
      if (issuers == null || issuers.length == 0) {
        return true;
      }
      Set<X500Principal> accepted = new HashSet<>();
      for (Principal p : issuers) {
        accepted.add(p instanceof X500Principal x ? x : new X500Principal(p.getName()));
      }
      for (Certificate c : chain) {
        if (accepted.contains(((X509Certificate) c).getIssuerX500Principal())) {
          return true;
        }
      }
      return false;
    }

    private String choose(String[] keyTypes, Principal[] issuers) {
      if (keyTypes != null) {
        for (String type : keyTypes) {
          if (fits(type, issuers)) {
            return ALIAS;
          }
        }
      }
      return null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      return fits(keyType, issuers) ? new String[] {ALIAS} : null;
    }

    @Override
    public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
      return choose(keyTypes, issuers);
    }

    @Override
    public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
      return choose(keyTypes, issuers);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return fits(keyType, issuers) ? new String[] {ALIAS} : null;
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
      return fits(keyType, issuers) ? ALIAS : null;
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
      return fits(keyType, issuers) ? ALIAS : null;
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return ALIAS.equals(alias) ? chain.clone() : null;
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return ALIAS.equals(alias) ? key : null;
    }
  }
}
