package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.testkit.Await;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import io.jipam.testkit.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A change a node's jipamd gave up on, held up on its way to a central replica (here: the replica
 * SIGSTOPped with the request in its socket), while the runtime went on through another replica:
 * when it arrives it is refused (it came after its apply-by time), never applied. Before, a stale
 * Allocate held an address for an attachment whose DEL had succeeded (leaked), and a stale Release
 * freed the address of the attachment ADDed again since (two pods on it).
 */
@Timeout(180)
class StaleChangeIT {
  /** The node's bound on a call: its changes must apply within three quarters of it or not at all. */
  private static final Duration NODE_TIMEOUT = Duration.ofSeconds(2);

  @TempDir Path dir;

  @Test
  void changes_heldUpPastTheNodesTimeoutWhileTheRuntimeWentOn_refusedWhenTheyArrive() throws Exception {
    TestCerts certs = TestCerts.make(Files.createDirectory(dir.resolve("certs"))).client("node-a", "ca");
    String prefix = "/stale-it-" + UUID.randomUUID();
    Pool pool = IpamServerTest.pool("stale", "198.18.60.0/24");
    int[] ports = Ports.free(2);
    try (Etcd etcd = Etcd.single();
        JipamdProcess paused = replica(etcd, certs, prefix, 0, ports[0]);
        JipamdProcess live = replica(etcd, certs, prefix, 1, ports[1]);
        RemoteStore viaPaused = RemoteStore.connect(target(certs, ports[0]).withTimeout(NODE_TIMEOUT), "node-a");
        RemoteStore viaLive = RemoteStore.connect(target(certs, ports[1]), "node-a")) {
      EtcdReplicasIT.awaitEtcd(viaLive, pool);
      EtcdReplicasIT.awaitEtcd(viaPaused, pool); // its connection is up: the next request sits in the socket

      // an ADD whose Allocate is held up; the runtime's DEL then succeeds through the other replica
      Attachment added = new Attachment("stale-add", "eth0");
      pause(paused);
      try {
        IpamException gaveUp = assertThrows(IpamException.class,
            () -> viaPaused.allocate(pool, AllocationRequest.of(added)));
        assertEquals(ErrorCode.TRY_AGAIN_LATER, gaveUp.code(), gaveUp::getMessage);
        assertEquals(List.of(), viaLive.release(pool, added));
      } finally {
        resume(paused); // a stopped jipamd would not stop on SIGTERM at the end
      }
      awaitRefused(paused, "Allocate", added);
      assertEquals(List.of(), viaLive.find(pool, added), "a stale Allocate after the DEL leaks the address");

      // a DEL whose Release is held up; the runtime's retried DEL succeeds, then an ADD of the same ID
      Attachment readded = new Attachment("stale-del", "eth0");
      allocated(viaLive.allocate(pool, AllocationRequest.of(readded)));
      pause(paused);
      IpAddress now;
      try {
        IpamException gaveUp = assertThrows(IpamException.class, () -> viaPaused.release(pool, readded));
        assertEquals(ErrorCode.TRY_AGAIN_LATER, gaveUp.code(), gaveUp::getMessage);
        assertEquals(1, viaLive.release(pool, readded).size());
        now = allocated(viaLive.allocate(pool, AllocationRequest.of(readded)));
      } finally {
        resume(paused);
      }
      awaitRefused(paused, "Release", readded);
      List<Allocation> held = viaLive.find(pool, readded);
      assertEquals(1, held.size(), "a stale Release frees the address of the attachment ADDed since: " + held);
      assertEquals(now, held.get(0).address());

      // a change that arrives in time still applies through the replica that was paused
      Attachment fresh = new Attachment("fresh", "eth0");
      allocated(viaPaused.allocate(pool, AllocationRequest.of(fresh)));
      assertEquals(1, viaLive.find(pool, fresh).size());
    }
  }

  private static IpAddress allocated(AllocationOutcome out) {
    return assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString).allocations().get(0).address();
  }

  /** SIGSTOP, and waits until the process is stopped (state T). */
  private static void pause(JipamdProcess j) throws Exception {
    signal(j, "STOP");
    Path stat = Path.of("/proc/" + j.pid() + "/stat");
    Await.until(() -> Files.readString(stat).replaceFirst("^.*\\) ", "").startsWith("T"), Duration.ofSeconds(10),
        "jipamd " + j.pid() + " stopped");
  }

  private static void resume(JipamdProcess j) throws Exception {
    signal(j, "CONT");
  }

  private static void signal(JipamdProcess j, String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(j.pid())).inheritIO().start();
    assertEquals(0, kill.waitFor(), "kill -" + signal);
  }

  /** Waits for the replica's call log to show the held-up call of {@code a}, and checks it was refused. */
  private static void awaitRefused(JipamdProcess j, String method, Attachment a) {
    String mark = "method=" + method;
    Await.until(() -> j.output().lines().anyMatch(l -> l.contains(mark) && l.contains(a.containerId())),
        Duration.ofSeconds(30), () -> "the held-up " + method + " of " + a + " in the log:\n" + j.output());
    String line = j.output().lines().filter(l -> l.contains(mark) && l.contains(a.containerId())).findFirst()
        .orElseThrow();
    if (!line.contains("not applied")) {
      throw new AssertionError("the held-up " + method + " was not refused: " + line);
    }
  }

  private JipamdProcess replica(Etcd etcd, TestCerts certs, String prefix, int r, int port) throws Exception {
    Path config = dir.resolve("etcd-" + r + ".json");
    Files.writeString(config, "{\"endpoints\": [\"" + etcd.endpoint() + "\"], \"node\": \"central-" + r
        + "\", \"prefix\": \"" + prefix + "\", \"timeoutMillis\": 10000}");
    return ServerJipamd.start(dir, "--no-socket", "--listen", "127.0.0.1:" + port, "--log-calls",
        "--tls-cert", certs.pem("server").toString(), "--tls-key", certs.key("server").toString(),
        "--client-ca", certs.pem("ca").toString(), "--store", "etcd", "--etcd-config", config.toString());
  }

  private static RemoteStore.Target target(TestCerts certs, int port) {
    return RemoteStore.Target.parse("127.0.0.1:" + port).withTimeout(Duration.ofSeconds(15))
        .withTls(new RemoteStore.Tls(certs.pem("ca"), certs.pem("node-a"), certs.key("node-a")));
  }
}
