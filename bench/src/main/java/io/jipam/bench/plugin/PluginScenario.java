package io.jipam.bench.plugin;

import io.jipam.bench.harness.ChildCpu;
import io.jipam.bench.harness.PluginJvm;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.support.Dirs;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import picocli.CommandLine.Option;

/**
 * {@code plugin}: the jipam plugin (file store) next to the reference host-local, each called as a
 * whole process the way a runtime calls it, on the same data-dir workload: a /16 already holding N
 * allocations in host-local's layout. The JVM floor (a hello-world main on the plugin's JVM, flags
 * and a start-up cache of its own) runs in the same rounds.
 *
 * <h2>Method</h2>
 * Per N: one untimed ADD+DEL per plugin (jipam builds its index there), {@code --daemon-warmup}
 * more through the daemon-mode subject (jipamd is a service: its JIT and caches are measured
 * warm), then
 * <ul>
 *   <li>sequential rounds: each round calls every subject in an order drawn from the seed, one ADD
 *       and one DEL of a new container each (the floor: two runs); wall time per call;
 *   <li>concurrent rounds: per subject, {@code concurrency} workers at once, each one ADD then one
 *       DEL of its own container; wall time per call and pairs per second of the batch.
 * </ul>
 * CPU per call is user+sys of the reaped children ({@link ChildCpu}) summed over all of a subject's
 * calls (the rounds', then {@code --cpu-seconds} of CPU blocks: 10 ms ticks are then 0.2% of the
 * total) and divided by their count. Daemon mode ({@value #DAEMON}): the same plugin forwarding to a
 * jipamd on the file store of a data dir of its own, filled as the others (one jipamd per N); its
 * CPU is the plugin processes' plus the jipamd's over the same calls. The
 * data dirs go to tmpfs (/dev/shm) when it is there: the calls read through the page cache either
 * way, and filling and removing 60,000 files on a busy disk took minutes.
 *
 * <p>Length: about 450 lines, as one class on purpose: the timed rounds, the concurrent rounds and
 * the CPU blocks all run the same subjects on the same per-N data dirs and jipamd, in an order drawn
 * from one seed; the report and the subjects' commands are already classes of their own.
 */
public final class PluginScenario implements Scenario {
  static final String JIPAM = "jipam";
  static final String HOST_LOCAL = "host-local";
  static final String FLOOR = "JVM floor";
  static final String DAEMON = "jipam via jipamd";

  /** The scenario's options. */
  public static final class Options {
    @Option(names = "--jipam", paramLabel = "PATH", description = "the jipam plugin (default: bin/jipam of the dist this launcher is in)")
    Path jipam;

    @Option(names = "--jipamd", paramLabel = "PATH",
        description = "jipamd for the daemon-mode subject (default: bin/jipamd beside the plugin); skipped with a note when missing")
    Path jipamd;

    @Option(names = "--no-daemon", description = "leave out the daemon-mode subject (jipam forwarding to a jipamd on the file store)")
    boolean noDaemon;

    @Option(names = "--host-local", paramLabel = "PATH", defaultValue = "/usr/lib/cni/host-local",
        description = "the reference plugin (default: ${DEFAULT-VALUE}); skipped with a note when missing")
    Path hostLocal;

    @Option(names = "--allocations", paramLabel = "N", split = ",",
        description = "existing allocations in the /16 (default: 0,1000,20000,60000; --quick: 0,100)")
    List<Integer> allocations;

    @Option(names = "--host-local-max", paramLabel = "N", defaultValue = "20000",
        description = "run host-local only up to this many allocations (a call costs ~0.2 s at 20,000) (default: ${DEFAULT-VALUE})")
    int hostLocalMax;

    @Option(names = "--concurrency", paramLabel = "N", description = "processes at once in the concurrent rounds (default: 16; --quick: 4)")
    Integer concurrency;

    @Option(names = "--work-dir", paramLabel = "DIR",
        description = "where the data dirs go (default: /dev/shm when writable, else the temp dir): tens of "
            + "thousands of small files are written and removed per allocation count")
    Path workDir;

    @Option(names = "--concurrent-rounds", paramLabel = "N", description = "concurrent rounds (default: 2; --quick: 1)")
    Integer concurrentRounds;

    @Option(names = "--cpu-seconds", paramLabel = "S", defaultValue = "5",
        description = "after the sequential rounds, more ADD+DEL pairs per plugin subject, interleaved in blocks of"
            + " 10, until each has used S seconds of CPU (at most 2,000 pairs), so that the 10 ms ticks the kernel"
            + " reports are 0.2%% of its CPU figure; 0: none (default: ${DEFAULT-VALUE})")
    int cpuSeconds;

    @Option(names = "--daemon-warmup", paramLabel = "PAIRS", defaultValue = "100",
        description = "untimed ADD+DEL pairs through the daemon-mode subject before its rounds: jipamd is a service, "
            + "measured warm (JIT, caches), as on a node where it runs for days (default: ${DEFAULT-VALUE})")
    int daemonWarmup;

    @Option(names = "--prefix", paramLabel = "BITS", defaultValue = "16",
        description = "the subnet is 198.18.0.0/BITS, 16 to 24; its addresses must hold the allocations (default: ${DEFAULT-VALUE})")
    int prefix;
  }

  private final Options options;

  public PluginScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "plugin";
  }

  private List<Integer> allocations(boolean quick) {
    List<Integer> list = options.allocations != null ? options.allocations
        : quick ? List.of(0, 100) : List.of(0, 1_000, 20_000, 60_000);
    for (int n : list) {
      if (n < 0 || n > 65_000) {
        throw new IllegalArgumentException("--allocations: each must be in [0, 65000], got " + n);
      }
    }
    return list;
  }

  private int rounds(RunContext c) {
    return c.roundsOr(c.quick() ? 3 : 10);
  }

  private int concurrency(RunContext c) {
    return options.concurrency != null ? options.concurrency : c.quick() ? 4 : 16;
  }

  private int concurrentRounds(RunContext c) {
    return options.concurrentRounds != null ? options.concurrentRounds : c.quick() ? 1 : 2;
  }

  private Path jipam() {
    if (options.jipam != null) {
      return options.jipam.toAbsolutePath();
    }
    String dist = System.getProperty("jipam.dist", "dist");
    return Path.of(dist, "bin", "jipam").toAbsolutePath().normalize();
  }

  /** Where the data dirs go: --work-dir, else tmpfs /dev/shm, else the JVM's temp dir. */
  Path workRoot() {
    if (options.workDir != null) {
      return options.workDir;
    }
    Path shm = Path.of("/dev/shm");
    return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
  }

  private Path jipamd() {
    return options.jipamd != null ? options.jipamd.toAbsolutePath() : JipamdProcess.besidePlugin(jipam());
  }

  /** Whether the daemon-mode subject runs: asked for and jipamd built. */
  boolean withDaemon() {
    return !options.noDaemon && Files.isExecutable(jipamd());
  }

  private boolean withHostLocal(int allocations) {
    return allocations <= options.hostLocalMax && Files.isExecutable(options.hostLocal);
  }

  /** The subnet of every subject's calls. */
  String subnet() {
    return "198.18.0.0/" + options.prefix;
  }

  @Override
  public void validate(boolean quick) {
    if (options.cpuSeconds < 0) {
      throw new IllegalArgumentException("--cpu-seconds must be >= 0, got " + options.cpuSeconds);
    }
    if (options.daemonWarmup < 0) {
      throw new IllegalArgumentException("--daemon-warmup must be >= 0, got " + options.daemonWarmup);
    }
    if (options.prefix < 16 || options.prefix > 24) {
      throw new IllegalArgumentException("--prefix must be 16 to 24, got " + options.prefix);
    }
    for (int n : allocations(quick)) {
      if (n > (1 << (32 - options.prefix)) - 4) {
        throw new IllegalArgumentException("--allocations: " + n + " do not fit " + subnet());
      }
    }
    if (options.concurrency != null && options.concurrency < 1) {
      throw new IllegalArgumentException("--concurrency must be >= 1, got " + options.concurrency);
    }
    if (options.concurrentRounds != null && options.concurrentRounds < 1) {
      throw new IllegalArgumentException("--concurrent-rounds must be >= 1, got " + options.concurrentRounds);
    }
  }

  @Override
  public long steps(RunContext c) {
    long steps = 0;
    for (int n : allocations(c.quick())) {
      int subjects = (withHostLocal(n) ? 3 : 2) + (withDaemon() ? 1 : 0);
      steps += (long) subjects * (rounds(c) + concurrentRounds(c));
    }
    return steps;
  }

  @Override
  public void run(RunContext c) throws Exception {
    Path jipam = jipam();
    if (!Files.isExecutable(jipam)) {
      throw new IllegalStateException("no jipam plugin at " + jipam
          + ": build it with ./mvnw -q -DskipTests package, or name it with --jipam");
    }
    if (!ChildCpu.available()) {
      throw new IllegalStateException("/proc/self/stat is not readable: CPU per call needs Linux /proc");
    }
    Path work = Dirs.temporary(workRoot(), "jipam-bench-plugin");
    try {
      Subject floor = floor(work);
      for (int n : allocations(c.quick())) {
        Path level = work.resolve("n" + n);
        try {
          measure(c, level, n, jipam, floor);
        } finally {
          c.progress().step(n + " allocations: removing the data dirs");
          Dirs.deleteTree(level);
        }
      }
    } finally {
      Dirs.deleteTree(work);
    }
    new PluginReport(c, name(), allocations(c.quick()), rounds(c), concurrency(c), concurrentRounds(c), options.hostLocal,
        options.hostLocalMax, withDaemon() ? null : daemonMissing(), workRoot(), subnet()).write();
  }

  private String daemonMissing() {
    return options.noDaemon ? "left out (--no-daemon)" : "no jipamd at " + jipamd() + " (build it, or name it with --jipamd)";
  }

  private void measure(RunContext c, Path work, int n, Path jipam, Subject floor) throws Exception {
    List<Subject> subjects = new ArrayList<>();
    c.progress().step(n + " allocations: filling data dirs");
    subjects.add(Subject.plugin(JIPAM, jipam, work.resolve(JIPAM), n).withSubnet(subnet()));
    if (withHostLocal(n)) {
      subjects.add(Subject.plugin(HOST_LOCAL, options.hostLocal, work.resolve(HOST_LOCAL), n).withSubnet(subnet()));
    }
    subjects.add(floor);
    JipamdProcess daemon = null;
    try {
      if (withDaemon()) {
        // jipamd has a data dir of its own, filled alike, as on a node in daemon mode where only
        // jipamd writes: on a dir the direct plugin also writes, every direct call changes the
        // pool's stamp and jipamd's next call reloads the pool (O(allocations))
        Path data = work.resolve("jipamd-data");
        Subject.fillDataDir(data, n);
        c.progress().step(n + " allocations: starting jipamd");
        daemon = JipamdProcess.startFileStore(jipamd(), data, work.resolve("jipamd"), Duration.ofSeconds(120));
        subjects.add(Subject.daemon(DAEMON, jipam, daemon, data).withSubnet(subnet()));
      }
      measure(c, n, subjects);
    } finally {
      if (daemon != null) {
        daemon.close();
      }
    }
  }

  private void measure(RunContext c, int n, List<Subject> subjects) throws Exception {
    for (Subject s : subjects) {
      s.call("ADD", "warm");
      s.call("DEL", "warm");
      if (s.isDaemon()) {
        c.progress().step(n + " allocations: warming jipamd up, " + options.daemonWarmup + " pairs");
        for (int i = 0; i < options.daemonWarmup; i++) {
          s.call("ADD", "warm" + i);
          s.call("DEL", "warm" + i);
        }
      }
    }
    String sequential = workload(n, 1);
    SplittableRandom random = c.random(name() + n);
    for (int r = 0; r < rounds(c); r++) {
      List<Subject> order = new ArrayList<>(subjects);
      Collections.shuffle(order, new java.util.Random(random.nextLong()));
      for (Subject s : order) {
        c.progress().step(n + " allocations, sequential round " + (r + 1) + ": " + s.name());
        String id = "seq" + r;
        for (String op : List.of("ADD", "DEL")) {
          double cpuBefore = ChildCpu.millis() + s.serverCpuMillis();
          double wall = s.call(op, id);
          double cpu = ChildCpu.millis() + s.serverCpuMillis() - cpuBefore;
          String operation = s.isPlugin() ? op : "run";
          c.results().add(new Sample(name(), sequential, s.name(), operation, r, "wall", "ms", 1, wall));
          c.results().add(new Sample(name(), sequential, s.name(), operation, r, "cpu", "ms", 1, cpu));
        }
        c.progress().advance(1);
      }
    }
    cpuBlocks(c, n, subjects, sequential);
    int workers = concurrency(c);
    String concurrent = workload(n, workers);
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    try {
      java.util.Random concurrentOrder = new java.util.Random(random.nextLong());
      for (int r = 0; r < concurrentRounds(c); r++) {
        List<Subject> roundOrder = new ArrayList<>(subjects);
        Collections.shuffle(roundOrder, concurrentOrder); // as the sequential rounds: no subject always first
        for (Subject s : roundOrder) {
          c.progress().step(n + " allocations, " + workers + " at once, round " + (r + 1) + ": " + s.name());
          batch(c, pool, s, concurrent, r, workers);
          c.progress().advance(1);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * CPU per call to the tick's 0.2%: blocks of {@value #CPU_BLOCK} ADD+DEL pairs per plugin subject in
   * turn (so that a change of the machine's load hits all alike), each block's CPU (the reaped
   * processes' plus jipamd's) a sample of {@code 2 * CPU_BLOCK} calls, until a subject has used
   * {@code --cpu-seconds} or {@value #CPU_MAX_PAIRS} pairs.
   */
  private void cpuBlocks(RunContext c, int n, List<Subject> subjects, String workload) throws Exception {
    double budget = options.cpuSeconds * 1000.0;
    java.util.Map<Subject, double[]> used = new java.util.LinkedHashMap<>(); // {cpu ms, pairs}
    for (Subject s : subjects) {
      if (s.isPlugin() && budget > 0) {
        used.put(s, new double[2]);
      }
    }
    int block = 0;
    while (!used.isEmpty()) {
      for (var it = used.entrySet().iterator(); it.hasNext(); ) {
        var e = it.next();
        Subject s = e.getKey();
        double[] u = e.getValue();
        c.progress().step(n + " allocations, CPU block " + (block + 1) + ": " + s.name() + String.format(
            " (%.1f of %.0f s)", u[0] / 1000, budget / 1000));
        double cpuBefore = ChildCpu.millis() + s.serverCpuMillis();
        for (int i = 0; i < CPU_BLOCK; i++) {
          String id = "cpu" + block + "p" + i;
          s.call("ADD", id);
          s.call("DEL", id);
        }
        double cpu = ChildCpu.millis() + s.serverCpuMillis() - cpuBefore;
        c.results().add(new Sample(name(), workload, s.name(), "ADD+DEL", 1000 + block, "cpu", "ms", 2 * CPU_BLOCK,
            cpu));
        u[0] += cpu;
        u[1] += CPU_BLOCK;
        if (u[0] >= budget || u[1] >= CPU_MAX_PAIRS) {
          it.remove();
        }
      }
      block++;
    }
  }

  private static final int CPU_BLOCK = 10;
  private static final int CPU_MAX_PAIRS = 2000;

  private void batch(RunContext c, ExecutorService pool, Subject s, String workload, int round, int workers)
      throws Exception {
    String operation = s.isPlugin() ? "ADD+DEL" : "run";
    double cpuBefore = ChildCpu.millis() + s.serverCpuMillis();
    long start = System.nanoTime();
    List<Future<double[]>> calls = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      String id = "par" + round + "w" + w;
      calls.add(pool.submit(() -> new double[] {s.call("ADD", id), s.call("DEL", id)}));
    }
    List<double[]> walls = new ArrayList<>();
    for (Future<double[]> f : calls) {
      walls.add(f.get());
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    double cpu = ChildCpu.millis() + s.serverCpuMillis() - cpuBefore;
    for (double[] w : walls) {
      c.results().add(new Sample(name(), workload, s.name(), s.isPlugin() ? "ADD" : "run", round, "wall", "ms", 1, w[0]));
      c.results().add(new Sample(name(), workload, s.name(), s.isPlugin() ? "DEL" : "run", round, "wall", "ms", 1, w[1]));
    }
    c.results().add(new Sample(name(), workload, s.name(), operation, round, "cpu", "ms", 2 * workers, cpu));
    c.results().add(new Sample(name(), workload, s.name(), operation, round, "throughput", "pairs/s", workers,
        workers / seconds));
  }

  static String workload(int allocations, int concurrency) {
    return "allocations=" + allocations + ";concurrency=" + concurrency;
  }

  /**
   * The floor: {@link Hello} alone in a jar, on the plugin's JVM and flags, with a start-up cache
   * of its own trained the way jipam's is (AOT cache on JDK 25+, CDS archive before, none if jipam
   * has none).
   */
  private static Subject floor(Path work) throws IOException, InterruptedException {
    Path jar = work.resolve("hello.jar");
    String entry = Hello.class.getName().replace('.', '/') + ".class";
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
        InputStream in = Hello.class.getClassLoader().getResourceAsStream(entry)) {
      if (in == null) {
        throw new IllegalStateException("class file " + entry + " not found on the class path");
      }
      out.putNextEntry(new JarEntry(entry));
      in.transferTo(out);
      out.closeEntry();
    }
    PluginJvm jvm = PluginJvm.fromEnvironment();
    List<String> base = new ArrayList<>(List.of(jvm.java()));
    base.addAll(jvm.baseFlags());
    List<String> cache = List.of();
    if (jvm.aotCache()) {
      train(base, "-XX:AOTCacheOutput=" + work.resolve("hello.aot"), jar);
      cache = List.of("-XX:AOTCache=" + work.resolve("hello.aot"));
    } else if (jvm.cdsArchive()) {
      train(base, "-XX:ArchiveClassesAtExit=" + work.resolve("hello.jsa"), jar);
      cache = List.of("-XX:SharedArchiveFile=" + work.resolve("hello.jsa"));
    }
    List<String> command = new ArrayList<>(base);
    command.addAll(cache);
    command.addAll(List.of("-cp", jar.toString(), Hello.class.getName()));
    return Subject.process(FLOOR, command);
  }

  private static void train(List<String> base, String flag, Path jar) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(base);
    command.addAll(List.of(flag, "-cp", jar.toString(), Hello.class.getName()));
    Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    if (p.waitFor() != 0) {
      throw new IllegalStateException("training the floor's start-up cache failed: " + command);
    }
  }

  /** Sum of values over sum of calls: the per-call figure of samples that may cover batches. */
  static double mean(List<Sample> samples) {
    double sum = 0;
    int calls = 0;
    for (Sample s : samples) {
      sum += s.value();
      calls += s.calls();
    }
    return calls == 0 ? Double.NaN : sum / calls;
  }
}
