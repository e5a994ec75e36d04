package io.jipam.bench.tools;

import io.jipam.bench.etcd.EtcdLoads;
import java.util.List;

/**
 * The raw one-CAS-per-allocation ceiling of an etcd ({@link EtcdLoads#rawCas}: each client
 * compare-and-swaps its own key in a loop, one transaction per would-be allocation), for scripts
 * that compare a store against it in the same run.
 *
 * <pre>java -cp bench/target/classes:bench/target/lib/* io.jipam.bench.tools.RawCasCeiling \
 *     http://127.0.0.1:2379 SECONDS CLIENTS...</pre>
 * Prints one line per client count: {@code raw_cas clients=N tx_per_s=X}.
 */
public final class RawCasCeiling {
  private RawCasCeiling() {}

  public static void main(String[] args) throws Exception {
    List<String> endpoints = List.of(args[0].split(","));
    int seconds = Integer.parseInt(args[1]);
    for (int i = 2; i < args.length; i++) {
      int clients = Integer.parseInt(args[i]);
      System.out.printf("raw_cas clients=%d tx_per_s=%.0f%n", clients, EtcdLoads.rawCas(endpoints, clients, seconds));
    }
    System.exit(0);
  }
}
