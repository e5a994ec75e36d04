package io.jipam.bench.harness;

import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One entry of the scenario registry: what the command line needs to offer a scenario and to build
 * it. {@code JipamBench} turns each entry into a subcommand ({@code name}, {@code description} in
 * {@code --help}, the fields of an {@code options} object as its picocli options) and into its
 * share of {@code all}.
 *
 * @param name the subcommand, e.g. {@code plugin}; also {@link Scenario#name()}
 * @param description one line for {@code jipam-bench --help}
 * @param inAll whether and how {@code all} runs it
 * @param options a fresh options object (a picocli mixin: fields annotated {@code @Option})
 * @param factory the scenario, from options picocli has filled
 * @param <O> the options type
 */
public record ScenarioType<O>(String name, String description, InAll inAll, Supplier<O> options,
    Function<O, Scenario> factory) {

  /** Whether {@code all} runs a scenario, and with which options. */
  public enum InAll {
    /** Run by {@code all}, whose command line takes this scenario's options. */
    WITH_OPTIONS,
    /** Run by {@code all} at its default options (its option names overlap another's). */
    AT_DEFAULTS,
    /** Not part of {@code all}. */
    NO
  }

  public ScenarioType {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(inAll, "inAll");
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(factory, "factory");
  }

  /** A fresh options object and the scenario to be built from it once the command line has filled it. */
  public Bound bind() {
    O o = options.get();
    return new Bound(o, () -> factory.apply(o));
  }

  /**
   * An options object and the scenario built from it.
   *
   * @param options the object picocli fills (a mixin)
   * @param scenario builds the scenario from {@code options} as they are when called
   */
  public record Bound(Object options, Supplier<Scenario> scenario) {}
}
