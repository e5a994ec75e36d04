package io.jipam.bench.cluster;

import io.jipam.bench.etcd.EtcdLoads;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.testkit.Etcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import picocli.CommandLine.Option;

/**
 * {@code cluster}: simulated nodes against real etcd clusters started here (by default a
 * one-member and a three-member cluster, both on loopback, both running for the whole scenario),
 * with 1 to 16 nodes. Per (cluster, nodes) group, three designs measured back to back with {@link
 * EtcdBench}'s phases: jipam's etcd store ({@code nodes} store instances, {@code callers} ADD
 * threads each), the raw ceiling of one compare-and-swap transaction per allocation ({@code nodes}
 * clients with {@code callers} loops each on keys of their own: one per ADD thread of the store), and one global etcd lock around every allocation (whereabouts'
 * design, {@code nodes} clients); then a {@link TightPool} fill.
 *
 * <h2>Method</h2>
 * Each round visits every group once, groups in an order drawn from the seed and the three
 * designs of a group in a seeded order right after one another, so a group's ratios compare
 * figures taken within seconds of each other. Each design phase has a warm-up then a measured
 * window; the summary gives medians over rounds and the ratios of those medians.
 */
public final class ClusterScenario implements Scenario {
  static final String RAW = "raw CAS";
  static final String LOCK = "global lock";
  static final String STORE = "jipam etcd store";
  static final String TIGHT = "tight pool";

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--members", paramLabel = "N", split = ",",
        description = "etcd cluster sizes, each started here (default: 1,3)")
    List<Integer> members;

    @Option(names = "--nodes", paramLabel = "N", split = ",",
        description = "simulated nodes per measurement (default: 1,4,8,16; --quick: 1,2)")
    List<Integer> nodes;

    @Option(names = "--callers", paramLabel = "N",
        description = "ADD threads per node on the store, and pods started at once per node in the tight pool "
            + "(default: 16; --quick: 2)")
    Integer callers;

    @Option(names = "--pods-per-node", paramLabel = "N",
        description = "tight pool: pods per node; the pool has nodes x this many addresses (default: 16; --quick: 4)")
    Integer podsPerNode;

    @Option(names = "--seconds", paramLabel = "S",
        description = "measured seconds per design phase (default: 0.8; --quick: 0.3)")
    Double seconds;

    @Option(names = "--warmup", paramLabel = "S",
        description = "warm-up seconds before each phase's window (default: 0.3; --quick: 0.2)")
    Double warmup;
  }

  private final Options options;

  public ClusterScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "cluster";
  }

  List<Integer> members() {
    return options.members != null ? options.members : List.of(1, 3);
  }

  List<Integer> nodes(boolean quick) {
    return options.nodes != null ? options.nodes : quick ? List.of(1, 2) : List.of(1, 4, 8, 16);
  }

  int callers(boolean quick) {
    return options.callers != null ? options.callers : quick ? 2 : 16;
  }

  int podsPerNode(boolean quick) {
    return options.podsPerNode != null ? options.podsPerNode : quick ? 4 : 16;
  }

  double seconds(boolean quick) {
    return options.seconds != null ? options.seconds : quick ? 0.3 : 0.8;
  }

  private double warmup(boolean quick) {
    return options.warmup != null ? options.warmup : quick ? 0.2 : 0.3;
  }

  int rounds(RunContext c) {
    return c.roundsOr(c.quick() ? 1 : 3);
  }

  @Override
  public void validate(boolean quick) {
    for (int m : members()) {
      if (m < 1 || m > 7) {
        throw new IllegalArgumentException("--members: each must be in [1, 7], got " + m);
      }
    }
    for (int n : nodes(quick)) {
      if (n < 1 || n > 256) {
        throw new IllegalArgumentException("--nodes: each must be in [1, 256], got " + n);
      }
    }
    if (callers(quick) < 1 || callers(quick) > 256) {
      throw new IllegalArgumentException("--callers must be in [1, 256], got " + callers(quick));
    }
    int maxNodes = nodes(quick).stream().mapToInt(Integer::intValue).max().orElse(1);
    if (podsPerNode(quick) < 1 || (long) podsPerNode(quick) * maxNodes > 65_000) {
      throw new IllegalArgumentException("--pods-per-node must be >= 1 with nodes x pods <= 65000, got "
          + podsPerNode(quick) + " x " + maxNodes);
    }
    if (!(seconds(quick) > 0 && seconds(quick) <= 600)) {
      throw new IllegalArgumentException("--seconds must be in (0, 600], got " + seconds(quick));
    }
    if (!(warmup(quick) >= 0 && warmup(quick) <= 600)) {
      throw new IllegalArgumentException("--warmup must be in [0, 600], got " + warmup(quick));
    }
  }

  @Override
  public long steps(RunContext c) {
    // one step per cluster started, then per round and group: three designs and the tight pool
    return members().size() + (long) rounds(c) * members().size() * nodes(c.quick()).size() * 4;
  }

  static String workload(int members, int nodes, int callers) {
    return "members=" + members + ";nodes=" + nodes + ";callers=" + callers;
  }

  static String tightWorkload(int members, int nodes, int pods) {
    return "members=" + members + ";nodes=" + nodes + ";pods=" + pods;
  }

  @Override
  public void run(RunContext c) throws Exception {
    if (Etcd.binary() == null) {
      throw new IllegalStateException("no etcd binary on PATH: apt-get install etcd-server");
    }
    boolean quick = c.quick();
    Duration warm = Duration.ofNanos((long) (warmup(quick) * 1e9));
    Duration measured = Duration.ofNanos((long) (seconds(quick) * 1e9));
    int callers = callers(quick);
    Map<Integer, Etcd> clusters = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    try {
      for (int m : members()) {
        c.progress().step("starting a " + m + "-member etcd");
        clusters.put(m, Etcd.builder().members(m).timing(Etcd.Timing.ETCD_DEFAULT).start());
        c.progress().advance(1);
      }
      List<int[]> groups = new ArrayList<>(); // {members, nodes}
      for (int m : members()) {
        for (int n : nodes(quick)) {
          groups.add(new int[] {m, n});
        }
      }
      Random order = new Random(c.random(name()).nextLong());
      for (int r = 0; r < rounds(c); r++) {
        List<int[]> shuffled = new ArrayList<>(groups);
        Collections.shuffle(shuffled, order);
        for (int[] g : shuffled) {
          List<String> endpoints = clusters.get(g[0]).endpoints();
          int nodes = g[1];
          String w = workload(g[0], nodes, callers);
          List<String> designs = new ArrayList<>(List.of(RAW, LOCK, STORE));
          Collections.shuffle(designs, order);
          for (String design : designs) {
            c.progress().step("round " + (r + 1) + ": " + g[0] + "-member etcd, " + nodes + " nodes, " + design);
            switch (design) {
              case RAW -> add(c, w, RAW, "transaction", r, "throughput", "ops/s", 1,
                  EtcdLoads.rawCas(endpoints, nodes, callers, warm, measured, null));
              case LOCK -> add(c, w, LOCK, "ADD", r, "throughput", "ops/s", 1,
                  EtcdLoads.globalLock(endpoints, nodes, warm, measured));
              default -> {
                double[] store = EtcdLoads.storeAdd(endpoints, nodes, callers, warm, measured);
                add(c, w, STORE, "ADD", r, "throughput", "ops/s", 1, store[0]);
                add(c, w, STORE, "ADD", r, "requests per transaction", "requests", 1, store[1]);
              }
            }
            c.progress().advance(1);
          }
          c.progress().step("round " + (r + 1) + ": " + g[0] + "-member etcd, " + nodes + " nodes, tight pool");
          String problem = tight(c, endpoints, g[0], nodes, r);
          if (problem != null) {
            problems.add("round " + (r + 1) + ", " + g[0] + "-member etcd, " + nodes + " nodes: " + problem);
          }
          c.progress().advance(1);
        }
      }
    } finally {
      for (Etcd e : clusters.values()) {
        e.close();
      }
    }
    new ClusterReport(c, name(), members(), nodes(quick), callers, podsPerNode(quick), rounds(c), warmup(quick),
        seconds(quick), problems).write();
  }

  /** One tight-pool fill; the first problem it saw, or null. */
  private String tight(RunContext c, List<String> endpoints, int members, int nodes, int round) throws Exception {
    int podsPerNode = podsPerNode(c.quick());
    TightPool.Outcome o = TightPool.run(endpoints, nodes, podsPerNode, callers(c.quick()));
    String w = tightWorkload(members, nodes, o.pods());
    add(c, w, STORE, TIGHT, round, "fill time", "ms", o.pods(), o.fillNanos() / 1e6);
    add(c, w, STORE, TIGHT, round, "placed", "pods", 1, o.placed());
    add(c, w, STORE, TIGHT, round, "duplicates", "addresses", 1, o.duplicates());
    add(c, w, STORE, TIGHT, round, "listed", "allocations", 1, o.listed());
    add(c, w, STORE, TIGHT, round, "retries", "calls", 1, o.retries());
    add(c, w, STORE, TIGHT, round, "errors", "pods", 1, o.errors());
    add(c, w, STORE, TIGHT, round, "refused", "pods", 1, o.refused());
    add(c, w, STORE, TIGHT, round, "full after", "bool", 1, o.fullAfter() ? 1 : 0);
    add(c, w, STORE, TIGHT, round, "all placed", "bool", 1, o.allPlaced() ? 1 : 0);
    return o.firstProblem();
  }

  private void add(RunContext c, String workload, String subject, String operation, int round, String metric,
      String unit, int calls, double value) {
    c.results().add(new Sample(name(), workload, subject, operation, round, metric, unit, calls, value));
  }
}
