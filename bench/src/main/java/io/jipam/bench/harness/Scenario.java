package io.jipam.bench.harness;

/**
 * One benchmark scenario: jipam and its peers measured side by side in the same run, so that every
 * comparison is a ratio of figures taken under the same machine noise.
 *
 * <h2>Contract</h2>
 * {@link #run} measures, adds every raw sample to {@link RunContext#results()}, appends its section
 * (tables of medians and ratios, chart links) to {@link RunContext#report()}, draws its charts into
 * {@link RunContext#out()}, and drives {@link RunContext#progress()} through
 * {@link #steps(RunContext)} steps. It is bounded in count and time, uses loopback addresses and
 * temporary directories only, and removes what it created. A subject that cannot run here (a
 * missing peer binary) is skipped with a line in the report saying why, not silently.
 *
 * <h2>Adding a scenario</h2>
 * Implement this interface in the package of what it measures, with a public constructor taking a
 * picocli options class, and add one {@link ScenarioType} entry to the registry, {@code
 * io.jipam.bench.Scenarios}: the subcommand, its {@code --help} line and its place in {@code all}
 * come from there.
 */
public interface Scenario {
  /** The name on the command line, e.g. {@code plugin}. */
  String name();

  /**
   * Checks the scenario's options before anything is created or measured.
   *
   * @throws IllegalArgumentException naming the option and the value when one is invalid
   */
  void validate(boolean quick);

  /** How many progress steps {@link #run} will count, for the time-left estimate. */
  long steps(RunContext context);

  /** Measures and reports. */
  void run(RunContext context) throws Exception;
}
