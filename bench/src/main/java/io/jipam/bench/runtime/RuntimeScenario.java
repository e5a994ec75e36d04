package io.jipam.bench.runtime;

import io.jipam.bench.harness.ChildCpu;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.testkit.ContainerdNode;
import io.jipam.testkit.JipamdProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/**
 * {@code runtime}: containers started and removed by a real container runtime, Debian's
 * containerd + runc ({@link ContainerdNode} of the testkit), with {@code ctr run --cni --rm}: libcni runs the bridge
 * plugin, which delegates to the IPAM plugin under test, on ADD before the task starts and on DEL
 * after it ends. The subjects differ only in the conflist's {@code ipam}: jipam on its file store,
 * jipam via a jipamd on the file store, and the reference host-local; each on its own bridge and
 * /24 of 198.18.0.0/15 in the node's network namespace.
 *
 * <h2>Method</h2>
 * One untimed container per subject first (snapshot, caches, jipam's index). Then, per N in
 * {@code --at-once} and per round, each subject (order drawn from the seed) starts N containers at
 * once, each printing its eth0 address and exiting. Per container: time to address (ctr started
 * to the address line on its output) and the whole lifecycle (ctr started to ctr ended, DEL and
 * removal included); per batch: containers per second (N over the batch's wall time) and CPU of
 * the ctr processes and the plugins they ran (plus the jipamd's for daemon mode). containerd,
 * its shims and runc are not children of the harness: their CPU is not counted. Every address
 * must be in the subject's /24 and distinct within a batch, and the IPAM's store must be empty at
 * the end.
 *
 * <p>Skipped, with the reason in the summary, when not root or containerd, runc, the reference
 * plugins or busybox-static are missing.
 */
public final class RuntimeScenario implements Scenario {
  static final String JIPAM = "jipam";
  static final String DAEMON = "jipam via jipamd";
  static final String HOST_LOCAL = "host-local";
  /** The node's image and containerd namespace. */
  static final String IMAGE = "jipam.bench/busybox:runtime";
  static final String NAMESPACE = "jipam-bench";

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--at-once", paramLabel = "N", split = ",",
        description = "containers started at once (default: 1,8; --quick: 1,2)")
    List<Integer> atOnce;

    @Option(names = "--runtime-rounds", paramLabel = "N",
        description = "rounds per N (default: 2; --quick: 1); --rounds overrides it too")
    Integer rounds;

    @Option(names = "--jipam", paramLabel = "PATH", description = "the jipam plugin (default: bin/jipam of this dist)")
    Path jipam;

    @Option(names = "--jipamd", paramLabel = "PATH", description = "jipamd for daemon mode (default: beside the plugin)")
    Path jipamd;

    @Option(names = "--daemon-warmup", paramLabel = "PAIRS", defaultValue = "100",
        description = "untimed ADD+DEL pairs of the plugin through the jipamd, on its network, before the containers: "
            + "jipamd is a service, measured warm (JIT, caches), as on a node where it runs for days; 0: a fresh "
            + "jipamd (default: ${DEFAULT-VALUE})")
    int daemonWarmup;
  }

  private final Options options;

  public RuntimeScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "runtime";
  }

  List<Integer> atOnce(boolean quick) {
    List<Integer> list = options.atOnce != null ? options.atOnce : quick ? List.of(1, 2) : List.of(1, 8);
    for (int n : list) {
      if (n < 1 || n > 64) {
        throw new IllegalArgumentException("--at-once: each must be in [1, 64], got " + n);
      }
    }
    return list;
  }

  private int rounds(RunContext c) {
    return c.roundsOr(options.rounds != null ? options.rounds : c.quick() ? 1 : 2);
  }

  private Path jipam() {
    if (options.jipam != null) {
      return options.jipam.toAbsolutePath();
    }
    return Path.of(System.getProperty("jipam.dist", "dist"), "bin", "jipam").toAbsolutePath().normalize();
  }

  private Path jipamd() {
    return options.jipamd != null ? options.jipamd.toAbsolutePath() : JipamdProcess.besidePlugin(jipam());
  }

  @Override
  public void validate(boolean quick) {
    atOnce(quick);
    if (options.rounds != null && options.rounds < 1) {
      throw new IllegalArgumentException("--runtime-rounds must be >= 1, got " + options.rounds);
    }
    if (options.daemonWarmup < 0) {
      throw new IllegalArgumentException("--daemon-warmup must be >= 0, got " + options.daemonWarmup);
    }
  }

  /** Why the scenario cannot run here, or null. */
  String missing() {
    String node = ContainerdNode.missing();
    if (node != null) {
      return node;
    }
    return Files.isExecutable(jipam()) ? null : "no jipam plugin at " + jipam() + " (./mvnw -q -DskipTests package)";
  }

  @Override
  public long steps(RunContext c) {
    if (missing() != null) {
      return 1;
    }
    int subjects = Files.isExecutable(jipamd()) ? 3 : 2;
    return (long) subjects * (1 + (long) rounds(c) * atOnce(c.quick()).stream().mapToInt(Integer::intValue).sum());
  }

  /** One subject: a network whose conflist's IPAM is the one measured. */
  private record Subject(String name, Path conf, String prefix, Path store, JipamdProcess daemon, String plugin) {
    double serverCpu() {
      return daemon == null ? 0 : daemon.cpuMillis();
    }
  }

  @Override
  public void run(RunContext c) throws Exception {
    String why = missing();
    if (why != null) {
      c.report().heading(2, "runtime").paragraph("**Skipped**: " + why + ".");
      c.progress().advance(1);
      return;
    }
    List<Integer> atOnce = atOnce(c.quick());
    int rounds = rounds(c);
    int third = ThreadLocalRandom.current().nextInt(0, 512 - 3 * 17);
    List<JipamdProcess> daemons = new ArrayList<>();
    c.progress().step("starting containerd");
    try (ContainerdNode node = new ContainerdNode("jipam-bench-rt", IMAGE, NAMESPACE)) {
      Files.createSymbolicLink(node.bin().resolve("jipam"), jipam().toAbsolutePath());
      List<Subject> subjects = new ArrayList<>();
      subjects.add(subject(node, JIPAM, 0, third, "\"type\":\"jipam\"", null));
      String daemonNote = null;
      if (Files.isExecutable(jipamd())) {
        Path data = node.dir().resolve("jipamd-data");
        JipamdProcess d = JipamdProcess.startFileStore(jipamd(), data, node.dir().resolve("jipamd"), Duration.ofSeconds(120));
        daemons.add(d);
        subjects.add(subject(node, DAEMON, 1, third, "\"type\":\"jipam\"," + d.daemonJson(), d));
      } else {
        daemonNote = "no jipamd at " + jipamd();
      }
      subjects.add(subject(node, HOST_LOCAL, 2, third, "\"type\":\"host-local\"", null));
      Map<String, Integer> left = new LinkedHashMap<>();
      try {
        for (Subject s : subjects) {
          if (s.daemon() != null && options.daemonWarmup > 0) {
            c.progress().step("warm-up: " + s.name() + ", " + options.daemonWarmup + " ADD+DEL pairs through jipamd");
            warmDaemon(s, options.daemonWarmup, node.bin());
          }
          c.progress().step("warm-up: " + s.name());
          batch(c, node, s, "warm", 1, -1);
          c.progress().advance(1);
        }
        Random order = new Random(c.random(name()).nextLong());
        for (int n : atOnce) {
          for (int r = 0; r < rounds; r++) {
            List<Subject> roundOrder = new ArrayList<>(subjects);
            Collections.shuffle(roundOrder, order);
            for (Subject s : roundOrder) {
              c.progress().step(n + " at once, round " + (r + 1) + ": " + s.name());
              batch(c, node, s, "n" + n + "r" + r, n, r);
              c.progress().advance(n);
            }
          }
        }
      } finally {
        for (Subject s : subjects) {
          left.put(s.name(), addresses(s.store()));
        }
      }
      new RuntimeReport(c, name(), atOnce, rounds, subjects.stream().map(Subject::name).toList(), left, daemonNote,
          subjects.stream().collect(LinkedHashMap::new, (m, s) -> m.put(s.name(), s.prefix() + "0/24"), Map::putAll),
          options.daemonWarmup).write();
    } finally {
      for (JipamdProcess d : daemons) {
        d.close();
      }
    }
  }

  private Subject subject(ContainerdNode node, String name, int index, int third, String ipam, JipamdProcess daemon)
      throws IOException {
    // 198.18.0.0/15: third octet spread over both /16s, one /24 per subject
    int octets = third + index * 17;
    String prefix = (octets < 256 ? "198.18." + octets : "198.19." + (octets - 256)) + ".";
    String network = "jb" + node.suffix() + "-" + index;
    Path data = name.equals(DAEMON) ? node.dir().resolve("jipamd-data") : node.dir().resolve("data-" + index);
    String conflist = "{\"cniVersion\":\"1.0.0\",\"name\":\"" + network + "\",\"plugins\":[{\"type\":\"bridge\","
        + "\"bridge\":\"jb" + node.suffix() + index + "\",\"isGateway\":true,\"ipam\":{" + ipam + ",\"dataDir\":\"" + data
        + "\",\"ranges\":[[{\"subnet\":\"" + prefix + "0/24\"}]],\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}]}";
    String plugin = "{\"cniVersion\":\"1.0.0\",\"name\":\"" + network + "\",\"type\":\"bridge\",\"ipam\":{" + ipam
        + ",\"dataDir\":\"" + data + "\",\"ranges\":[[{\"subnet\":\"" + prefix + "0/24\"}]]}}";
    return new Subject(name, node.network(network, conflist), prefix, data.resolve(network), daemon, plugin);
  }

  /**
   * {@code pairs} ADD+DEL pairs of the plugin as bridge would exec it (the subject's network, its
   * IPAM config), one after the other, each its own container ID: the daemon's warm-up, untimed.
   */
  private void warmDaemon(Subject s, int pairs, Path cniPath) throws IOException, InterruptedException {
    for (int i = 0; i < pairs; i++) {
      for (String command : List.of("ADD", "DEL")) {
        ProcessBuilder pb = new ProcessBuilder(jipam().toString()).redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", "jipamd-warm-" + i,
            "CNI_NETNS", "/var/run/netns/jipamd-warm", "CNI_IFNAME", "eth0", "CNI_PATH", cniPath.toString()));
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
          in.write(s.plugin().getBytes(StandardCharsets.UTF_8));
        }
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
          p.destroyForcibly();
          throw new IOException("warming " + s.name() + " up: " + command + " jipamd-warm-" + i + " failed");
        }
      }
    }
  }

  /** Address files left in a store dir (host-local's layout), 0 when it was never made. */
  private static int addresses(Path network) throws IOException {
    if (!Files.isDirectory(network)) {
      return 0;
    }
    try (Stream<Path> files = Files.list(network)) {
      return (int) files.map(p -> p.getFileName().toString())
          .filter(f -> f.chars().filter(ch -> ch == '.').count() == 3 && f.chars().allMatch(ch -> ch == '.' || Character.isDigit(ch)))
          .count();
    }
  }

  /** N containers at once; samples unless {@code round} is -1 (warm-up). */
  private void batch(RunContext c, ContainerdNode node, Subject s, String tag, int n, int round) throws Exception {
    String workload = "atOnce=" + n;
    List<Process> runs = new ArrayList<>();
    List<Thread> readers = new ArrayList<>();
    double[] toAddress = new double[n];
    String[] address = new String[n];
    StringBuilder[] output = new StringBuilder[n];
    double cpuBefore = ChildCpu.millis() + s.serverCpu();
    long start = System.nanoTime();
    double[] lifecycle = new double[n];
    try {
      for (int i = 0; i < n; i++) {
        String id = "jb-" + node.suffix() + "-" + s.conf().getFileName() + "-" + tag + "-" + i;
        Process p = node.run(s.conf(), id, List.of("ip", "-o", "-4", "addr", "show", "dev", "eth0"), null);
        runs.add(p);
        int k = i;
        output[k] = new StringBuilder();
        Thread reader = new Thread(() -> {
          try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
              if (address[k] == null && line.contains(" inet ")) {
                toAddress[k] = (System.nanoTime() - start) / 1e6;
                address[k] = inet(line);
              }
              synchronized (output[k]) {
                output[k].append(line).append('\n');
              }
            }
            lifecycle[k] = (System.nanoTime() - start) / 1e6; // end of output: ctr has exited
          } catch (IOException e) {
            synchronized (output[k]) {
              output[k].append("(reading ctr's output: ").append(e).append(")\n");
            }
          }
        }, "runtime-ctr-" + k);
        reader.setDaemon(true);
        reader.start();
        readers.add(reader);
      }
      for (int i = 0; i < n; i++) {
        Process p = runs.get(i);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
          throw new IllegalStateException(s.name() + ": ctr run did not end in 120 s: " + output[i]);
        }
        readers.get(i).join(10_000);
        if (p.exitValue() != 0 || address[i] == null) {
          throw new IllegalStateException(s.name() + ": ctr run exited " + p.exitValue() + " with no address: "
              + output[i].toString().trim() + tail(node.log()));
        }
      }
    } finally {
      for (Process p : runs) {
        if (p.isAlive()) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    double cpu = ChildCpu.millis() + s.serverCpu() - cpuBefore;
    Set<String> distinct = new HashSet<>();
    for (String a : address) {
      if (!a.startsWith(s.prefix()) || !distinct.add(a)) {
        throw new IllegalStateException(s.name() + ": address " + a + " is outside " + s.prefix() + "0/24 or given twice in "
            + List.of(address));
      }
    }
    if (round < 0) {
      return;
    }
    for (int i = 0; i < n; i++) {
      c.results().add(new Sample(name(), workload, s.name(), "run", round, "time to address", "ms", 1, toAddress[i]));
      c.results().add(new Sample(name(), workload, s.name(), "run", round, "lifecycle", "ms", 1, lifecycle[i]));
    }
    c.results().add(new Sample(name(), workload, s.name(), "run", round, "throughput", "containers/s", n, n / seconds));
    c.results().add(new Sample(name(), workload, s.name(), "run", round, "cpu", "ms", n, cpu));
  }

  private static String tail(String log) {
    return log.isEmpty() ? "" : "\ncontainerd log (end):\n" + log.substring(Math.max(0, log.length() - 2000));
  }

  /** The address of an {@code ip -o -4 addr} line ("... inet 198.18.3.4/24 ..."), without the prefix length. */
  static String inet(String line) {
    int at = line.indexOf(" inet ") + " inet ".length();
    int end = line.indexOf(' ', at);
    String cidr = end < 0 ? line.substring(at) : line.substring(at, end);
    int slash = cidr.indexOf('/');
    return slash < 0 ? cidr : cidr.substring(0, slash);
  }
}
