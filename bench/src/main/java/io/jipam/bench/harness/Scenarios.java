package io.jipam.bench.harness;

import java.util.LinkedHashMap;
import java.util.Map;

/** The scenario names, what each measures, and those the harness does not have yet. */
public final class Scenarios {
  private Scenarios() {}

  /** The scenarios this harness runs, name to one line for {@code --help}. */
  public static final Map<String, String> AVAILABLE = ordered(
      "allocator", "JMH: allocate+release by fill and range size, jipam's allocator vs models of "
          + "host-local's scan, Kubernetes' ClusterIP bitmap and a flat BitSet",
      "plugin", "whole-process ADD and DEL, jipam (direct and via jipamd) vs /usr/lib/cni/host-local on the same data dir, by "
          + "existing allocations, sequential and concurrent, with the JVM hello-world floor; wall "
          + "time and CPU per call",
      "etcd", "the etcd store's simulated nodes vs raw one-transaction-per-allocation CAS and one "
          + "global lock (whereabouts' design), on a real etcd started here",
      "service", "jipamd as a process per store (memory, file, etcd) under a load generator at 1-256 clients at "
          + "once: pairs per second, latency percentiles of an ADD+DEL pair, CPU per pair of jipamd and the clients",
      "cluster", "1-16 simulated nodes on a 1- and a 3-member etcd (started here): the etcd store vs raw "
          + "one-transaction-per-allocation CAS and one global lock, and a tight pool every pod must fill",
      "runtime", "containerd + runc (started here) running containers with `ctr run --cni` on a bridge whose "
          + "IPAM is jipam (direct, via jipamd) or host-local: containers per second and time to address, N at once; "
          + "skipped unless root with containerd installed",
      "churn", "pods arriving at a set rate with random lifetimes, ADD then DEL through the plugin processes "
          + "(jipam direct, host-local, jipam via jipamd): time to address and addresses in use over time",
      "all", "every scenario above, sized for about 10 minutes on 2 cores (longer on a loaded "
          + "machine: see docs/benchmarks.md)",
      "scale", "N nodes x P pods (default 1,000 x 110; --full 5,000 x 110) on a 1- and a 3-member etcd (started here), "
          + "every allocation through the etcd store: per-node and pool-wide operations at 1,000 to the full count of "
          + "allocations, etcd bytes per change, then a restart storm; not part of `all`");

  private static Map<String, String> ordered(String... pairs) {
    Map<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      map.put(pairs[i], pairs[i + 1]);
    }
    return java.util.Collections.unmodifiableMap(map);
  }
}
