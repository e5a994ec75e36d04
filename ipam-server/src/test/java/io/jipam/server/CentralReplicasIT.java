package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.jipam.core.store.capability.ListPages;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.GetOption;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import io.jipam.testkit.TestCerts;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two central jipamd replicas (child processes, {@code --store etcd}, mutual TLS) serving the same
 * 8 nodes at once, 4 callers per node (each node's own certificate, its calls spread over both
 * replicas), churning allocate/release for a bounded number of cycles while the replicas are
 * restarted one after the other (a rollout: the first stopped, the second killed with SIGKILL while
 * its shared transactions of several nodes' changes are in flight): no address is held twice, no
 * acknowledged ADD or DEL is lost (what is allocated at the end is exactly what the callers were
 * told they hold), every block's owner and every handle's node is one of the 8 nodes, nothing in
 * etcd is under a replica's name, and {@code jipamctl check} is clean.
 */
@Order(1) // among the module's longest (about 25 s in a suite run): started first, not last
@Timeout(300)
class CentralReplicasIT {
  private static final int NODES = 8;
  private static final int CALLERS = 4;
  private static final int CYCLES = 20;
  /** How long a caller repeats a call answered TRY_AGAIN_LATER (a replica restarting on a loaded machine). */
  private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(60);

  @TempDir Path dir;

  @Test
  void twoReplicas_rolledAndKilledDuringChurnOf8Nodes_noAddressTwiceNoAcknowledgedChangeLost() throws Exception {
    TestCerts certs = TestCerts.make(Files.createDirectory(dir.resolve("certs"))).ca("operator-ca")
        .client("admin", "operator-ca");
    List<String> nodes = new ArrayList<>();
    for (int n = 0; n < NODES; n++) {
      nodes.add("node-" + n);
      certs.client("node-" + n, "ca");
    }
    String prefix = "/replicas-it-" + UUID.randomUUID();
    Pool pool = IpamServerTest.pool("rollout", "198.18.48.0/22");
    int[] ports = Ports.free(2);
    JipamdProcess[] replicas = new JipamdProcess[2];
    List<RemoteStore> remotes = new ArrayList<>();
    ExecutorService callers = Executors.newFixedThreadPool(NODES * CALLERS);
    try (Etcd etcd = Etcd.single()) {
      for (int r = 0; r < 2; r++) {
        replicas[r] = replica(etcd, certs, prefix, r, ports[r]);
      }
      RemoteStore operator = RemoteStore.connect(target(certs, "admin", ports[0]));
      remotes.add(operator);
      EtcdReplicasIT.awaitEtcd(operator, pool);
      ConcurrentHashMap<IpAddress, Attachment> holders = new ConcurrentHashMap<>();
      List<String> violations = Collections.synchronizedList(new ArrayList<>());
      AtomicLong cycles = new AtomicLong();
      List<Future<?>> futures = new ArrayList<>();
      for (int c = 0; c < NODES * CALLERS; c++) {
        String node = nodes.get(c % NODES);
        RemoteStore store = RemoteStore.connect(target(certs, node, ports[c % 2]), node);
        remotes.add(store);
        int id = c;
        futures.add(callers.submit(() -> {
          for (int n = 0; n < CYCLES; n++) {
            Attachment mine = new Attachment(node + "-c" + id + "-" + n, "eth0");
            IpAddress a = allocate(store, pool, mine);
            Attachment before = holders.putIfAbsent(a, mine);
            if (before != null) {
              violations.add(a + " held by " + before + " and " + mine);
            }
            if (n % 10 != 9) { // every tenth stays allocated
              holders.remove(a, mine);
              release(store, pool, mine);
            }
            cycles.incrementAndGet();
          }
          return null;
        }));
      }
      long total = (long) NODES * CALLERS * CYCLES;
      for (int r = 0; r < 2; r++) { // the rollout: one replica after the other, at a third and two thirds
        awaitCycles(cycles, total * (r + 1) / 3, futures);
        if (r == 0) {
          replicas[r].stop();
        } else {
          replicas[r].kill(); // mid-commit: its callers' changes are in flight, in shared transactions
        }
        replicas[r] = replica(etcd, certs, prefix, r, ports[r]);
      }
      for (Future<?> f : futures) {
        f.get(120, TimeUnit.SECONDS);
      }
      assertEquals(List.of(), violations);
      assertEquals(total, cycles.get());

      Set<String> owners = new TreeSet<>();
      operator.status(pool).blocks().forEach(b -> owners.add(b.owner()));
      assertTrue(nodes.containsAll(owners), "block owners " + owners);
      Set<String> handleNodes = new TreeSet<>();
      Set<IpAddress> listed = new java.util.HashSet<>();
      for (ListPages.Listed l : operator.list(pool, ListPages.Filter.ALL)) {
        handleNodes.add(l.node());
        assertTrue(listed.add(l.allocation().address()), "listed twice: " + l);
      }
      assertEquals(new TreeSet<>(nodes), handleNodes, "every handle under a real node");
      assertEquals(holders.keySet(), listed);
      assertEquals(List.of(), keysNaming(etcd, prefix, "central-"), "nothing under a replica's name");
      // the check's calls read every pool: a slower bound than the default 5 s on a loaded machine
      CtlRun check = CtlRun.of("--server", "127.0.0.1:" + ports[1], "--ca", certs.pem("ca").toString(),
          "--cert", certs.pem("admin").toString(), "--key", certs.key("admin").toString(), "--timeout", "30", "check");
      assertEquals(0, check.exit(), check.toString());
    } finally {
      callers.shutdownNow();
      remotes.forEach(RemoteStore::close);
      for (JipamdProcess r : replicas) {
        if (r != null) {
          r.close();
        }
      }
    }
  }

  private JipamdProcess replica(Etcd etcd, TestCerts certs, String prefix, int r, int port) throws Exception {
    Path config = dir.resolve("etcd-" + r + ".json");
    Files.writeString(config, "{\"endpoints\": [\"" + etcd.endpoint() + "\"], \"node\": \"central-" + r
        + "\", \"prefix\": \"" + prefix + "\", \"timeoutMillis\": 10000}");
    return ServerJipamd.start(dir, "--no-socket", "--listen", "127.0.0.1:" + port,
        "--tls-cert", certs.pem("server").toString(), "--tls-key", certs.key("server").toString(),
        "--client-ca", certs.pem("ca").toString(), "--operator-ca", certs.pem("operator-ca").toString(),
        "--store", "etcd", "--etcd-config", config.toString(), "--workers", "16");
  }

  private static RemoteStore.Target target(TestCerts certs, String cert, int port) {
    return RemoteStore.Target.parse("127.0.0.1:" + port).withTimeout(Duration.ofSeconds(15))
        .withTls(new RemoteStore.Tls(certs.pem("ca"), certs.pem(cert), certs.key(cert)));
  }

  /**
   * Allocates, repeating after TRY_AGAIN_LATER (a replica restarting, contention) for up to a minute
   * as the runtime repeats an ADD: a repeated ADD of the attachment returns what it holds.
   */
  private static IpAddress allocate(RemoteStore store, Pool pool, Attachment a) throws InterruptedException {
    long until = System.nanoTime() + RETRY_NANOS;
    while (true) {
      try {
        AllocationOutcome out = store.allocate(pool, AllocationRequest.of(a));
        if (out instanceof AllocationOutcome.Allocated got) {
          return got.allocations().get(0).address();
        }
        throw new AssertionError(a + ": " + out);
      } catch (IpamException e) {
        if (System.nanoTime() > until || e.code() != ErrorCode.TRY_AGAIN_LATER) {
          throw e;
        }
        Thread.sleep(50);
      }
    }
  }

  private static void release(RemoteStore store, Pool pool, Attachment a) throws InterruptedException {
    long until = System.nanoTime() + RETRY_NANOS;
    while (true) {
      try {
        store.release(pool, a);
        return;
      } catch (IpamException e) {
        if (System.nanoTime() > until || e.code() != ErrorCode.TRY_AGAIN_LATER) {
          throw e;
        }
        Thread.sleep(50);
      }
    }
  }

  /** Waits until the callers have done {@code n} cycles (or one of them failed). */
  private static void awaitCycles(AtomicLong cycles, long n, List<Future<?>> futures) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (cycles.get() < n) {
      for (Future<?> f : futures) {
        if (f.isDone()) {
          f.get(); // throws the caller's failure
        }
      }
      assertTrue(System.nanoTime() < deadline, "callers stuck at " + cycles.get() + " cycles");
      Thread.sleep(20);
    }
  }

  /** Keys under the prefix that contain {@code text}. */
  private static List<String> keysNaming(Etcd etcd, String prefix, String text) throws Exception {
    List<String> out = new ArrayList<>();
    try (Client raw = Client.builder().endpoints(etcd.endpoint()).build()) {
      raw.getKVClient().get(ByteSequence.from(prefix, StandardCharsets.UTF_8),
          GetOption.builder().isPrefix(true).withKeysOnly(true).build()).get(10, TimeUnit.SECONDS).getKvs()
          .forEach(kv -> {
            String key = kv.getKey().toString(StandardCharsets.UTF_8);
            if (key.contains(text)) {
              out.add(key);
            }
          });
    }
    return out;
  }
}
