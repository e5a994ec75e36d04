package io.jipam.core.tls;

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
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.KeyManagerFactorySpi;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;
import javax.security.auth.x500.X500Principal;

/**
 * A TLS client's or server's certificate chain and private key, read from PEM into memory and
 * handed to JSSE as a key manager: what jipamd, jipamctl, the gRPC client and the etcd store's
 * client present. Stateless; the managers it makes are immutable and thread-safe.
 *
 * <p>Why not the libraries' own PEM readers (Vert.x's {@code PemKeyCertOptions}, Netty's
 * {@code SslContextBuilder.keyManager(File, File)}): both put the key into a password-protected
 * PKCS#12 key store and take it out again through the JDK's {@code SunX509} key manager, each a
 * key derivation of 10,000 HMAC-SHA256 rounds (PBKDF2). On a JVM running C1 only, as jipamctl, the
 * JVM plugin and the test JVMs do, Vert.x's took about 126 ms of CPU per key manager, against 7 ms
 * here (a JFR profile of ipam-server's tests had 53 % of its samples in SHA-256 under it). Only a
 * certificate chain that {@link CertificateFactory} reads and a key in PKCS#8 ({@code BEGIN
 * PRIVATE KEY}) are read here; for anything else {@link #keyManager} answers null and the caller
 * uses the library's reader, whose formats and error messages so stay what they were.
 *
 * <p>Aliases follow {@code SunX509}: the one key is offered for a key type naming its algorithm
 * ({@code EC}, {@code RSA}; a type {@code EC_RSA} also requires an RSA signature on the
 * certificate) and, when the peer names acceptable issuers, only if a certificate of the chain was
 * issued by one of them.
 */
public final class PemKeys {
  /** The one alias of the managers made here. */
  public static final String ALIAS = "jipam";
  private static final Provider PROVIDER = new Provider("jipam-pem", "1", "the key of a PEM pair, as read") { };
  private static final String[] KEY_ALGORITHMS = {"EC", "RSA", "Ed25519", "Ed448", "RSASSA-PSS", "DSA"};

  private PemKeys() {}

  /**
   * The key manager of a PEM certificate chain and its PKCS#8 key, or null when they are not both
   * readable as such (then let the library read them, and name what is wrong).
   */
  public static X509ExtendedKeyManager keyManager(byte[] certPem, byte[] keyPem) {
    try {
      X509Certificate[] chain = CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(certPem)).stream()
          .map(c -> (X509Certificate) c).toArray(X509Certificate[]::new);
      PrivateKey privateKey = pkcs8(keyPem);
      return chain.length == 0 || privateKey == null ? null : new OneKey(chain, privateKey);
    } catch (Exception e) {
      return null;
    }
  }

  /**
   * A factory handing out {@code manager} (for APIs that take a factory; Vert.x's own wrapper
   * logs through slf4j, which not every user of jipam's modules has).
   */
  public static KeyManagerFactory factory(X509KeyManager manager) {
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
