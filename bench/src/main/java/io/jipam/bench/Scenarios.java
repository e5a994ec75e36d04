package io.jipam.bench;

import static io.jipam.bench.harness.ScenarioType.InAll.AT_DEFAULTS;
import static io.jipam.bench.harness.ScenarioType.InAll.NO;
import static io.jipam.bench.harness.ScenarioType.InAll.WITH_OPTIONS;

import io.jipam.bench.alloc.AllocatorScenario;
import io.jipam.bench.churn.ChurnScenario;
import io.jipam.bench.cluster.ClusterScenario;
import io.jipam.bench.etcd.EtcdScenario;
import io.jipam.bench.harness.ScenarioType;
import io.jipam.bench.plugin.PluginScenario;
import io.jipam.bench.runtime.RuntimeScenario;
import io.jipam.bench.scale.ScaleScenario;
import io.jipam.bench.service.ServiceScenario;
import java.util.List;

/**
 * The scenario registry: every scenario {@code jipam-bench} runs, in the order of {@code --help}
 * and of {@code all}. The subcommands, {@code all} and the help are built from this list, so
 * adding a scenario is one entry here (and the scenario's own class).
 */
public final class Scenarios {
  private Scenarios() {}

  /** The scenarios, in order. */
  public static final List<ScenarioType<?>> ALL = List.of(
      new ScenarioType<>("allocator", "JMH: allocate+release by fill and range size, jipam's allocator vs models of "
          + "host-local's scan, Kubernetes' ClusterIP bitmap and a flat BitSet",
          WITH_OPTIONS, AllocatorScenario.Options::new, AllocatorScenario::new),
      new ScenarioType<>("plugin", "whole-process ADD and DEL, jipam (direct and via jipamd) vs /usr/lib/cni/host-local "
          + "on the same data dir, by existing allocations, sequential and concurrent, with the JVM hello-world floor; "
          + "wall time and CPU per call",
          WITH_OPTIONS, PluginScenario.Options::new, PluginScenario::new),
      new ScenarioType<>("etcd", "the etcd store's simulated nodes vs raw one-transaction-per-allocation CAS and one "
          + "global lock (whereabouts' design), on a real etcd started here",
          WITH_OPTIONS, EtcdScenario.Options::new, EtcdScenario::new),
      new ScenarioType<>("service", "jipamd as a process per store (memory, file, etcd) under a load generator at 1-256 "
          + "clients at once: pairs per second, latency percentiles of an ADD+DEL pair, CPU per pair of jipamd and the "
          + "clients",
          AT_DEFAULTS, ServiceScenario.Options::new, ServiceScenario::new),
      new ScenarioType<>("cluster", "1-16 simulated nodes on a 1- and a 3-member etcd (started here): the etcd store vs "
          + "raw one-transaction-per-allocation CAS and one global lock, and a tight pool every pod must fill",
          AT_DEFAULTS, ClusterScenario.Options::new, ClusterScenario::new),
      new ScenarioType<>("runtime", "containerd + runc (started here) running containers with `ctr run --cni` on a "
          + "bridge whose IPAM is jipam (direct, via jipamd) or host-local: containers per second and time to address, "
          + "N at once; skipped unless root with containerd installed",
          AT_DEFAULTS, RuntimeScenario.Options::new, RuntimeScenario::new),
      new ScenarioType<>("churn", "pods arriving at a set rate with random lifetimes, ADD then DEL through the plugin "
          + "processes (jipam direct, host-local, jipam via jipamd): time to address and addresses in use over time",
          AT_DEFAULTS, ChurnScenario.Options::new, ChurnScenario::new),
      new ScenarioType<>("scale", "N nodes x P pods (default 1,000 x 110; --full 5,000 x 110) on a 1- and a 3-member "
          + "etcd (started here), every allocation through the etcd store: per-node and pool-wide operations at 1,000 "
          + "to the full count of allocations, etcd bytes per change, then a restart storm; not part of `all`",
          NO, ScaleScenario.Options::new, ScaleScenario::new));

  /** What {@code all} says in {@code --help}. */
  static final String ALL_DESCRIPTION = "every scenario above, sized for about 10 minutes on 2 cores (longer on a "
      + "loaded machine: see docs/benchmarks.md)";
}
