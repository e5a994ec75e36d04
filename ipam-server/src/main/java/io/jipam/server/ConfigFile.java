package io.jipam.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * jipamd's settings from a YAML file and the environment, under its flags: for every option
 * {@code --some-name} the file's key {@code some-name} and the variable {@code JIPAMD_SOME_NAME}
 * give its value when the flag is not on the command line; a flag beats the environment, which
 * beats the file, which beats the built-in default.
 *
 * <pre>
 * # /etc/jipam/jipamd.yaml
 * socket: /run/jipam/jipam.sock
 * store: etcd
 * etcd-config: /etc/jipam/etcd.json
 * workers: 16
 * </pre>
 *
 * <p>The file is a flat map of scalars; an empty file, or one of comments only, holds no settings.
 * An unknown key, a key given twice, a list or map as a value, or a file that is not YAML (or not
 * UTF-8) fails at start with the key, the value and why (exit 2), as does a value its option
 * cannot take.
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {
  static final String ENV_PREFIX = "JIPAMD_";

  private final Path file;
  private final Map<String, String> values;
  private final Map<String, String> env;

  private ConfigFile(Path file, Map<String, String> values, Map<String, String> env) {
    this.file = file;
    this.values = values;
    this.env = env;
  }

  /** The settings of {@code file} (null: none) checked against the command's options. */
  static ConfigFile load(Path file, CommandSpec spec, Map<String, String> env) {
    Map<String, String> values = new LinkedHashMap<>();
    if (file != null) {
      Object tree;
      try {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory()).enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        String text = readBounded(file);
        if (text.contains("&") || text.contains("*")) {
          refuseAliases(file, text);
        }
        JsonNode node = yaml.readTree(text);
        // empty, or only comments: no settings (readTree gives a missing node or null)
        tree = node == null || node.isMissingNode() || node.isNull() ? null : yaml.treeToValue(node, Object.class);
      } catch (JacksonException e) {
        throw IpamException.invalidConfig("config %s is not valid YAML: %s", file,
            e.getOriginalMessage().replace('\n', ' '));
      } catch (IOException e) {
        throw IpamException.invalidConfig("cannot read config %s: %s", file, IoMessages.describe(e));
      }
      if (tree != null && !(tree instanceof Map<?, ?>)) {
        throw IpamException.invalidConfig("config %s must be a map of settings, not %s", file,
            tree.getClass().getSimpleName());
      }
      if (tree != null) {
        for (Map.Entry<?, ?> e : ((Map<?, ?>) tree).entrySet()) {
          String key = String.valueOf(e.getKey());
          OptionSpec option = spec.findOption("--" + key);
          if (option == null || isMeta(key)) {
            throw IpamException.invalidConfig("config %s: unknown key \"%s\"; keys are the long options of"
                + " jipamd --help without the dashes", file, key);
          }
          Object v = e.getValue();
          if (v instanceof Map<?, ?> || v instanceof List<?>) {
            throw IpamException.invalidConfig("config %s: key \"%s\" must be a single value, not %s", file, key, v);
          }
          values.put(key, v == null ? "" : String.valueOf(v));
        }
      }
    }
    return new ConfigFile(file, values, env);
  }

  /** The most a config file may hold: a settings file is a few hundred bytes. */
  static final int MAX_BYTES = 1 << 20;

  /** The file as text: a regular file (a FIFO would never end) of at most {@link #MAX_BYTES}. */
  private static String readBounded(Path file) throws IOException {
    if (Files.exists(file) && !Files.isDirectory(file) && !Files.isRegularFile(file)) {
      throw IpamException.invalidConfig("config %s is not a regular file", Printable.quote(file.toString()));
    }
    if (Files.isRegularFile(file) && Files.size(file) > MAX_BYTES) {
      throw IpamException.invalidConfig("config %s is larger than %d bytes, jipamd's limit",
          Printable.quote(file.toString()), MAX_BYTES);
    }
    return Files.readString(file);
  }

  /**
   * Refuses YAML anchors and aliases: Jackson gives an alias as the anchor's name (so
   * {@code socket: *st} read as the relative path "st"), and they are how a small file grows to an
   * exponential one. Settings are single values; nothing needs them.
   */
  private static void refuseAliases(Path file, String text) {
    try {
      for (org.yaml.snakeyaml.events.Event e : new org.yaml.snakeyaml.Yaml().parse(new java.io.StringReader(text))) {
        if (e instanceof org.yaml.snakeyaml.events.NodeEvent node && node.getAnchor() != null) {
          throw IpamException.invalidConfig("config %s: YAML anchors and aliases are not taken (line %d)",
              Printable.quote(file.toString()), e.getStartMark().getLine() + 1);
        }
      }
    } catch (org.yaml.snakeyaml.error.YAMLException notYaml) {
      // said by the reader below, with its message
    }
  }

  private static boolean isMeta(String key) {
    return key.equals("config") || key.equals("check-config") || key.equals("help") || key.equals("version");
  }

  static String envName(String key) {
    return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  /** An option that takes no value (a boolean flag). */
  private static boolean isFlag(OptionSpec option) {
    return option.arity().max() == 0;
  }

  /**
   * Sets the flags (boolean options) that the environment or the config file sets true and the
   * command line did not give; a flag on the command line stays set. A flag given a default of true
   * instead was inverted by picocli when given too ({@code insecure: true} plus {@code --insecure}
   * meant false, and {@code --no-socket} with {@code JIPAMD_NO_SOCKET=true} gave a socket).
   *
   * @throws IpamException INVALID_CONFIG naming the source when a value is not true or false
   */
  void applyFlags(CommandSpec spec) {
    for (OptionSpec option : spec.options()) {
      if (!isFlag(option) || !option.longestName().startsWith("--") || isMeta(option.longestName().substring(2))) {
        continue;
      }
      String key = option.longestName().substring(2);
      String raw = env.containsKey(envName(key)) ? env.get(envName(key)) : values.get(key);
      if (raw == null || raw.isEmpty()) {
        continue;
      }
      boolean set = switch (raw.toLowerCase(Locale.ROOT)) {
        case "true" -> true;
        case "false" -> false;
        default -> throw IpamException.invalidConfig("%s: %s is not true or false", source(option),
            Printable.quote(raw));
      };
      if (set) {
        option.setValue(true);
      }
    }
  }

  /** Where the value of an option comes from when its flag is absent, for error messages. */
  String source(OptionSpec option) {
    String key = option.longestName().substring(2);
    if (env.containsKey(envName(key))) {
      return "environment " + envName(key);
    }
    if (values.containsKey(key)) {
      return "config " + file + " key " + key;
    }
    return null;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option) || !option.longestName().startsWith("--")) {
      return null;
    }
    String key = option.longestName().substring(2);
    if (isMeta(key) || isFlag(option)) {
      return null; // a flag's default of true would make the flag given mean false: applyFlags
    }
    String fromEnv = env.get(envName(key));
    if (fromEnv != null) {
      return fromEnv;
    }
    return values.get(key);
  }
}
