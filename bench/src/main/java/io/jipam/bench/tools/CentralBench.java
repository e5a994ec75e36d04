package io.jipam.bench.tools;

import io.jipam.bench.etcd.EtcdLoads;
import io.jipam.bench.service.CentralCell;
import io.jipam.bench.service.PairLoad;
import io.jipam.bench.support.Dirs;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * The "nodes through a central jipamd" topology under load, in one run against one one-member
 * etcd on loopback:
 *
 * <ol>
 *   <li>raw: {@code nodes × callers} compare-and-swap loops (one per caller) on {@code nodes} clients,
 *       the ceiling of one etcd transaction per allocation ({@link EtcdLoads#rawCas});
 *   <li>direct: {@code nodes} etcd store instances (as if every node ran its own jipamd on etcd),
 *       {@code callers} threads each, ADD+DEL pairs ({@link EtcdLoads#store}'s churn);
 *   <li>central, per node: one central jipamd process ({@code --store etcd}, plain TCP on
 *       loopback, {@code --workers} = all callers), {@code nodes} x {@code callers} clients each
 *       naming its node ({@code jipam-node}, as a node's jipamd does), ADD+DEL pairs
 *       ({@link PairLoad}); in a last such cell, {@code adds} daemon-mode ADDs of the built
 *       plugin ({@code dist/bin/jipam}) through a node jipamd ({@code --store remote}) to that
 *       central jipamd, one after the other, each timed from exec to exit;
 *   <li>central, one pipeline: the same clients naming no node (the central jipamd's own store,
 *       which is how every call ran before node identity).
 * </ol>
 * After one warm-up run (until the JIT compilers have settled), the two central designs alternate
 * for two rounds; the daemon-mode ADDs run in a further per-node cell, so that their JVM starts do
 * not weigh on the throughput figures.
 *
 * <pre>java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.tools.CentralBench \
 *     [nodes=16] [callers=4] [seconds=10] [adds=60]</pre>
 */
public final class CentralBench {
  private CentralBench() {}

  public static void main(String[] args) throws Exception {
    int nodes = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    int callers = args.length > 1 ? Integer.parseInt(args[1]) : 4;
    int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
    int adds = args.length > 3 ? Integer.parseInt(args[3]) : 60;
    Path dist = Path.of(System.getProperty("jipam.dist", "dist")).toAbsolutePath();
    Path launcher = dist.resolve("bin/jipamd");
    Path plugin = dist.resolve("bin/jipam");
    Path dir = Dirs.temporary("jipam-central-bench");
    System.out.printf("load average at start: %s%n", loadAverage());
    try (Etcd etcd = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start()) {
      List<String> endpoints = etcd.endpoints();
      double raw = EtcdLoads.rawCas(endpoints, nodes, callers, Duration.ofSeconds(2), Duration.ofSeconds(seconds), null);
      System.out.printf("raw CAS, %d in flight on %d clients: %.0f transactions/s%n", nodes * callers, nodes, raw);
      double[] direct = EtcdLoads.store(endpoints, nodes, seconds, callers);
      System.out.printf("direct, %d nodes x %d callers on etcd: %.0f pairs/s (ADD only: %.0f/s)%n", nodes, callers,
          direct[1] / 2, direct[0]);

      Path config = dir.resolve("etcd.json");
      Files.writeString(config, "{\"endpoints\": [\"" + endpoints.get(0) + "\"], \"node\": \"central-0\", \"prefix\": \"/central-bench-"
          + UUID.randomUUID() + "\", \"timeoutMillis\": 10000}");
      int port = Ports.free();
      List<String> centralArgs = List.of("--listen", "127.0.0.1:" + port, "--insecure", "--store", "etcd",
          "--etcd-config", config.toString(), "--workers", Integer.toString(nodes * callers + 8));
      Path jipamd = Files.isExecutable(launcher) ? launcher : null;
      try (JipamdProcess central = JipamdProcess.launchOnSocket(jipamd, dir.resolve("etcd.sock"), centralArgs,
          List.of())) {
        central.awaitReady();
        Path nodeDir = Files.createDirectories(dir.resolve("node"));
        try (JipamdProcess node = JipamdProcess.launchOnSocket(jipamd, nodeDir.resolve("remote.sock"),
            List.of("--store", "remote", "--remote", "127.0.0.1:" + port, "--remote-insecure",
                "--node-name", "node-daemon"), List.of())) {
          node.awaitReady();
          String target = "127.0.0.1:" + port;
          int clients = nodes * callers;
          int connections = Math.min(4, clients);
          // one warm-up run until the JIT compilers of both processes have settled, discarded
          PairLoad.run(target, clients, connections, nodes, Duration.ofSeconds(2), PairLoad.MAX_WARMUP,
              Duration.ofSeconds(2), central.pid());
          List<Double> perNode = new ArrayList<>();
          List<Double> onePipeline = new ArrayList<>();
          for (int round = 0; round < 2; round++) { // the two designs alternate: a round's pair within seconds
            PairLoad.Result a = PairLoad.run(target, clients, connections, nodes, Duration.ofSeconds(2),
                Duration.ofSeconds(2), Duration.ofSeconds(seconds), central.pid());
            report("round " + (round + 1) + ", central, " + nodes + " nodes x " + callers + " clients, a store per node",
                a, raw);
            perNode.add(a.pairsPerSecond());
            PairLoad.Result b = PairLoad.run(target, clients, connections, 0, Duration.ofSeconds(2),
                Duration.ofSeconds(2), Duration.ofSeconds(seconds), central.pid());
            report("round " + (round + 1) + ", central, " + clients + " clients naming no node (one pipeline)", b, raw);
            onePipeline.add(b.pairsPerSecond());
          }
          double pn = mean(perNode);
          double one = mean(onePipeline);
          System.out.printf("mean of rounds: a store per node %.0f pairs/s, one pipeline %.0f pairs/s; per node / raw CAS"
              + " %.2fx, per node / direct %.2fx, per node / one pipeline %.2fx%n", pn, one, pn / raw,
              pn / (direct[1] / 2), pn / one);
          long[][] addMillis = new long[1][];
          Thread daemonAdds = new Thread(() -> addMillis[0] = CentralCell.daemonAdds(plugin, node.endpoint(), adds, dir));
          // the daemon-mode ADDs run inside a per-node cell's window (they start after its warm-up)
          PairLoad.Result withAdds = CentralCell.measureWhile(target, clients, nodes, Duration.ofSeconds(seconds),
              central.pid(), daemonAdds);
          report("central, a store per node, while the daemon-mode ADDs ran", withAdds, raw);
          long[] ms = addMillis[0];
          if (ms != null && ms.length > 0) {
            Arrays.sort(ms);
            System.out.printf("daemon-mode ADD (dist/bin/jipam -> node jipamd -> central jipamd -> etcd) under that load,"
                + " %d calls: p50 %d ms, p99 %d ms, max %d ms%n", ms.length, ms[ms.length / 2],
                ms[Math.min(ms.length - 1, (int) (ms.length * 0.99))], ms[ms.length - 1]);
          }
        }
      }
    }
    System.out.printf("load average at end: %s%n", loadAverage());
  }

  private static void report(String what, PairLoad.Result r, double raw) {
    System.out.printf("%s: %.0f pairs/s (%.2fx the raw CAS ceiling), pair latency p50 %.1f ms p99 %.1f ms,"
            + " failures %d, jipamd CPU/pair %.3f ms%n", what, r.pairsPerSecond(), r.pairsPerSecond() / raw,
        r.latencyMillis(0.5), r.latencyMillis(0.99), r.failures(), r.serverCpuPerPairMillis());
  }

  private static double mean(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }
}
