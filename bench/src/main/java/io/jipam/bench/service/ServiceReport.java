package io.jipam.bench.service;

import io.jipam.bench.harness.Chart;
import io.jipam.bench.harness.Report;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Stats;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The {@code service} section of summary.md and its charts, from the run's samples. */
final class ServiceReport {
  private static final String[] PERCENTILES = {"p50", "p99", "p99.9"};

  private final RunContext c;
  private final String scenario;
  private final List<String> stores;
  private final List<Integer> concurrency;
  private final int rounds;
  private final double seconds;
  private final int connections;
  private final Path launcher;
  private final List<String> notes;

  ServiceReport(RunContext c, String scenario, List<String> stores, List<Integer> concurrency, int rounds,
      double seconds, int connections, Path launcher, List<String> notes) {
    this.c = c;
    this.scenario = scenario;
    this.stores = stores;
    this.concurrency = concurrency;
    this.rounds = rounds;
    this.seconds = seconds;
    this.connections = connections;
    this.launcher = launcher;
    this.notes = notes;
  }

  private List<Sample> samples(String store, int clients, String operation, String metric) {
    String workload = ServiceScenario.workload(clients, Math.min(clients, connections));
    return c.results().select(s -> s.scenario().equals(scenario) && s.workload().equals(workload)
        && s.subject().equals(store) && s.operation().equals(operation) && s.metric().equals(metric));
  }

  private double median(String store, int clients, String operation, String metric) {
    return Stats.median(samples(store, clients, operation, metric).stream().map(Sample::value).toList());
  }

  /** Sum of values over sum of calls: CPU per pair over every round. */
  private double perPair(String store, int clients, String metric) {
    double sum = 0;
    long calls = 0;
    for (Sample s : samples(store, clients, "pair", metric)) {
      sum += s.value();
      calls += s.calls();
    }
    return calls == 0 ? Double.NaN : sum / calls;
  }

  /** The launcher as the reader would type it: relative to the working directory when under it. */
  private static String shown(Object launcher) {
    java.nio.file.Path p = java.nio.file.Path.of(launcher.toString()).toAbsolutePath().normalize();
    java.nio.file.Path here = java.nio.file.Path.of("").toAbsolutePath();
    return p.startsWith(here) ? here.relativize(p).toString() : p.toString();
  }

  void write() throws IOException {
    Report r = c.report();
    r.heading(2, "service").paragraph("jipamd as a real process per store ("
        + (launcher != null ? "`" + shown(launcher) + "`" : "jipamd's class on the harness's class path")
        + "), each on a unix socket, loaded by `PairLoad`: N asynchronous clients in the harness over at "
        + "most " + connections + " HTTP/2 connections, each doing allocate + release of a new attachment "
        + "(container IDs never reused) on a /16 "
        + "(memory: jipamd's memory; file: a data dir in host-local's layout, no fsync; etcd: a one-member etcd "
        + "on loopback). " + rounds + " rounds of " + Report.fmt(seconds) + " s per cell after a short warm-up, "
        + "cells in an order drawn from the seed; medians over rounds. Latency is of a pair (ADD then DEL, "
        + "one after the other), in ms; a percentile is taken per round and the median of rounds given, so with "
        + "fewer than 1,000 pairs in a round p99.9 is that round's slowest pair (100 for p99). CPU per pair is "
        + "CPU over the measured windows divided by their pairs: jipamd's and etcd's `utime + stime` of "
        + "`/proc/<pid>/stat`, the harness's JVM's (the clients) from the JVM.");
    notes.forEach(r::paragraph);
    List<List<String>> rows = new ArrayList<>();
    List<String> unmeasured = new ArrayList<>();
    Chart throughput = new Chart(Chart.Kind.LINES, "jipamd: allocate+release pairs per second", "clients at once",
        "pairs per second (log)", Chart.Scale.LOG);
    for (String store : stores) {
      Chart latency = new Chart(Chart.Kind.LINES, "jipamd, " + store + " store: latency of an ADD+DEL pair",
          "clients at once", "ms (log)", Chart.Scale.LOG);
      for (int n : concurrency) {
        String category = Integer.toString(n);
        double pairs = median(store, n, "pair", "throughput");
        double perRound = Stats.median(samples(store, n, "pair", "throughput").stream()
            .map(s -> s.value() == 0 ? 0.0 : s.calls()).toList());
        List<String> row = new ArrayList<>(List.of(store, category, Report.fmt(pairs),
            String.format(Locale.ROOT, "%,.0f", perRound)));
        for (String p : PERCENTILES) {
          double v = median(store, n, "pair", p);
          row.add(Report.fmt(v));
          latency.put(p, category, v);
        }
        row.add(Report.fmt(perPair(store, n, "cpu jipamd")));
        row.add(Report.fmt(perPair(store, n, "cpu clients")));
        row.add(store.equals("etcd") ? Report.fmt(perPair(store, n, "cpu etcd")) : "");
        double failures = samples(store, n, "pair", "failures").stream().mapToDouble(Sample::value).sum();
        row.add(String.format(Locale.ROOT, "%.0f", failures));
        rows.add(row);
        throughput.put(store, category, pairs);
        if (pairs == 0) {
          unmeasured.add(store + " store at " + n + " clients");
        }
      }
      latency.savePng(c.file("service-latency-" + store + ".png"), 900, 540);
    }
    r.table(List.of("store", "clients", "pairs/s", "pairs per round", "pair p50 ms", "pair p99 ms", "pair p99.9 ms",
        "CPU/pair jipamd ms", "CPU/pair clients ms", "CPU/pair etcd ms", "failed calls"), "lrrrrrrrrrr", rows);
    if (!unmeasured.isEmpty()) {
      r.paragraph("**Not measured** (0 pairs/s above): " + String.join(", ", unmeasured) + ". The load generator "
          + "counts the pairs started inside the window that finish; in these cells no client finished its pairs of "
          + "the warm-up early enough to start one inside the window, i.e. a pair took longer than warm-up + window "
          + "(a closed loop of N clients waits about N / throughput per pair). Longer `--warmup` and `--seconds` "
          + "measure them.");
    }
    if (stores.contains("memory") && stores.size() > 1) {
      List<String> header = new ArrayList<>(List.of("clients"));
      List<String> others = stores.stream().filter(s -> !s.equals("memory")).toList();
      for (String s : others) {
        header.add(s + " / memory, pairs/s");
        header.add(s + " / memory, jipamd CPU per pair");
      }
      List<List<String>> ratios = new ArrayList<>();
      for (int n : concurrency) {
        List<String> row = new ArrayList<>(List.of(Integer.toString(n)));
        for (String s : others) {
          row.add(Report.ratio(Stats.ratio(median(s, n, "pair", "throughput"),
              median("memory", n, "pair", "throughput"))));
          row.add(Report.ratio(Stats.ratio(perPair(s, n, "cpu jipamd"), perPair("memory", n, "cpu jipamd"))));
        }
        ratios.add(row);
      }
      r.heading(3, "Each store against the memory store (same run)");
      r.table(header, "l" + "r".repeat(header.size() - 1), ratios);
    }
    throughput.savePng(c.file("service-throughput.png"), 900, 540);
    r.image("jipamd throughput by clients at once", "service-throughput.png");
    for (String store : stores) {
      r.image("jipamd latency of a pair, " + store + " store", "service-latency-" + store + ".png");
    }
  }
}
