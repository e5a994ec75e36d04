package io.jipam.bench;

import io.jipam.bench.alloc.AllocatorScenario;
import io.jipam.bench.churn.ChurnScenario;
import io.jipam.bench.cluster.ClusterScenario;
import io.jipam.bench.report.ReportCommand;
import io.jipam.bench.runtime.RuntimeScenario;
import io.jipam.bench.etcd.EtcdScenario;
import io.jipam.bench.harness.Harness;
import io.jipam.bench.harness.Progress;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.harness.Scenarios;
import io.jipam.bench.plugin.PluginScenario;
import io.jipam.bench.service.ServiceScenario;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jipam-bench <scenario> [options]}: glue between the command line and {@link Harness}.
 * Each subcommand builds its scenario from its options; {@code all} builds every one.
 */
@Command(name = "jipam-bench", mixinStandardHelpOptions = true, version = "jipam-bench 0.1.0",
    subcommands = {JipamBench.Allocator.class, JipamBench.Plugin.class, JipamBench.Etcd.class,
        JipamBench.Service.class, JipamBench.Cluster.class, JipamBench.RuntimeCommand.class, JipamBench.Churn.class,
        JipamBench.Scale.class,
        JipamBench.All.class, ReportCommand.class},
    synopsisSubcommandLabel = "<scenario>", usageHelpWidth = 100,
    description = {"Measures jipam next to its peers in the same run and writes samples.csv, summary.md,",
        "charts (PNG) and machine.json into a results directory (--out, default bench-results/<timestamp>).",
        "`jipam-bench <scenario> --help` lists a scenario's options."},
    commandListHeading = "%nScenarios:%n")
public final class JipamBench implements Callable<Integer> {
  @Spec
  CommandLine.Model.CommandSpec spec;

  /** Options every scenario takes. */
  static final class Common {
    @Option(names = "--out", paramLabel = "DIR",
        description = "results directory (default: bench-results/<timestamp>)")
    Path out;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
        description = "workload seed: the same seed gives the same workload (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "0",
        description = "rounds per measurement (default: each scenario's own; medians are over rounds)")
    int rounds;

    @Option(names = "--quick", description = "tiny sizes for smoke tests (the figures mean nothing)")
    boolean quick;

    @Option(names = "--progress", paramLabel = "WHEN", defaultValue = "auto",
        description = "progress bar on standard error: auto (when it is a terminal), always, never")
    String progress;

    Path outDir() {
      return out != null ? out
          : Path.of("bench-results", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }

    Progress progress() {
      return switch (progress) {
        case "always" -> Progress.bar(System.err);
        case "never" -> Progress.silent();
        case "auto" -> Progress.onTerminal() ? Progress.bar(System.err) : Progress.silent();
        default -> throw new IllegalArgumentException("--progress must be auto, always or never, got '" + progress + "'");
      };
    }

    void validate(CommandLine cmd) {
      if (rounds < 0) {
        throw new CommandLine.ParameterException(cmd, "--rounds must be >= 1, got " + rounds);
      }
      if (!List.of("auto", "always", "never").contains(progress)) {
        throw new CommandLine.ParameterException(cmd, "--progress must be auto, always or never, got '" + progress + "'");
      }
    }
  }

  /** Runs the scenarios; exit 0 when all completed, 1 when one failed. */
  static int run(CommandLine cmd, Common common, List<Scenario> scenarios) throws Exception {
    common.validate(cmd);
    Progress progress = common.progress();
    for (Scenario scenario : scenarios) {
      try {
        scenario.validate(common.quick);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(cmd, e.getMessage(), e);
      }
    }
    Path out = common.outDir().toAbsolutePath();
    Harness harness = new Harness(out, common.seed, common.quick, common.rounds, progress, System.err);
    boolean ok = harness.run(scenarios, jipamHome(), commandLine(cmd));
    System.out.println(out.resolve("summary.md"));
    return ok ? 0 : 1;
  }

  /** The jipam checkout: the launcher's {@code jipam.home}, else the working directory. */
  static Path jipamHome() {
    String home = System.getProperty("jipam.home");
    return Path.of(home != null ? home : ".").toAbsolutePath().normalize();
  }

  static String commandLine(CommandLine cmd) {
    List<String> words = new ArrayList<>(List.of("jipam-bench"));
    words.addAll(cmd.getParseResult().originalArgs());
    return String.join(" ", words);
  }

  @Command(name = "allocator", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Allocator implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    AllocatorScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new AllocatorScenario(options)));
    }
  }

  @Command(name = "plugin", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Plugin implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    PluginScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new PluginScenario(options)));
    }
  }

  @Command(name = "etcd", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Etcd implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    EtcdScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new EtcdScenario(options)));
    }
  }

  @Command(name = "runtime", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class RuntimeCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    RuntimeScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new RuntimeScenario(options)));
    }
  }

  @Command(name = "churn", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Churn implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    ChurnScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new ChurnScenario(options)));
    }
  }

  @Command(name = "all", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class All implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    AllocatorScenario.Options allocator;
    @Mixin
    PluginScenario.Options plugin;
    @Mixin
    EtcdScenario.Options etcd;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new AllocatorScenario(allocator), new PluginScenario(plugin),
          new EtcdScenario(etcd), new ServiceScenario(new ServiceScenario.Options()),
          new ClusterScenario(new ClusterScenario.Options()), new RuntimeScenario(new RuntimeScenario.Options()),
          new ChurnScenario(new ChurnScenario.Options())));
    }
  }

  @Command(name = "service", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Service implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    ServiceScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new ServiceScenario(options)));
    }
  }

  @Command(name = "scale", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Scale implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    io.jipam.bench.scale.ScaleScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new io.jipam.bench.scale.ScaleScenario(options)));
    }
  }

  @Command(name = "cluster", mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class Cluster implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    @Mixin
    ClusterScenario.Options options;

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, List.of(new ClusterScenario(options)));
    }
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(System.err);
    System.err.println();
    System.err.println("jipam-bench: name a scenario");
    return 2;
  }

  /** The command line, with the scenario list in its help. */
  static CommandLine commandLine() {
    CommandLine cmd = new CommandLine(new JipamBench());
    Scenarios.AVAILABLE.forEach((name, what) ->
        cmd.getSubcommands().get(name).getCommandSpec().usageMessage().description(what));
    return cmd;
  }

  public static void main(String[] args) {
    System.setProperty("java.awt.headless", "true");
    int code = commandLine().execute(args);
    System.exit(code);
  }
}
