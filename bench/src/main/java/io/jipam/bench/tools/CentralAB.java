package io.jipam.bench.tools;

import io.jipam.bench.etcd.EtcdLoads;
import io.jipam.bench.service.PairLoad;
import io.jipam.bench.support.Dirs;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Two builds of jipamd as the central jipamd of the same load, side by side in one run: one
 * one-member etcd, a central {@code jipamd --store etcd} of each build (own key prefix, plain TCP
 * on loopback), each warmed up until its JIT settled; then per round the raw one-CAS ceiling (one
 * client per caller) and
 * a window of {@code nodes} x {@code callers} clients (client c naming node c % nodes) on each
 * build, the order swapped every round so that a drift of the machine's load weighs on both alike.
 * For changes to the central path, where the machine is shared and figures of separate runs are not
 * comparable: what counts is each round's pair of windows, taken within seconds of each other.
 *
 * <pre>java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.tools.CentralAB \
 *     JIPAMD_A JIPAMD_B [rounds=6] [seconds=8] [nodes=16] [callers=4]</pre>
 */
public final class CentralAB {
  private CentralAB() {}

  public static void main(String[] args) throws Exception {
    Path[] launchers = {Path.of(args[0]).toAbsolutePath(), Path.of(args[1]).toAbsolutePath()};
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 6;
    int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
    int nodes = args.length > 4 ? Integer.parseInt(args[4]) : 16;
    int callers = args.length > 5 ? Integer.parseInt(args[5]) : 4;
    int clients = nodes * callers;
    Path dir = Dirs.temporary("jipam-central-ab");
    System.out.printf("load average at start: %s%n", Files.readString(Path.of("/proc/loadavg")).trim());
    try (Etcd etcd = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start()) {
      List<String> endpoints = etcd.endpoints();
      List<JipamdProcess> centrals = new ArrayList<>();
      String[] targets = new String[2];
      try {
        for (int i = 0; i < 2; i++) {
          Path config = dir.resolve("etcd-" + i + ".json");
          Files.writeString(config, "{\"endpoints\": [\"" + endpoints.get(0) + "\"], \"node\": \"central-" + i
              + "\", \"prefix\": \"/central-ab-" + UUID.randomUUID() + "\", \"timeoutMillis\": 10000}");
          int port = Ports.free();
          JipamdProcess p = JipamdProcess.launchOnSocket(launchers[i], dir.resolve("c" + i + ".sock"),
              List.of("--listen", "127.0.0.1:" + port, "--insecure", "--store", "etcd", "--etcd-config",
                  config.toString(), "--workers", Integer.toString(clients + 8)), List.of());
          centrals.add(p);
          p.awaitReady();
          targets[i] = "127.0.0.1:" + port;
        }
        for (int i = 0; i < 2; i++) {
          PairLoad.run(targets[i], clients, 4, nodes, Duration.ofSeconds(2), PairLoad.MAX_WARMUP,
              Duration.ofSeconds(2), centrals.get(i).pid());
        }
        double[][] cpu = new double[2][rounds];
        double[][] cpuWithoutJit = new double[2][rounds];
        double[][] toRaw = new double[2][rounds];
        for (int r = 0; r < rounds; r++) {
          double raw = EtcdLoads.rawCas(endpoints, nodes, callers, Duration.ofSeconds(1), Duration.ofSeconds(seconds), null);
          for (int k = 0; k < 2; k++) {
            int i = (r + k) % 2;
            PairLoad.Result got = PairLoad.run(targets[i], clients, 4, nodes, Duration.ofSeconds(2),
                Duration.ofSeconds(2), Duration.ofSeconds(seconds), centrals.get(i).pid());
            cpu[i][r] = got.serverCpuPerPairMillis();
            cpuWithoutJit[i][r] = got.cpuPerPairWithoutJitMillis()[1];
            toRaw[i][r] = got.pairsPerSecond() / raw;
            System.out.printf("round %d %s: %.0f pairs/s, %.2fx raw (%.0f tx/s), p99 %.0f ms, jipamd CPU/pair %.3f ms"
                    + " (without JIT %.3f), failures %d, load %s%n", r + 1, i == 0 ? "A" : "B", got.pairsPerSecond(),
                toRaw[i][r], raw, got.latencyMillis(0.99), cpu[i][r], cpuWithoutJit[i][r],
                got.failures(), Files.readString(Path.of("/proc/loadavg")).trim());
          }
        }
        for (int i = 0; i < 2; i++) {
          System.out.printf("%s (%s): median jipamd CPU/pair %.3f ms (without JIT %.3f), median pairs/s over raw"
              + " %.2fx%n", i == 0 ? "A" : "B", launchers[i], median(cpu[i]), median(cpuWithoutJit[i]), median(toRaw[i]));
        }
      } finally {
        for (JipamdProcess p : centrals) {
          p.close();
        }
      }
    }
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    java.util.Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
