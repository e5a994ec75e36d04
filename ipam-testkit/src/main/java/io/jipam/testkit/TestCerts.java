package io.jipam.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Certificates for the TLS tests, made with the openssl CLI in a temp dir: a CA and another CA;
 * a server certificate for 127.0.0.1 and a client certificate from the CA; a client certificate
 * from the other CA; an expired client certificate from the CA; on request further CAs ({@link #ca}),
 * client certificates of a CN ({@link #client}) and server certificates of a DNS name ({@link
 * #server}). EC P-256, PEM, PKCS#8 keys. The file names
 * are the ones {@link Etcd.Builder#tls} and jipamd's TLS options are given.
 */
public final class TestCerts {
  public final Path dir;

  private TestCerts(Path dir) {
    this.dir = dir;
  }

  public static TestCerts make(Path dir) throws Exception {
    TestCerts c = new TestCerts(dir);
    for (String ca : List.of("ca", "other-ca")) {
      c.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj", "/CN=jipam-test-" + ca);
    }
    Files.writeString(dir.resolve("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    Files.writeString(dir.resolve("client.ext"), "extendedKeyUsage=clientAuth\n");
    c.sign("server", "ca", "server.ext", "2");
    c.sign("client", "ca", "client.ext", "2");
    c.sign("stranger", "other-ca", "client.ext", "2");
    c.sign("expired", "ca", "client.ext", "-1");
    return c;
  }

  /** A further CA named {@code name} ({@code name.pem}, {@code name.key}), e.g. an operator CA. */
  public TestCerts ca(String name) throws Exception {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=jipam-test-" + name);
    return this;
  }

  /**
   * An intermediate CA named {@code name} ({@code name.pem}, {@code name.key}) signed by CA {@code
   * ca}: certificates {@link #client} signs with it chain to {@code ca} through it.
   */
  public TestCerts intermediate(String name, String ca) throws Exception {
    String ext = name + ".ext";
    Files.writeString(dir.resolve(ext), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    sign(name, ca, ext, "2");
    return this;
  }

  /**
   * {@code cn.pem} followed by the certificates of {@code then}, as {@code cn-chain.pem}: what a
   * client sends as its chain; returns that file.
   */
  public Path chain(String cn, String... then) throws Exception {
    StringBuilder pem = new StringBuilder(Files.readString(pem(cn)));
    for (String next : then) {
      pem.append(Files.readString(pem(next)));
    }
    return Files.writeString(dir.resolve(cn + "-chain.pem"), pem);
  }

  /**
   * A client certificate with subject {@code CN=cn} signed by CA {@code ca}, as {@code cn.pem} and
   * {@code cn.key} (a node's certificate names its node in the CN).
   */
  public TestCerts client(String cn, String ca) throws Exception {
    sign(cn, ca, "client.ext", "2");
    return this;
  }

  /**
   * A server certificate for the DNS name {@code dnsName} (its only subject alternative name)
   * signed by CA {@code ca}, as {@code file.pem} and {@code file.key}.
   */
  public TestCerts server(String file, String dnsName, String ca) throws Exception {
    String ext = file + ".ext";
    Files.writeString(dir.resolve(ext), "subjectAltName=DNS:" + dnsName + "\nextendedKeyUsage=serverAuth\n");
    sign(file, ca, ext, "2");
    return this;
  }

  /**
   * A server certificate for 127.0.0.1 signed by CA {@code ca}, as {@code file.pem} and {@code
   * file.key}: another like {@code server} (a renewal).
   */
  public TestCerts loopbackServer(String file, String ca) throws Exception {
    sign(file, ca, "server.ext", "2");
    return this;
  }

  public Path pem(String name) {
    return dir.resolve(name + ".pem");
  }

  public Path key(String name) {
    return dir.resolve(name + ".key");
  }

  private void sign(String who, String ca, String ext, String days) throws Exception {
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        who + ".key", "-out", who + ".csr", "-subj", "/CN=" + who);
    openssl("x509", "-req", "-in", who + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
        "-out", who + ".pem", "-days", days, "-extfile", ext);
  }

  private void openssl(String... args) {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Exec.run(dir, cmd, null, new byte[0], Duration.ofMinutes(1)).ok();
  }
}
