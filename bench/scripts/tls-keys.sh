#!/usr/bin/env bash
# What reading a TLS client's or server's PEM key costs, on the JVM flags jipamctl, node jipamds
# and the JVM plugin run with (C1, serial GC): an EC and an RSA pair (PKCS#8, made with openssl),
# each variant in a fresh JVM, ROUNDS in a row, CPU of the calling thread per round:
#   vertx-pem  Vert.x PemKeyCertOptions.getKeyManagerFactory (a PKCS#12 round trip)
#   jipam-pem  io.jipam.client.PemKeyOptions.getKeyManagerFactory (io.jipam.core.tls.PemKeys)
#   netty-file Netty's client context from the files, as the etcd store made it (a PKCS#12 round trip)
#   jipam-file the same context with PemKeys.factory
# Needs a build (./mvnw -q -DskipTests package).
#   bench/scripts/tls-keys.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=$(readlink -f dist); rounds=${1:-5}
java=$(lib=$dist/lib; . "$dist/lib/jvm.env"; printf '%s' "$JIPAM_JAVA_BIN")
javac=$(dirname "$java")/javac
work=$(mktemp -d /tmp/tls-keys.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem -days 2 \
  -subj /CN=ec 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -days 2 -subj /CN=rsa 2>/dev/null
cat > TlsKeys.java <<'EOF'
import java.io.File;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;

public class TlsKeys {
  public static void main(String[] a) throws Exception {
    String variant = a[0];
    byte[] cert = Files.readAllBytes(Path.of(a[1]));
    byte[] key = Files.readAllBytes(Path.of(a[2]));
    io.vertx.core.Vertx vertx = variant.endsWith("-pem") ? io.vertx.core.Vertx.vertx() : null;
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    StringBuilder out = new StringBuilder(variant + " " + a[1].replace(".pem", "") + " ms:");
    for (int i = 0; i < Integer.parseInt(a[3]); i++) {
      long c0 = mx.getCurrentThreadCpuTime();
      switch (variant) {
        case "vertx-pem" -> new io.vertx.core.net.PemKeyCertOptions().setCertValue(io.vertx.core.buffer.Buffer.buffer(cert))
            .setKeyValue(io.vertx.core.buffer.Buffer.buffer(key)).getKeyManagerFactory(vertx);
        case "jipam-pem" -> io.jipam.client.PemKeyOptions.of(cert, key).getKeyManagerFactory(vertx);
        case "netty-file" -> io.grpc.netty.GrpcSslContexts.forClient().keyManager(new File(a[1]), new File(a[2])).build();
        case "jipam-file" -> io.grpc.netty.GrpcSslContexts.forClient().keyManager(io.jipam.core.tls.PemKeys.factory(
            io.jipam.core.tls.PemKeys.keyManager(cert, key))).build();
        default -> throw new IllegalArgumentException(variant);
      }
      out.append(String.format(" %.1f", (mx.getCurrentThreadCpuTime() - c0) / 1e6));
    }
    System.out.println(out);
    if (vertx != null) {
      vertx.close();
    }
  }
}
EOF
cp=$(ls "$dist"/lib/server/*.jar "$dist"/lib/etcd/*.jar | grep -v '/etcd/ipam-core.jar' | tr '\n' ':')
"$javac" -nowarn -cp "$cp" -d . TlsKeys.java
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for pair in ec rsa; do
  for variant in vertx-pem jipam-pem netty-file jipam-file; do
    "$java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:disable -cp "$cp:." TlsKeys "$variant" "$pair.pem" \
      "$pair.key" "$rounds" 2>/dev/null
  done
done
