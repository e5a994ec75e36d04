package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** One etcd member for a test, on free loopback ports, in a directory of the test's; killed at close. */
public final class TestEtcd implements AutoCloseable {
  private final Process process;
  public final String endpoint;

  private TestEtcd(Process process, String endpoint) {
    this.process = process;
    this.endpoint = endpoint;
  }

  public static TestEtcd start(Path dir) throws Exception {
    return start(dir, EtcdReplicasTest.freePort());
  }

  static TestEtcd start(Path dir, int client) throws Exception {
    boolean ci = "true".equals(System.getenv("CI"));
    assertTrue(!ci || Files.isExecutable(EtcdReplicasTest.ETCD), "apt-get install etcd-server");
    assumeTrue(Files.isExecutable(EtcdReplicasTest.ETCD), "no etcd binary");
    Files.createDirectories(dir);
    int peer = EtcdReplicasTest.freePort();
    Process p = new ProcessBuilder(EtcdReplicasTest.ETCD.toString(), "--name", "m",
        "--data-dir", dir.resolve("etcd").toString(),
        "--listen-client-urls", "http://127.0.0.1:" + client, "--advertise-client-urls", "http://127.0.0.1:" + client,
        "--listen-peer-urls", "http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
        "--initial-cluster", "m=http://127.0.0.1:" + peer, "--log-level", "warn")
        .redirectErrorStream(true).redirectOutput(dir.resolve("etcd.log").toFile()).start();
    return new TestEtcd(p, "http://127.0.0.1:" + client);
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
