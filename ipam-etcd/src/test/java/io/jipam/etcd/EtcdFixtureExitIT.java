package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Exec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared etcd fixture when its JVM exits with a cluster still open (a benchmark's
 * {@code System.exit}, a test run that crashed): the exit hook stops the members and deletes their
 * data. Before, it stopped the members only, and each such exit left about 120 MB under /tmp.
 */
class EtcdFixtureExitIT {
  @TempDir Path tmp;

  /** The child: starts a one-member cluster, prints its member's pid and exits without closing it. */
  public static void main(String[] args) throws Exception {
    Etcd etcd = Etcd.single();
    System.out.println(etcd.pids().get(0));
    System.out.flush();
    System.exit(0);
  }

  @Test
  void exit_clusterLeftOpen_membersStoppedAndDataDeleted() throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Exec.Result child = Exec.run(null, List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), EtcdFixtureExitIT.class.getName()),
        null, new byte[0], Duration.ofSeconds(60)).ok();
    long pid = Long.parseLong(child.stdout().strip());
    // the hook waited for the member; what the kernel shows of it may lag a little
    Await.until(() -> ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true), Duration.ofSeconds(10),
        "etcd member " + pid + " gone");
    try (Stream<Path> left = Files.list(tmp)) {
      assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("jipam-etcd-")).toList());
    }
  }
}
