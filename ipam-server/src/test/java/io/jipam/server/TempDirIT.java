package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.ctl.Jipamctl;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd and jipamctl leave nothing in {@code java.io.tmpdir}, even when killed: a node's jipamd
 * restarted by its supervisor after every SIGKILL or OOM kill must not fill the node's /tmp. Vert.x
 * makes a {@code vertx-cache-*} dir there for its class-path file cache unless told not to, and
 * deletes it only on a clean close; jipamd on etcd has two Vert.x instances (its server's and its
 * etcd client's), jipamctl one (its gRPC client's).
 */
@Timeout(120)
class TempDirIT {
  static final Pool POOL = IpamServerTest.pool("pods", "198.18.61.0/24");

  @TempDir Path dir;

  @Test
  void jipamdOnEtcdKilledAndJipamctlExited_leaveNothingInTempDir() throws Exception {
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    List<String> jvm = new ArrayList<>(JipamdProcess.LEAN_JVM);
    jvm.add("-Djava.io.tmpdir=" + tmp);
    String classPath = System.getProperty("java.class.path");
    try (Etcd etcd = Etcd.single()) {
      Path config = dir.resolve("etcd.json");
      Files.writeString(config, "{\"endpoints\": [\"" + etcd.endpoint() + "\"], \"node\": \"node-a\","
          + " \"prefix\": \"/tmpdir\", \"timeoutMillis\": 10000}");
      Path socket = dir.resolve("j.sock");
      JipamdProcess jipamd = ServerJipamd.start(dir, jvm, classPath, List.of("--socket", socket.toString(),
          "--store", "etcd", "--etcd-config", config.toString()));
      try {
        // an allocation through it: its etcd client is connected and its servers have served
        try (RemoteStore store = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket)
            .withTimeout(Duration.ofSeconds(30)))) {
          store.allocate(POOL, new AllocationRequest(new Attachment("c1", "eth0"), List.of(), new PodRef("ns", "p1")));
        }
        List<String> ctl = JipamdProcess.jvm(jvm, classPath, Jipamctl.class.getName(),
            List.of("--server", "unix:" + socket, "--timeout", "60", "-o", "json", "usage"));
        Exec.Result usage = Exec.run(dir, ctl, null, new byte[0], Duration.ofSeconds(90));
        assertEquals(0, usage.exit(), usage::toString);
        assertEquals(List.of(), entries(tmp), "after jipamctl exited");
        jipamd.kill();
        assertFalse(jipamd.isAlive());
      } finally {
        jipamd.close();
      }
    }
    assertEquals(List.of(), entries(tmp), "after jipamd was killed (SIGKILL)");
  }

  private static List<String> entries(Path dir) throws java.io.IOException {
    try (Stream<Path> all = Files.list(dir)) {
      return all.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
