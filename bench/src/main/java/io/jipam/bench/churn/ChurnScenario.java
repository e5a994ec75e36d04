package io.jipam.bench.churn;

import io.jipam.bench.harness.ChildCpu;
import io.jipam.bench.harness.RunContext;
import io.jipam.bench.harness.Sample;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.support.Dirs;
import io.jipam.testkit.JipamdProcess;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import picocli.CommandLine.Option;

/**
 * {@code churn}: pods arriving at a set rate and living random lifetimes (a {@link PodPlan} drawn
 * from the seed), each one ADD when it arrives and one DEL when it ends, through the real plugin
 * processes of each chosen {@link Subject}; every subject plays the same plan, each round on a
 * network of its own, after one untimed pod (ADD and DEL) that makes the round's pool. A subject
 * with a jipamd keeps it for every round, as a node keeps its jipamd, and warms it up first with
 * {@code --daemon-warmup} untimed pods (jipamd is a service, measured warm). Measures time to
 * address (arrival to the end of the ADD, waits included), wall time per call, CPU per call, and
 * pods holding an address over time. In {@code all} it runs with its defaults (its options share
 * names with other scenarios').
 *
 * <h2>Outputs</h2>
 * <table>
 *   <caption>files this scenario adds to the results directory</caption>
 *   <tr><th>file</th><th>what</th></tr>
 *   <tr><td>samples.csv</td><td>per call: {@code time to address} (ADD) and {@code wall} (ADD, DEL); per subject and round: {@code cpu} over all its calls, {@code failed} calls</td></tr>
 *   <tr><td>churn-timeline.csv</td><td>{@code subject,round,seconds,in_use,waiting} every 250 ms</td></tr>
 *   <tr><td>churn-calls.csv</td><td>{@code subject,round,pod,command,arrival_ms,start_ms,end_ms,ok}, every call</td></tr>
 *   <tr><td>churn-in-use.png, churn-time-to-address.png</td><td>the charts</td></tr>
 * </table>
 */
public final class ChurnScenario implements Scenario {
  static final String NETWORK = "churn";
  static final String TIMELINE_HEADER = "subject,round,seconds,in_use,waiting";
  static final String CALLS_HEADER = "subject,round,pod,command,arrival_ms,start_ms,end_ms,ok";
  static final List<String> DEFAULT_SUBJECTS = List.of(Subject.FILE, Subject.HOST_LOCAL, Subject.DAEMON);
  static final List<String> SUBJECTS = List.of(Subject.FILE, Subject.HOST_LOCAL, Subject.DAEMON, Subject.ETCD);

  /** The scenario's options. */
  public static final class Options {
    @Option(names = {"--subjects", "--backend"}, paramLabel = "NAME", split = ",",
        description = "subjects, in turn (--backend is this option's older name): file (jipam direct), host-local (or hostlocal), daemon (jipam via jipamd on "
            + "the file store), etcd (jipam via jipamd on an etcd started here) (default: file,host-local,daemon; "
            + "one of the defaults that is not built or installed is skipped with a note)")
    List<String> subjects;

    @Option(names = "--rate", paramLabel = "PODS/S", description = "pod arrivals per second (default: 4; --quick: 10)")
    Double rate;

    @Option(names = "--lifetime", paramLabel = "S",
        description = "mean pod lifetime in seconds, exponential, capped at 3x (default: 3; --quick: 0.2)")
    Double lifetime;

    @Option(names = "--seconds", paramLabel = "S", description = "seconds of arrivals per subject (default: 10; --quick: 0.5)")
    Double seconds;

    @Option(names = "--max-in-flight", paramLabel = "N",
        description = "plugin processes at once; later calls wait (default: ${DEFAULT-VALUE})")
    int maxInFlight = 16;

    @Option(names = "--daemon-warmup", paramLabel = "PODS",
        description = "untimed ADD+DEL pairs through each subject with a jipamd, once before its rounds: jipamd is a"
            + " service, measured warm (JIT, caches), as on a node where it runs for days (default: 100; --quick: 5)")
    Integer daemonWarmup;

    @Option(names = "--subnet", paramLabel = "CIDR",
        description = "the pods' network, a node's pod range (default: ${DEFAULT-VALUE})")
    String subnet = "198.18.0.0/24";

    @Option(names = "--jipam", paramLabel = "PATH", description = "the jipam plugin (default: bin/jipam of this dist)")
    Path jipam;

    @Option(names = "--jipamd", paramLabel = "PATH", description = "jipamd for the daemon subject (default: beside the plugin)")
    Path jipamd;

    @Option(names = "--host-local", paramLabel = "PATH", description = "the reference plugin (default: ${DEFAULT-VALUE})")
    Path hostLocal = Path.of("/usr/lib/cni/host-local");
  }

  private final Options options;

  public ChurnScenario(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "churn";
  }

  double rate(boolean quick) {
    return options.rate != null ? options.rate : quick ? 10 : 4;
  }

  double lifetime(boolean quick) {
    return options.lifetime != null ? options.lifetime : quick ? 0.2 : 3;
  }

  double seconds(boolean quick) {
    return options.seconds != null ? options.seconds : quick ? 0.5 : 10;
  }

  int daemonWarmup(boolean quick) {
    return options.daemonWarmup != null ? options.daemonWarmup : quick ? 5 : 100;
  }

  private int rounds(RunContext c) {
    return c.roundsOr(1);
  }

  Path jipam() {
    if (options.jipam != null) {
      return options.jipam.toAbsolutePath();
    }
    return Path.of(System.getProperty("jipam.dist", "dist"), "bin", "jipam").toAbsolutePath().normalize();
  }

  Path jipamd() {
    return options.jipamd != null ? options.jipamd.toAbsolutePath() : JipamdProcess.besidePlugin(jipam());
  }

  private List<String> subjects() {
    if (options.subjects == null) {
      return DEFAULT_SUBJECTS;
    }
    return options.subjects.stream().map(b -> b.equals("hostlocal") ? Subject.HOST_LOCAL : b).distinct().toList();
  }

  @Override
  public void validate(boolean quick) {
    for (String b : subjects()) {
      if (!SUBJECTS.contains(b)) {
        throw new IllegalArgumentException("--subjects: unknown subject '" + b + "' (file, host-local, daemon, etcd)");
      }
    }
    if (!(rate(quick) > 0 && rate(quick) <= 1000)) {
      throw new IllegalArgumentException("--rate must be in (0, 1000], got " + rate(quick));
    }
    if (!(lifetime(quick) > 0 && lifetime(quick) <= 3600)) {
      throw new IllegalArgumentException("--lifetime must be in (0, 3600], got " + lifetime(quick));
    }
    if (!(seconds(quick) > 0 && seconds(quick) <= 3600)) {
      throw new IllegalArgumentException("--seconds must be in (0, 3600], got " + seconds(quick));
    }
    if (daemonWarmup(quick) < 0 || daemonWarmup(quick) > 100_000) {
      throw new IllegalArgumentException("--daemon-warmup must be in [0, 100000], got " + daemonWarmup(quick));
    }
    if (options.maxInFlight < 1 || options.maxInFlight > 1024) {
      throw new IllegalArgumentException("--max-in-flight must be in [1, 1024], got " + options.maxInFlight);
    }
    try {
      io.jipam.core.net.Cidr.parse(options.subnet);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--subnet: not a CIDR: '" + options.subnet + "'");
    }
  }

  private PodPlan plan(RunContext c) {
    return PodPlan.draw(c.random(name()), rate(c.quick()), seconds(c.quick()), lifetime(c.quick()));
  }

  /** The subjects that can run here, and why the others cannot. */
  private Map<String, String> available() {
    Map<String, String> why = new LinkedHashMap<>();
    for (String b : subjects()) {
      why.put(b, Subject.missing(b, jipam(), options.hostLocal, jipamd()));
    }
    return why;
  }

  @Override
  public long steps(RunContext c) {
    long runnable = available().values().stream().filter(v -> v == null).count();
    return runnable * rounds(c) * Math.max(1, plan(c).pods().size());
  }

  String workload(boolean quick) {
    return String.format(Locale.ROOT, "rate=%s;lifetime=%s;seconds=%s;inflight=%d", trim(rate(quick)),
        trim(lifetime(quick)), trim(seconds(quick)), options.maxInFlight);
  }

  private static String trim(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }

  @Override
  public void run(RunContext c) throws Exception {
    if (!ChildCpu.available()) {
      throw new IllegalStateException("/proc/self/stat is not readable: CPU per call needs Linux /proc");
    }
    Map<String, String> available = available();
    if (options.subjects != null) {
      for (Map.Entry<String, String> e : available.entrySet()) {
        if (e.getValue() != null) {
          throw new IllegalStateException("--subjects " + e.getKey() + ": " + e.getValue());
        }
      }
    }
    List<String> runnable = available.entrySet().stream().filter(e -> e.getValue() == null).map(Map.Entry::getKey)
        .toList();
    if (runnable.isEmpty()) {
      throw new IllegalStateException("no subject can run here: " + available);
    }
    PodPlan plan = plan(c);
    String workload = workload(c.quick());
    Map<String, List<ChurnRun.Outcome>> outcomes = new LinkedHashMap<>();
    Random order = new Random(c.random(name() + "order").nextLong());
    Path work = Dirs.temporary("jipam-bench-churn");
    Map<String, Subject> subjects = new LinkedHashMap<>();
    try (BufferedWriter timeline = Files.newBufferedWriter(c.file("churn-timeline.csv"), StandardCharsets.UTF_8);
        BufferedWriter calls = Files.newBufferedWriter(c.file("churn-calls.csv"), StandardCharsets.UTF_8)) {
      timeline.write(TIMELINE_HEADER + "\n");
      calls.write(CALLS_HEADER + "\n");
      for (String name : runnable) {
        Subject subject = Subject.open(name, jipam(), options.hostLocal, jipamd(), options.subnet, work.resolve(name));
        subjects.put(name, subject);
        if (subject.hasJipamd()) {
          c.progress().step(name + ": warming jipamd up, " + daemonWarmup(c.quick()) + " pods");
          for (int i = 0; i < daemonWarmup(c.quick()); i++) {
            untimedPod(subject, "warm" + i, NETWORK + "-warmup");
          }
        }
      }
      for (int r = 0; r < rounds(c); r++) {
        List<String> roundOrder = new ArrayList<>(runnable);
        Collections.shuffle(roundOrder, order);
        String network = NETWORK + "-" + (r + 1);
        for (String name : roundOrder) {
          c.progress().step("round " + (r + 1) + ": " + name + ", " + plan.pods().size() + " pods");
          Subject subject = subjects.get(name);
          untimedPod(subject, "first", network); // the round's pool is made, not churned
          Object lock = new Object();
          ChurnRun.Outcome outcome = new ChurnRun(subject, network, options.maxInFlight).play(plan, () -> {
            synchronized (lock) {
              c.progress().advance(1);
            }
          });
          outcomes.computeIfAbsent(name, k -> new ArrayList<>()).add(outcome);
          record(c, workload, name, r, outcome, timeline, calls);
        }
      }
    } finally {
      try {
        for (Subject s : subjects.values()) {
          s.close();
        }
      } finally {
        Dirs.deleteTree(work);
      }
    }
    new ChurnReport(c, name(), workload, plan, options.maxInFlight, daemonWarmup(c.quick()), options.subnet,
        available, outcomes).write();
  }

  private static void untimedPod(Subject subject, String containerId, String network)
      throws IOException, InterruptedException {
    for (String command : List.of("ADD", "DEL")) {
      String error = subject.call(command, containerId, network);
      if (error != null) {
        throw new IllegalStateException("untimed pod: " + error);
      }
    }
  }

  private void record(RunContext c, String workload, String subject, int round, ChurnRun.Outcome outcome,
      BufferedWriter timeline, BufferedWriter calls) throws IOException {
    int failed = 0;
    for (ChurnRun.Call call : outcome.calls()) {
      boolean ok = call.error() == null;
      if (!ok) {
        failed++;
      }
      calls.write(String.format(Locale.ROOT, "%s,%d,%s,%s,%d,%.3f,%.3f,%s%n", subject, round, call.pod(), call.command(),
          call.arrivalMillis(), call.startMillis(), call.endMillis(), ok));
      if (ok) {
        c.results().add(new Sample(name(), workload, subject, call.command(), round, "wall", "ms", 1, call.wallMillis()));
        if (call.command().equals("ADD")) {
          c.results().add(new Sample(name(), workload, subject, "ADD", round, "time to address", "ms", 1,
              call.endMillis() - call.arrivalMillis()));
        }
      }
    }
    for (ChurnRun.Point p : outcome.timeline()) {
      timeline.write(String.format(Locale.ROOT, "%s,%d,%.3f,%d,%d%n", subject, round, p.seconds(), p.inUse(), p.waiting()));
    }
    int n = Math.max(1, outcome.calls().size());
    c.results().add(new Sample(name(), workload, subject, "ADD+DEL", round, "cpu", "ms", n, outcome.cpuMillis()));
    c.results().add(new Sample(name(), workload, subject, "ADD+DEL", round, "failed", "calls", n, failed));
  }
}
