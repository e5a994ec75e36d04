package io.jipam.ctl;

import io.jipam.client.PemKeyOptions;
import io.jipam.client.RemoteStore;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

/**
 * Why a TLS handshake with jipamd fails, for jipamctl's message: the gRPC client only sees a
 * closed connection, so after a call fails jipamctl shakes hands once more, on a plain TLS socket
 * with the same CA, certificate and key, and reads the refusal (ours: the server's certificate is
 * not trusted; jipamd's: an alert, which TLS 1.3 delivers after the handshake, on the first read).
 */
final class TlsProbe {
  private static final int READ_MILLIS = 2_000;

  private TlsProbe() {}

  /** The reason the handshake is refused, or null when it completes or the probe cannot tell. */
  static String refusal(RemoteStore.Target target) {
    if (target.isUnix() || target.tls() == null) {
      return null;
    }
    // no class-path file cache: it would leave a vertx-cache-* dir in java.io.tmpdir on exit
    Vertx vertx = Vertx.vertx(new VertxOptions().setFileSystemOptions(new FileSystemOptions()
        .setClassPathResolvingEnabled(false).setFileCachingEnabled(false)));
    try {
      RemoteStore.Tls tls = target.tls();
      KeyManager[] keys = tls.certFile() == null ? null : new KeyManager[] {
          PemKeyOptions.ofFiles(tls.certFile().toString(), tls.keyFile().toString()).keyManager(vertx)};
      TrustManager[] trust = tls.caFile() == null ? null : new PemTrustOptions().addCertPath(tls.caFile().toString())
          .getTrustManagerFactory(vertx).getTrustManagers();
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keys, trust, null);
      try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
        socket.connect(new InetSocketAddress(target.address().host(), target.address().port()),
            (int) Math.min(Integer.MAX_VALUE, target.timeout().toMillis()));
        socket.setSoTimeout(READ_MILLIS);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        parameters.setApplicationProtocols(new String[] {"h2"});
        socket.setSSLParameters(parameters);
        socket.startHandshake();
        socket.getInputStream().read();
        return null;
      }
    } catch (SSLException e) {
      return String.valueOf(e.getMessage());
    } catch (SocketTimeoutException e) {
      return null;
    } catch (Exception e) {
      return null; // not a refusal it can name (no route, a file it cannot read): the caller's message stands
    } finally {
      vertx.close();
    }
  }
}
