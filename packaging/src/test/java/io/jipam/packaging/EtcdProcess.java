package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
    return start(dir, null);
  }

  /**
   * Starts etcd in network namespace {@code netns} (its loopback), or in this one when null; in a
   * namespace it is checked through busybox's wget run there.
   */
  static EtcdProcess start(Path dir, String netns) throws Exception {
    int client = freePort();
    int peer = freePort();
    String endpoint = "http://127.0.0.1:" + client;
    Path log = dir.resolve("etcd.log");
    List<String> command = new ArrayList<>();
    if (netns != null) {
      command.addAll(List.of("ip", "netns", "exec", netns));
    }
    command.addAll(List.of(BINARY.toString(), "--name", "e", "--data-dir", dir.resolve("data").toString(),
        "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
        "--listen-peer-urls", "http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
        "--initial-cluster", "e=http://127.0.0.1:" + peer));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!answers(netns, client)) {
      if (System.nanoTime() > deadline || !p.isAlive()) {
        p.destroyForcibly();
        throw new IllegalStateException("etcd did not start: " + Files.readString(log));
      }
      Thread.sleep(100);
    }
    return new EtcdProcess(p, endpoint);
  }

  private static boolean answers(String netns, int client) {
    if (netns == null) {
      try (Socket s = new Socket("127.0.0.1", client)) {
        return true;
      } catch (IOException notYet) {
        return false;
      }
    }
    return Proc.run(List.of("ip", "netns", "exec", netns, "busybox", "wget", "-q", "-O", "-",
        "http://127.0.0.1:" + client + "/health"), null, "", Duration.ofSeconds(10)).exit() == 0;
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
