package io.jipam.server;

import io.jipam.client.PemKeyOptions;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.ServerSSLOptions;
import java.nio.file.Path;
import java.time.Clock;

/**
 * The TLS of jipamd's TCP listener, from its files' bytes as read once: the certificate and key it
 * serves, and the CA files whose certificates it accepts from clients ({@code --client-ca} and
 * {@code --operator-ca}, both trusted; client certificates are then required). The one place that
 * composes it, whether at start ({@link #applyTo}) or for files read again while jipamd runs
 * ({@link #sslOptions}, {@link TlsReload}), so the two cannot drift. Immutable.
 *
 * @param cert {@code --tls-cert}
 * @param key {@code --tls-key}
 * @param clientCa {@code --client-ca}, or null
 * @param operatorCa {@code --operator-ca}, or null
 */
record ListenerTls(TlsFiles.Read cert, TlsFiles.Read key, TlsFiles.Read clientCa, TlsFiles.Read operatorCa) {

  /**
   * Reads the files once; the CA paths may be null.
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG naming the option and the file it cannot read
   */
  static ListenerTls read(Path cert, Path key, Path clientCa, Path operatorCa) {
    return new ListenerTls(TlsFiles.Read.of("--tls-cert", cert), TlsFiles.Read.of("--tls-key", key),
        clientCa == null ? null : TlsFiles.Read.of("--client-ca", clientCa),
        operatorCa == null ? null : TlsFiles.Read.of("--operator-ca", operatorCa));
  }

  /**
   * Checks the bytes as read ({@link TlsFiles#checkPair}, {@link TlsFiles#checkCa}).
   *
   * @throws io.jipam.core.IpamException INVALID_CONFIG naming the file and what is wrong with it
   */
  void check(Vertx vertx, Clock clock) {
    TlsFiles.checkPair(vertx, cert, key, clock);
    for (TlsFiles.Read ca : new TlsFiles.Read[] {clientCa, operatorCa}) {
      if (ca != null) {
        TlsFiles.checkCa(vertx, ca);
      }
    }
    if (clientCa != null && operatorCa != null) {
      // a CA in both would make every node certificate it signed an operator's
      java.util.Collection<? extends java.security.cert.Certificate> nodes = certificates(clientCa);
      for (java.security.cert.Certificate ca : certificates(operatorCa)) {
        if (nodes.contains(ca)) {
          throw io.jipam.core.IpamException.invalidConfig("%s and %s both hold the CA %s: every node certificate it"
              + " signed would be an operator's; give operators a CA of their own", operatorCa.named(),
              clientCa.named(), io.jipam.core.store.Printable.quote(((java.security.cert.X509Certificate) ca)
                  .getSubjectX500Principal().getName()));
        }
      }
    }
  }

  private static java.util.Collection<? extends java.security.cert.Certificate> certificates(TlsFiles.Read ca) {
    try {
      return java.security.cert.CertificateFactory.getInstance("X.509")
          .generateCertificates(new java.io.ByteArrayInputStream(ca.buffer().getBytes()));
    } catch (java.security.cert.CertificateException e) {
      throw io.jipam.core.IpamException.invalidConfig("%s cannot be read: %s", ca.named(), e.getMessage());
    }
  }

  /** {@code options} serving TLS with this material: what a listener starts with. */
  HttpServerOptions applyTo(HttpServerOptions options) {
    options.setSsl(true).setUseAlpn(true); // creates the options' ServerSSLOptions
    configure(options.getSslOptions());
    return options;
  }

  /** This material as options a running listener takes ({@code HttpServer.updateSSLOptions}). */
  ServerSSLOptions sslOptions() {
    return configure(new ServerSSLOptions().setUseAlpn(true));
  }

  private ServerSSLOptions configure(ServerSSLOptions ssl) {
    ssl.setKeyCertOptions(PemKeyOptions.of(cert.bytes(), key.bytes()));
    PemTrustOptions clients = new PemTrustOptions();
    for (TlsFiles.Read ca : new TlsFiles.Read[] {clientCa, operatorCa}) {
      if (ca != null) {
        clients.addCertValue(ca.buffer());
      }
    }
    if (!clients.getCertValues().isEmpty()) {
      ssl.setTrustOptions(clients).setClientAuth(ClientAuth.REQUIRED);
    }
    return ssl;
  }
}
