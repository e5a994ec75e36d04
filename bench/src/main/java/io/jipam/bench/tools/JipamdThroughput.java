package io.jipam.bench.tools;

import io.jipam.bench.service.PairLoad;
import java.time.Duration;

/**
 * jipamd's throughput from the command line: one {@link PairLoad} run against a running jipamd,
 * printed as two lines (pairs per second and latency; CPU per pair). {@code
 * bench/scripts/jipamd-throughput.sh} runs it once per store.
 *
 * <pre>java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.tools.JipamdThroughput \
 *     unix:/tmp/jipam.sock [clients=64] [connections=4] [warmupSeconds=3] [seconds=10] [jipamdPid]</pre>
 */
public final class JipamdThroughput {
  private JipamdThroughput() {}

  public static void main(String[] args) throws Exception {
    String address = args[0];
    int clients = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int connections = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    Duration warmup = Duration.ofSeconds(args.length > 3 ? Long.parseLong(args[3]) : 3);
    Duration window = Duration.ofSeconds(args.length > 4 ? Long.parseLong(args[4]) : 10);
    long pid = args.length > 5 ? Long.parseLong(args[5]) : -1;
    PairLoad.Result r = PairLoad.run(address, clients, connections, warmup, window, pid);
    System.out.printf("%s clients=%d connections=%d: %.0f pairs/s over %d s after %d s warm-up, pair latency"
            + " p50 %.2f ms p99 %.2f ms p99.9 %.2f ms, failures %d%n", address, clients, connections,
        r.pairsPerSecond(), window.toSeconds(), r.warmedUp().toSeconds(), r.latencyMillis(0.50),
        r.latencyMillis(0.99), r.latencyMillis(0.999), r.failures());
    // CPU per pair in the window: what bounds throughput on 2 shared cores whatever else runs
    double[] noJit = r.cpuPerPairWithoutJitMillis();
    System.out.printf("cpu_per_pair_ms jipamd=%.3f client=%.3f pairs=%d; without JIT compiler threads:"
            + " jipamd=%.3f client=%.3f%n", r.serverCpuPerPairMillis(), r.clientCpuPerPairMillis(), r.pairs(),
        noJit[1], noJit[0]);
  }
}
