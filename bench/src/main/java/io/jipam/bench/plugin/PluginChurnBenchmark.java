package io.jipam.bench.plugin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * jipam next to the reference host-local, one run, one workload: per-call wall time of ADD and
 * DEL (a fresh container each round) in a /16 that already holds N allocations.
 *
 * <h2>Method</h2>
 * For each N, a data dir is filled with N address files in host-local's layout (both plugins read
 * it: that is the compatibility promise), once per plugin. One untimed ADD/DEL warms each (jipam
 * builds its index there; host-local has nothing to warm). Then rounds alternate between the
 * plugins, so both see the same machine noise; each round times one ADD and one DEL of a new
 * container as whole processes, as a runtime would run them.
 *
 * <pre>
 * java -cp bench/target/classes io.jipam.bench.plugin.PluginChurnBenchmark \
 *     [--jipam dist/bin/jipam] [--host-local /usr/lib/cni/host-local] [--rounds 20] [--fills 0,1000,20000,60000]
 * </pre>
 * host-local is skipped above 20,000 allocations (a call there costs about a second).
 */
public final class PluginChurnBenchmark {
  private static final String NETWORK = "churn";

  private PluginChurnBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path jipam = Path.of("dist/bin/jipam");
    Path hostLocal = Path.of("/usr/lib/cni/host-local");
    int rounds = 20;
    int[] fills = {0, 1_000, 20_000, 60_000};
    int hostLocalMaxFill = 20_000;
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--jipam" -> jipam = Path.of(args[i + 1]);
        case "--host-local" -> hostLocal = Path.of(args[i + 1]);
        case "--rounds" -> rounds = Integer.parseInt(args[i + 1]);
        case "--fills" -> fills = Arrays.stream(args[i + 1].split(",")).mapToInt(Integer::parseInt).toArray();
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    jipam = jipam.toAbsolutePath();
    System.out.println("| allocations | plugin | ADD median ms | ADD p99 ms | DEL median ms | DEL p99 ms | jipam / host-local (ADD+DEL median) |");
    System.out.println("|---:|---|---:|---:|---:|---:|---:|");
    for (int fill : fills) {
      boolean withReference = fill <= hostLocalMaxFill && Files.isExecutable(hostLocal);
      Path work = Files.createTempDirectory("jipam-churn");
      try {
        Subject j = new Subject("jipam", jipam, work.resolve("jipam"), fill);
        Subject h = withReference ? new Subject("host-local", hostLocal, work.resolve("host-local"), fill) : null;
        j.round(-1);
        if (h != null) {
          h.round(-1);
        }
        for (int r = 0; r < rounds; r++) {
          j.round(r);
          if (h != null) {
            h.round(r);
          }
        }
        j.print(fill, h);
        if (h != null) {
          h.print(fill, null);
        }
      } finally {
        deleteTree(work);
      }
    }
  }

  /** One plugin with its own pre-filled data dir and its timings. */
  private static final class Subject {
    final String name;
    final Path executable;
    final Path dataDir;
    final List<Double> addMillis = new ArrayList<>();
    final List<Double> delMillis = new ArrayList<>();

    Subject(String name, Path executable, Path dataDir, int fill) throws IOException {
      this.name = name;
      this.executable = executable;
      this.dataDir = dataDir;
      Path network = dataDir.resolve(NETWORK);
      Files.createDirectories(network);
      // fill from 198.18.0.2 upward, as round-robin would have, one file per address
      for (int i = 0; i < fill; i++) {
        int host = i + 2;
        String address = "198.18." + (host >> 8) + "." + (host & 0xFF);
        Files.write(network.resolve(address), ("filler" + i + "\r\neth0").getBytes(StandardCharsets.US_ASCII));
      }
      if (fill > 0) {
        int last = fill + 1;
        Files.writeString(network.resolve("last_reserved_ip.0"), "198.18." + (last >> 8) + "." + (last & 0xFF));
      }
    }

    String conf() {
      return "{\"cniVersion\":\"1.0.0\",\"name\":\"" + NETWORK + "\",\"ipam\":{\"type\":\"" + name
          + "\",\"dataDir\":\"" + dataDir + "\",\"subnet\":\"198.18.0.0/16\"}}";
    }

    void round(int r) throws Exception {
      String id = "bench" + (r < 0 ? "warm" : Integer.toString(r));
      double add = call("ADD", id);
      double del = call("DEL", id);
      if (r >= 0) {
        addMillis.add(add);
        delMillis.add(del);
      }
    }

    double call(String command, String id) throws Exception {
      ProcessBuilder pb = new ProcessBuilder(executable.toString());
      pb.environment().putAll(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", id,
          "CNI_NETNS", "/var/run/netns/" + id, "CNI_IFNAME", "eth0", "CNI_PATH", "/usr/lib/cni"));
      pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT);
      long start = System.nanoTime();
      Process p = pb.start();
      p.getOutputStream().write(conf().getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(name + " " + command + " hung");
      }
      long elapsed = System.nanoTime() - start;
      if (p.exitValue() != 0) {
        throw new IllegalStateException(name + " " + command + " " + id + " exited " + p.exitValue());
      }
      return elapsed / 1e6;
    }

    void print(int fill, Subject reference) {
      double addMedian = percentile(addMillis, 50);
      double delMedian = percentile(delMillis, 50);
      String ratio = reference == null ? ""
          : String.format("%.3f", (addMedian + delMedian)
              / (percentile(reference.addMillis, 50) + percentile(reference.delMillis, 50)));
      System.out.printf("| %,d | %s | %.1f | %.1f | %.1f | %.1f | %s |%n", fill, name, addMedian,
          percentile(addMillis, 99), delMedian, percentile(delMillis, 99), ratio);
    }
  }

  static double percentile(List<Double> values, int p) {
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
