package io.jipam.server.grpc;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.api.Headers;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Printable;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpConnection;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.security.auth.x500.X500Principal;

/**
 * Establishes who a gRPC call comes from ({@link Caller}), from its connection and its
 * {@value #NODE_HEADER} header.
 *
 * <table>
 *   <caption>Identity by connection</caption>
 *   <tr><th>connection</th><th>caller</th></tr>
 *   <tr><td>the unix socket (mode 0600: root on this host)</td><td>operator; acts for the header's
 *       node if one is named</td></tr>
 *   <tr><td>TLS with a client certificate signed by an {@code --operator-ca}
 *       certificate</td><td>operator; acts for the header's node if one is named</td></tr>
 *   <tr><td>TLS with any other client certificate (from {@code --client-ca})</td><td>the node
 *       named by the certificate's subject CN; a header naming another node is refused
 *       (PERMISSION_DENIED)</td></tr>
 *   <tr><td>no client certificate (plain TCP with {@code --insecure}, or TLS without
 *       {@code --client-ca})</td><td>the header's node, taken as given; without a header an
 *       operator. Nothing is authenticated: whoever reaches the port is trusted</td></tr>
 * </table>
 * Thread-safe: the operator CAs are replaced whole ({@link #useOperatorCas}).
 */
public final class CallerIdentity {
  /** The gRPC metadata key naming the node a call acts for. */
  static final String NODE_HEADER = Headers.NODE;

  private volatile List<X509Certificate> operatorCas;
  private final Path operatorCaFile;

  private CallerIdentity(List<X509Certificate> operatorCas, Path operatorCaFile) {
    this.operatorCas = List.copyOf(operatorCas);
    this.operatorCaFile = operatorCaFile;
  }

  /** Without operator certificates: over TCP only unauthenticated clients (no certificate) are operators. */
  public static CallerIdentity noOperatorCa() {
    return new CallerIdentity(List.of(), null);
  }

  /** The operator CA file, which the TLS listener also trusts for client certificates; null: none. */
  public Path operatorCaFile() {
    return operatorCaFile;
  }

  /**
   * Client certificates signed by a certificate of {@code operatorCa} (PEM, one or more) are
   * operators; null: none.
   *
   * @throws IpamException INVALID_CONFIG naming the file when it cannot be read as certificates
   */
  public static CallerIdentity withOperatorCa(Path operatorCa) {
    return operatorCa == null ? noOperatorCa() : new CallerIdentity(readCas(operatorCa), operatorCa);
  }

  /**
   * The operator CA file's certificates in {@code pem}, its bytes as read again (a renewed CA), to
   * hand to {@link #useOperatorCas} once everything else of the reload has succeeded.
   *
   * @throws IpamException INVALID_CONFIG naming the file when the bytes are not certificates
   */
  public List<X509Certificate> parseOperatorCa(byte[] pem) {
    return parseCas(operatorCaFile, new java.io.ByteArrayInputStream(pem));
  }

  /** Callers are judged by these operator CAs from now on ({@link #parseOperatorCa}). */
  public void useOperatorCas(List<X509Certificate> cas) {
    operatorCas = List.copyOf(cas);
  }

  private static List<X509Certificate> readCas(Path operatorCa) {
    try (InputStream in = Files.newInputStream(operatorCa)) {
      return parseCas(operatorCa, in);
    } catch (IOException e) {
      throw IpamException.invalidConfig("operator-ca %s: cannot read certificates: %s", operatorCa, e.getMessage());
    }
  }

  private static List<X509Certificate> parseCas(Path operatorCa, InputStream in) {
    List<X509Certificate> cas = new ArrayList<>();
    try {
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        cas.add((X509Certificate) c);
      }
    } catch (GeneralSecurityException | ClassCastException e) {
      throw IpamException.invalidConfig("operator-ca %s: cannot read certificates: %s", operatorCa, e.getMessage());
    }
    if (cas.isEmpty()) {
      throw IpamException.invalidConfig("operator-ca %s holds no certificate", operatorCa);
    }
    return cas;
  }

  /**
   * The caller of a request on {@code connection} with {@code headers}.
   *
   * @throws IpamException PERMISSION_DENIED when a node certificate names no valid node or the
   *     header names another node; INVALID_CONFIG when the header is not a node name
   */
  Caller resolve(HttpConnection connection, MultiMap headers) {
    String named = headers == null ? null : headers.get(NODE_HEADER);
    if (named != null && named.isEmpty()) {
      named = null;
    }
    if (named != null) {
      NodeName.require(named, "gRPC metadata " + NODE_HEADER, ErrorCode.INVALID_CONFIG);
    }
    if (connection.localAddress() != null && connection.localAddress().isDomainSocket()) {
      return new Caller(Caller.Role.OPERATOR, named, "the unix socket");
    }
    List<X509Certificate> chain = peerChain(connection);
    X509Certificate cert = chain.isEmpty() ? null : chain.get(0);
    if (cert == null) {
      return named == null ? new Caller(Caller.Role.OPERATOR, null, "an unauthenticated client")
          : new Caller(Caller.Role.NODE, named, "node " + named + " as an unauthenticated client names itself");
    }
    String cn = commonName(cert.getSubjectX500Principal());
    if (isOperator(chain)) {
      return new Caller(Caller.Role.OPERATOR, named, "operator certificate CN=" + cn);
    }
    if (cn == null) {
      throw new IpamException(ErrorCode.PERMISSION_DENIED, "client certificate "
          + Printable.quote(cert.getSubjectX500Principal().getName(X500Principal.RFC2253))
          + " has no single subject CN naming a node");
    }
    NodeName.require(cn, "client certificate CN", ErrorCode.PERMISSION_DENIED);
    if (named != null && !named.equals(cn)) {
      throw new IpamException(ErrorCode.PERMISSION_DENIED, "node certificate CN=" + cn + " may not act as node "
          + named);
    }
    return new Caller(Caller.Role.NODE, cn, "node certificate CN=" + cn);
  }

  /**
   * Whether the client's certificate was issued by an operator CA: directly, or through
   * intermediates the client sent, followed by signature from the leaf up (never "some certificate
   * the client sent was", which a node could meet by appending an operator's public certificate).
   * A leaf under an operator CA's intermediate used to be read as a node named by its CN.
   */
  private boolean isOperator(List<X509Certificate> chain) {
    X509Certificate at = chain.get(0);
    for (int depth = 0; depth < chain.size(); depth++) {
      for (X509Certificate ca : operatorCas) {
        if (signedBy(at, ca)) {
          return true;
        }
      }
      X509Certificate issuer = null;
      for (X509Certificate c : chain) {
        if (c != at && c.getBasicConstraints() >= 0 && signedBy(at, c)) {
          issuer = c;
          break;
        }
      }
      if (issuer == null) {
        return false;
      }
      at = issuer;
    }
    return false;
  }

  private static boolean signedBy(X509Certificate cert, X509Certificate issuer) {
    if (!issuer.getSubjectX500Principal().equals(cert.getIssuerX500Principal())) {
      return false;
    }
    try {
      cert.verify(issuer.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false; // same issuer name, another key: not this one's
    }
  }

  /** The client's certificate chain, leaf first (the TLS handshake verified it); empty without one. */
  private static List<X509Certificate> peerChain(HttpConnection connection) {
    if (!connection.isSsl()) {
      return List.of();
    }
    try {
      List<Certificate> chain = connection.peerCertificates();
      List<X509Certificate> out = new java.util.ArrayList<>();
      for (Certificate c : chain == null ? List.<Certificate>of() : chain) {
        if (!(c instanceof X509Certificate x)) {
          break;
        }
        out.add(x);
      }
      return out;
    } catch (SSLPeerUnverifiedException e) {
      return List.of();
    }
  }

  /**
   * The subject's CN when it has exactly one, as text; null when it has none, several (in one
   * attribute or in several: which would be the node is a matter of reading order), or one that
   * is not text. The subject is parsed by its RFC 2253 grammar: splitting its text on commas read
   * {@code CN=node-a, CN=node-b, OU=x\} as naming node-a (an escaped backslash before a comma).
   */
  static String commonName(X500Principal subject) {
    String cn = null;
    int found = 0;
    try {
      for (Rdn rdn : new LdapName(subject.getName(X500Principal.RFC2253)).getRdns()) {
        Attribute values = rdn.toAttributes().get("CN");
        if (values == null) {
          continue;
        }
        found += values.size();
        Object value = values.get();
        cn = value instanceof String text ? text : null;
      }
    } catch (NamingException e) { // InvalidNameException: not RFC 2253 (it always is)
      return null;
    }
    return found == 1 ? cn : null;
  }
}
