package io.jipam.bench.tools;

import io.jipam.bench.etcd.EtcdLoads;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.List;

/**
 * Throughput of the etcd store against its two reference points ({@link EtcdLoads}: raw CAS, one
 * global lock, the store's simulated nodes), 8 clients or nodes, in one run against one etcd on
 * loopback: started here from the {@code etcd} binary on PATH, or the one {@code ETCD_ENDPOINTS}
 * names. Prints one line per figure and the two ratios. {@code jipam-bench etcd} runs the same
 * loads in rounds.
 *
 * <p>Usage: {@code java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.tools.EtcdBench
 * [seconds per phase, default 5] [caller threads per node, default 32]}
 */
public final class EtcdBench {
  private static final int CLIENTS = 8;

  private EtcdBench() {}

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 32;
    String env = System.getenv("ETCD_ENDPOINTS");
    Etcd etcd = env != null && !env.isBlank() ? null : Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start();
    List<String> endpoints = etcd != null ? etcd.endpoints() : List.of(env.split(","));
    try {
      System.out.printf("etcd %s, %d s per phase, %d clients/nodes, %d callers per node, %d cores%n",
          endpoints, seconds, CLIENTS, threads, Runtime.getRuntime().availableProcessors());
      // one raw client per caller of the store: the ceiling of one transaction per allocation at its concurrency
      double raw = EtcdLoads.rawCas(endpoints, CLIENTS, threads, Duration.ofSeconds(1), Duration.ofSeconds(seconds), null);
      System.out.printf("raw CAS, %4d in flight on %d clients: %8.0f transactions/s%n", CLIENTS * threads, CLIENTS, raw);
      double lock = EtcdLoads.globalLock(endpoints, CLIENTS, seconds);
      System.out.printf("global lock (whereabouts design):      %8.0f allocations/s%n", lock);
      double[] store = EtcdLoads.store(endpoints, CLIENTS, seconds, threads);
      System.out.printf("jipam etcd store, 8 nodes, ADD:        %8.0f allocations/s (%.1f requests per transaction)%n",
          store[0], store[2]);
      System.out.printf("jipam etcd store, 8 nodes, ADD+DEL:    %8.0f operations/s%n", store[1]);
      System.out.printf("ratio store ADD / global lock:         %8.1f x (goal >= 10)%n", store[0] / lock);
      System.out.printf("ratio store ADD / raw CAS:             %8.2f x (goal >= 2)%n", store[0] / raw);
    } finally {
      if (etcd != null) {
        etcd.close();
      }
    }
    System.exit(0);
  }
}
