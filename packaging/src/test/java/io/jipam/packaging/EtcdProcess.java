package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A one-member etcd on loopback ports of its own, in a folder of its own, for a test. */
final class EtcdProcess implements AutoCloseable {
  static final Path BINARY = Path.of("/usr/bin/etcd");
  private final Process process;
  private final String endpoint;

  private EtcdProcess(Process process, String endpoint) {
    this.process = process;
    this.endpoint = endpoint;
  }

  /** Fails under CI, skips elsewhere, when there is no etcd binary. */
  static void requireBinary() {
    if (Proc.underCi()) {
      assertTrue(Files.isExecutable(BINARY), "apt-get install etcd-server");
    }
    assumeTrue(Files.isExecutable(BINARY), "apt-get install etcd-server");
  }

  static EtcdProcess start(Path dir) throws Exception {
    int client = freePort();
    int peer = freePort();
    String endpoint = "http://127.0.0.1:" + client;
    Path log = dir.resolve("etcd.log");
    Process p = new ProcessBuilder(BINARY.toString(), "--name", "e", "--data-dir", dir.resolve("data").toString(),
        "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
        "--listen-peer-urls", "http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
        "--initial-cluster", "e=http://127.0.0.1:" + peer)
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try (Socket s = new Socket("127.0.0.1", client)) {
        return new EtcdProcess(p, endpoint);
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline || !p.isAlive()) {
          p.destroyForcibly();
          throw new IllegalStateException("etcd did not start: " + Files.readString(log));
        }
        Thread.sleep(100);
      }
    }
  }

  String endpoint() {
    return endpoint;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }
}
