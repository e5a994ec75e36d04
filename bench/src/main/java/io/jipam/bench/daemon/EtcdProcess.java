package io.jipam.bench.daemon;

import java.io.File;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A one-member etcd on loopback (ports from the kernel, data in a temporary dir with fsync on), for
 * benchmarks that need an etcd and have none. {@link #close()} kills it and removes its data.
 */
public final class EtcdProcess implements AutoCloseable {
  private final Process process;
  private final Path dir;
  private final String endpoint;

  private EtcdProcess(Process process, Path dir, String endpoint) {
    this.process = process;
    this.dir = dir;
    this.endpoint = endpoint;
  }

  /** The etcd binary on PATH, or null. */
  public static Path binary() {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, "etcd"))) {
        return Path.of(d, "etcd");
      }
    }
    return null;
  }

  /** Starts etcd and waits up to 30 s for {@code /health} to say true. */
  public static EtcdProcess start() throws IOException, InterruptedException {
    Path binary = binary();
    if (binary == null) {
      throw new IllegalStateException("no etcd on PATH: apt-get install etcd-server");
    }
    Path dir = Files.createTempDirectory("jipam-bench-etcd");
    int client;
    int peer;
    try (ServerSocket a = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket b = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      client = a.getLocalPort();
      peer = b.getLocalPort();
    }
    String endpoint = "http://127.0.0.1:" + client;
    ProcessBuilder pb = new ProcessBuilder(binary.toString(), "--name", "bench", "--data-dir", dir.resolve("data").toString(),
        "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
        "--listen-peer-urls", "http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
        "--initial-cluster", "bench=http://127.0.0.1:" + peer, "--log-level", "warn");
    pb.redirectErrorStream(true).redirectOutput(dir.resolve("etcd.log").toFile());
    String arch = System.getProperty("os.arch");
    if (!arch.equals("amd64") && !arch.equals("x86_64")) {
      pb.environment().put("ETCD_UNSUPPORTED_ARCH", arch.equals("aarch64") ? "arm64" : arch);
    }
    EtcdProcess etcd = new EtcdProcess(pb.start(), dir, endpoint);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!etcd.healthy()) {
      if (!etcd.process.isAlive() || System.nanoTime() > deadline) {
        String log = Files.readString(dir.resolve("etcd.log"), StandardCharsets.UTF_8);
        etcd.close();
        throw new IllegalStateException("etcd did not become healthy: " + log.trim());
      }
      Thread.sleep(50);
    }
    return etcd;
  }

  private boolean healthy() {
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create(endpoint + "/health").toURL().openConnection();
      c.setConnectTimeout(300);
      c.setReadTimeout(1000);
      try (var in = c.getInputStream()) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("\"health\":\"true\"");
      }
    } catch (IOException notYet) {
      return false;
    }
  }

  /** The client URL. */
  public String endpoint() {
    return endpoint;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
