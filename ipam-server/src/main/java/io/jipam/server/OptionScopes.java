package io.jipam.server;

import io.jipam.core.IpamException;
import java.util.List;
import java.util.function.Predicate;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Refuses a jipamd option given where it does nothing: a setting that is silently ignored looks
 * applied (an operator who sets {@code --fsync} on an etcd jipamd believes its changes are forced to
 * disk). An option counts as given when it is on the command line, in the config file or in a
 * {@code JIPAMD_*} variable; its default alone is not.
 *
 * <table>
 *   <caption>Options that apply only with another setting</caption>
 *   <tr><th>options</th><th>apply with</th></tr>
 *   <tr><td>{@code --data-dir}, {@code --fsync}</td><td>{@code --store file}</td></tr>
 *   <tr><td>{@code --etcd-config}</td><td>{@code --store etcd}</td></tr>
 *   <tr><td>{@code --remote}, {@code --remote-ca}, {@code --remote-cert}, {@code --remote-key},
 *       {@code --remote-insecure}</td><td>{@code --store remote} ({@code --remote-address}: checked
 *       with the store's settings)</td></tr>
 *   <tr><td>{@code --tls-cert}, {@code --tls-key}, {@code --insecure}</td><td>{@code --listen}
 *       ({@code --client-ca}, {@code --operator-ca}: checked with the TLS settings, they need
 *       {@code --tls-cert})</td></tr>
 *   <tr><td>{@code --socket}</td><td>no {@code --no-socket}</td></tr>
 * </table>
 */
final class OptionScopes {
  private OptionScopes() {}

  /** Options, and the setting they need, as the error names it. */
  private record Scope(List<String> options, String needs, Predicate<Jipamd> applies) {}

  private static final List<Scope> SCOPES = List.of(
      new Scope(List.of("--data-dir", "--fsync"), "--store file", j -> isFileStore(j.store)),
      new Scope(List.of("--etcd-config"), "--store etcd", j -> "etcd".equals(j.store)),
      new Scope(List.of("--remote", "--remote-ca", "--remote-cert", "--remote-key", "--remote-insecure"),
          "--store remote", j -> "remote".equals(j.store)),
      new Scope(List.of("--tls-cert", "--tls-key", "--insecure"), "--listen",
          j -> j.listen != null),
      new Scope(List.of("--socket"), "a unix socket (it is off: --no-socket)", j -> !j.noSocket));

  static boolean isFileStore(String store) {
    return "file".equals(store) || "host-local".equals(store);
  }

  /**
   * @throws IpamException {@code INVALID_CONFIG} naming the first option given that does not apply,
   *     what it needs, and where it was given when not on the command line
   */
  static void check(Jipamd jipamd, CommandSpec spec) {
    for (Scope scope : SCOPES) {
      if (scope.applies().test(jipamd)) {
        continue;
      }
      for (String name : scope.options()) {
        OptionSpec option = spec.findOption(name);
        String source = source(spec, option);
        if (source != null) {
          String store = scope.needs().startsWith("--store") ? "; this jipamd's store is " + jipamd.store : "";
          throw IpamException.invalidConfig("%s%s applies only with %s%s", name, source, scope.needs(), store);
        }
      }
    }
  }

  /**
   * Where an option was given: "" on the command line, " (from ...)" otherwise, null when not
   * given (a flag: not set to true; a value: empty).
   */
  private static String source(CommandSpec spec, OptionSpec option) {
    if (option.type() == boolean.class && !Boolean.TRUE.equals(option.getValue())) {
      return null; // a flag set to false asks for nothing
    }
    if (option.getValue() == null || option.getValue().toString().isEmpty()) {
      return null; // an empty value (a YAML key without one, JIPAMD_X=) sets nothing
    }
    if (spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(option)) {
      return "";
    }
    if (spec.defaultValueProvider() instanceof ConfigFile file && file.source(option) != null) {
      return " (from " + file.source(option) + ")";
    }
    return null;
  }
}
