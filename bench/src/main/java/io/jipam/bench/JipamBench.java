package io.jipam.bench;

import io.jipam.bench.harness.Harness;
import io.jipam.bench.harness.Progress;
import io.jipam.bench.harness.Scenario;
import io.jipam.bench.harness.ScenarioType;
import io.jipam.bench.report.ReportCommand;
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
 * The subcommands come from the registry ({@link Scenarios}): each builds its scenario from its
 * options; {@code all} builds every one the registry puts in it.
 */
@Command(name = "jipam-bench", mixinStandardHelpOptions = true, version = "jipam-bench 0.1.0",
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

  /**
   * One subcommand: the common options, the options of its scenarios as mixins, and the scenarios
   * built from them. A scenario's subcommand runs that scenario; {@code all} runs every scenario the
   * registry puts in it.
   */
  @Command(mixinStandardHelpOptions = true, usageHelpWidth = 100)
  static final class ScenarioCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    Common common;
    private final List<ScenarioType.Bound> scenarios;

    ScenarioCommand(List<ScenarioType.Bound> scenarios) {
      this.scenarios = scenarios;
    }

    @Override
    public Integer call() throws Exception {
      return run(spec.commandLine(), common, scenarios.stream().map(b -> b.scenario().get()).toList());
    }

    /** The subcommand {@code name}; the options of {@code withOptions} are on its command line. */
    static CommandLine of(String name, String description, List<ScenarioType.Bound> scenarios,
        List<ScenarioType.Bound> withOptions) {
      CommandLine.Model.CommandSpec spec = CommandLine.Model.CommandSpec.forAnnotatedObject(new ScenarioCommand(scenarios));
      spec.name(name);
      spec.usageMessage().description(description);
      int i = 0;
      for (ScenarioType.Bound b : withOptions) {
        spec.addMixin("scenario" + i++, CommandLine.Model.CommandSpec.forAnnotatedObject(b.options()));
      }
      return new CommandLine(spec);
    }
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(System.err);
    System.err.println();
    System.err.println("jipam-bench: name a scenario");
    return 2;
  }

  /**
   * The command line: a subcommand per entry of {@link Scenarios#ALL}, then {@code all} and
   * {@code report}. Build a new one per run: the options objects are filled in place.
   */
  static CommandLine commandLine() {
    CommandLine cmd = new CommandLine(new JipamBench());
    List<ScenarioType.Bound> all = new ArrayList<>();
    List<ScenarioType.Bound> allOptions = new ArrayList<>();
    for (ScenarioType<?> type : Scenarios.ALL) {
      ScenarioType.Bound own = type.bind();
      cmd.addSubcommand(type.name(), ScenarioCommand.of(type.name(), type.description(), List.of(own), List.of(own)));
      if (type.inAll() != ScenarioType.InAll.NO) {
        ScenarioType.Bound inAll = type.bind();
        all.add(inAll);
        if (type.inAll() == ScenarioType.InAll.WITH_OPTIONS) {
          allOptions.add(inAll);
        }
      }
    }
    cmd.addSubcommand("all", ScenarioCommand.of("all", Scenarios.ALL_DESCRIPTION, all, allOptions));
    cmd.addSubcommand("report", new ReportCommand());
    return cmd;
  }

  public static void main(String[] args) {
    System.setProperty("java.awt.headless", "true");
    int code = commandLine().execute(args);
    System.exit(code);
  }
}
